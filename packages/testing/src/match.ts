import { closest } from '@orchestr8/schema';

/** Where an actual value differs from what a test expects. */
export interface Mismatch {
  /** Dotted path from the compared root, e.g. `outputs.report.items[0]`. */
  path: string;
  expected: unknown;
  actual: unknown;
  message: string;
}

/**
 * Deep partial match: every key of an expected object must match in the actual object
 * (other actual keys are ignored); arrays must have the same length, their items matched
 * the same way; anything else is compared with deep equality.
 */
export function matchPartial(actual: unknown, expected: unknown, path = ''): Mismatch[] {
  const out: Mismatch[] = [];
  walk(actual, expected, path, out);
  return out;
}

function walk(actual: unknown, expected: unknown, path: string, out: Mismatch[]): void {
  if (isPlainObject(expected)) {
    if (!isPlainObject(actual)) {
      out.push({ path, expected, actual, message: `expected an object, got ${describe(actual)}` });
      return;
    }
    for (const [k, v] of Object.entries(expected)) {
      const p = join(path, k);
      if (!(k in actual) && v !== undefined) {
        const guess = closest(
          k,
          Object.keys(actual).filter((a) => !(a in expected)),
        );
        const hint = guess === undefined ? '' : `; did you mean ${short(guess)}?`;
        out.push({
          path: p,
          expected: v,
          actual: undefined,
          message: `missing (expected ${short(v)}${hint})`,
        });
      } else walk(actual[k], v, p, out);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      out.push({ path, expected, actual, message: `expected an array, got ${describe(actual)}` });
      return;
    }
    if (actual.length !== expected.length) {
      out.push({
        path,
        expected,
        actual,
        message: `expected ${expected.length} item${expected.length === 1 ? '' : 's'}, got ${actual.length}`,
      });
      return;
    }
    expected.forEach((v, i) => {
      walk(actual[i], v, `${path}[${i}]`, out);
    });
    return;
  }
  if (!deepEqual(actual, expected)) {
    out.push({ path, expected, actual, message: `expected ${short(expected)}, got ${short(actual)}` });
  }
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string): string {
  const k = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  return path === '' ? k : `${path}.${k}`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array (${short(v)})`;
  return `${typeof v} ${short(v)}`;
}

/** A one-line rendering of a value for messages, cut at `max` characters. */
export function short(v: unknown, max = 80): string {
  const text = v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The part of `actual` that `expected` talks about (the keys it names, recursively), so a
 * diff of the two shows only what the test looks at. An object lacking a key the test names
 * is shown with all its keys: the one the test meant (often a misspelling away) is visible.
 */
export function project(actual: unknown, expected: unknown): unknown {
  if (isPlainObject(expected) && isPlainObject(actual)) {
    const names = Object.keys(expected);
    const keys = names.every((k) => k in actual || expected[k] === undefined) ? names : Object.keys(actual);
    const out: Record<string, unknown> = {};
    for (const k of keys)
      if (k in actual) out[k] = k in expected ? project(actual[k], expected[k]) : actual[k];
    return out;
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    return actual.map((v, i) => project(v, expected[i]));
  }
  return actual;
}

/**
 * A line diff of two values rendered as JSON: `- ` lines are expected, `+ ` lines actual,
 * `  ` lines shared. Meant for failure messages; values are small.
 */
export function diffValues(expected: unknown, actual: unknown): string {
  const a = render(expected);
  const b = render(project(actual, expected));
  // Longest common subsequence over lines; fine for the few hundred lines of a test value.
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out.join('\n');
}

function render(v: unknown): string[] {
  return (v === undefined ? 'undefined' : (JSON.stringify(v, null, 2) ?? String(v))).split('\n');
}
