/**
 * Secret redaction for everything the engine writes or shows: journal entries, events,
 * errors stored on steps, span events, and the step records hosts return.
 *
 * Rules (docs-site/concepts/journal.md, "Redaction"):
 * - a secret value of 4 characters or more is replaced by `[redacted]` wherever it occurs
 *   in a string, object key included, however long the string; overlapping or adjacent
 *   occurrences become one `[redacted]`;
 * - a shorter secret value is replaced only where a whole string (value or key) equals it:
 *   as a substring it would blank out common text, and the pattern would reveal it anyway;
 * - a field whose name is listed as secret (`secretFields`) is replaced whatever its value;
 * - past 64 levels of nesting a subtree is serialised and searched as JSON text; when it
 *   holds a secret (or cannot be serialised) it is replaced whole by `[redacted: too deep]`.
 */
export const REDACTED = '[redacted]';
/** Stands in for a subtree nested deeper than the redactor walks, when it holds a secret. */
export const REDACTED_TOO_DEEP = '[redacted: too deep]';
/** Secrets at least this long are also redacted inside longer strings. */
export const MIN_SUBSTRING_SECRET = 4;
/** Levels walked one by one; below them a subtree is checked as JSON text. */
const MAX_DEPTH = 64;

/**
 * Replaces secrets in data. Returns the input itself when nothing matched (and never
 * mutates it: copies are made along the path to a change), so a workflow without secrets
 * allocates nothing.
 */
export interface Redactor {
  readonly active: boolean;
  redact(value: unknown): unknown;
  /** The same rules for one piece of text (a log line, a span status message). */
  redactText(text: string): string;
}

export const noRedaction: Redactor = { active: false, redact: (v) => v, redactText: (t) => t };

export function createRedactor(
  secretValues: Iterable<string>,
  secretFields: Iterable<string> = [],
): Redactor {
  const unique = [...new Set(secretValues)].filter((v) => typeof v === 'string' && v.length > 0);
  // Longest first: a secret containing another is found whole.
  const long = unique.filter((v) => v.length >= MIN_SUBSTRING_SECRET).sort((a, b) => b.length - a.length);
  const short = new Set(unique.filter((v) => v.length < MIN_SUBSTRING_SECRET));
  const fields = new Set(secretFields);
  if (long.length === 0 && short.size === 0 && fields.size === 0) return noRedaction;
  const minLong = long.length > 0 ? long[long.length - 1]!.length : Number.POSITIVE_INFINITY;
  // What a secret looks like inside JSON text, for subtrees below MAX_DEPTH.
  const jsonNeedles = [
    ...long.map((v) => JSON.stringify(v).slice(1, -1)),
    ...[...short].map((v) => JSON.stringify(v)),
    ...[...fields].map((f) => `${JSON.stringify(f)}:`),
  ];

  const text = (s: string): string => {
    if (short.size > 0 && short.has(s)) return REDACTED;
    if (s.length < minLong) return s;
    return replaceAll(s, long);
  };

  const deep = (value: unknown): unknown => {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      return REDACTED_TOO_DEEP; // a cycle, a BigInt, a stack overflow: nothing safe to show
    }
    if (json === undefined) return value;
    for (const needle of jsonNeedles) if (json.includes(needle)) return REDACTED_TOO_DEEP;
    return value;
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return text(value);
    if (typeof value !== 'object' || value === null) return value;
    if (depth >= MAX_DEPTH) return deep(value);
    // What JSON.stringify would write is what must be checked (a Date, a class with toJSON).
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      let json: unknown;
      try {
        json = toJSON.call(value);
      } catch {
        return REDACTED_TOO_DEEP;
      }
      if (json === value) return value;
      const r = walk(json, depth);
      return r === json ? value : r;
    }
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const r = walk(value[i], depth + 1);
        if (r !== value[i]) {
          copy ??= value.slice();
          copy[i] = r;
        }
      }
      return copy ?? value;
    }
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    let copy: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const v = obj[key];
      const r = fields.has(key) ? REDACTED : walk(v, depth + 1);
      const k = text(key);
      if (copy === undefined) {
        if (r === v && k === key) continue;
        // Rebuilt rather than spread: a renamed key must keep its place.
        copy = {};
        for (let j = 0; j < i; j++) put(copy, keys[j]!, obj[keys[j]!]);
      }
      put(copy, k, r);
    }
    return copy ?? value;
  };

  return { active: true, redact: (v) => walk(v, 0), redactText: text };
}

/** Sets an own property, `__proto__` included (an assignment would change the prototype). */
function put(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  } else o[key] = value;
}

/** `s` with every occurrence of every secret replaced; overlapping ones merge into one marker. */
function replaceAll(s: string, secrets: readonly string[]): string {
  let spans: [number, number][] | undefined;
  for (const v of secrets) {
    for (let i = s.indexOf(v); i !== -1; i = s.indexOf(v, i + 1)) {
      if (spans === undefined) spans = [];
      spans.push([i, i + v.length]);
    }
  }
  if (spans === undefined) return s;
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let from = 0;
  let [start, end] = spans[0]!;
  for (let i = 1; i < spans.length; i++) {
    const [st, en] = spans[i]!;
    if (st <= end) {
      if (en > end) end = en;
      continue;
    }
    out += s.slice(from, start) + REDACTED;
    from = end;
    start = st;
    end = en;
  }
  return out + s.slice(from, start) + REDACTED + s.slice(end);
}

/**
 * The values of a workflow's secrets: the environment variables its `context.secretRefs`
 * name (compiled: name -> variable), and those of `secretEnv`. Unset and empty ones are skipped.
 */
export function secretValuesOf(
  secretRefs: Readonly<Record<string, string>> | undefined,
  env: Readonly<Record<string, string | undefined>>,
  secretEnv: readonly string[] = [],
): string[] {
  const names = new Set<string>(secretEnv);
  for (const name in secretRefs) names.add(secretRefs[name]!);
  const values: string[] = [];
  for (const n of names) {
    const v = env[n];
    if (typeof v === 'string' && v.length > 0) values.push(v);
  }
  return values;
}

/** Adds per-step secret field names (from an agent's `secretFields`) to a redactor. */
export function withSecretFields(
  base: Redactor,
  fields: readonly string[] | undefined,
  values: readonly string[],
): Redactor {
  if (!fields || fields.length === 0) return base;
  return createRedactor(values, fields);
}
