/**
 * Paths into JSON values (template refs, expression names, output.capture). Lookups read
 * own properties only and never `__proto__`, `constructor` or `prototype`: documents are
 * untrusted, and a path must not reach into the prototype chain.
 */
export type PathSegment = string | number;

export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: PathSegment): boolean {
  return typeof key === 'string' && FORBIDDEN_KEYS.has(key);
}

/** Follows `path` through own properties; `undefined` as soon as a segment is missing. Never throws. */
export function lookupPath(root: unknown, path: readonly PathSegment[]): unknown {
  let cur = root;
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const seg = path[i]!;
    if (typeof seg === 'number') {
      if (Array.isArray(cur)) {
        if (seg < 0 || seg >= cur.length) return undefined;
        cur = cur[seg];
        continue;
      }
      const key = String(seg);
      if (!Object.hasOwn(cur, key)) return undefined;
      cur = (cur as Record<string, unknown>)[key];
    } else {
      if (FORBIDDEN_KEYS.has(seg) || !Object.hasOwn(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

const INDEX = /^(?:0|[1-9][0-9]*)$/;

/** `"7"` -> 7, `"a"` -> "a": dotted numeric segments index arrays (`items.0`). */
export function segmentOf(text: string): PathSegment {
  const c = text.charCodeAt(0);
  return c >= 48 && c <= 57 && text.length < 16 && INDEX.test(text) ? Number(text) : text;
}

export interface PathParse {
  segments: PathSegment[];
  /** Offset just after the path. */
  end: number;
  error?: { message: string; offset: number };
}

function readName(s: string, pos: number): number {
  let i = pos;
  for (;;) {
    const c = s.charCodeAt(i);
    // [A-Za-z0-9_$-]
    if (
      (c >= 97 && c <= 122) ||
      (c >= 65 && c <= 90) ||
      (c >= 48 && c <= 57) ||
      c === 95 ||
      c === 36 ||
      c === 45
    )
      i++;
    else return i;
  }
}

/**
 * Reads `.name`, `.0`, `[0]` and `["quoted key"]` segments from `pos` until something
 * else. With `leading`, the path may start with a bare name (`data.items[0]`).
 */
export function readPath(s: string, pos: number, leading = false): PathParse {
  const segments: PathSegment[] = [];
  let i = pos;
  if (leading && i < s.length && s[i] !== '[') {
    const end = readName(s, i);
    if (end === i) return { segments, end: i, error: { message: `unexpected "${s[i]}" in path`, offset: i } };
    segments.push(segmentOf(s.slice(i, end)));
    i = end;
  }
  while (i < s.length) {
    const c = s[i];
    if (c === '.') {
      const end = readName(s, i + 1);
      if (end === i + 1)
        return { segments, end: i, error: { message: 'expected a name after "."', offset: i } };
      segments.push(segmentOf(s.slice(i + 1, end)));
      i = end;
    } else if (c === '[') {
      let j = i + 1;
      while (s[j] === ' ') j++;
      if (s[j] === '"' || s[j] === "'") {
        const quote = s[j]!;
        let k = j + 1;
        let key = '';
        while (k < s.length && s[k] !== quote) {
          if (s[k] === '\\' && k + 1 < s.length) k++;
          key += s[k];
          k++;
        }
        if (k >= s.length)
          return { segments, end: i, error: { message: 'unterminated quoted key', offset: j } };
        segments.push(key);
        j = k + 1;
      } else {
        let k = j;
        while (k < s.length && s[k]! >= '0' && s[k]! <= '9') k++;
        if (k === j || !INDEX.test(s.slice(j, k)))
          return {
            segments,
            end: i,
            error: { message: 'expected an array index or a quoted key in "[...]"', offset: j },
          };
        segments.push(Number(s.slice(j, k)));
        j = k;
      }
      while (s[j] === ' ') j++;
      if (s[j] !== ']') return { segments, end: i, error: { message: 'expected "]"', offset: j } };
      i = j + 1;
    } else {
      break;
    }
  }
  return { segments, end: i };
}

/** `output.capture`: a whole string that is a path, e.g. `data.items[0]`. */
export function parseCapturePath(text: string): { segments: PathSegment[] } | { error: string } {
  const r = readPath(text, 0, true);
  if (r.error) return { error: r.error.message };
  if (r.end !== text.length) return { error: `unexpected "${text[r.end]}" at ${r.end + 1}` };
  return { segments: r.segments };
}

/** `items[0].name` from `['items', 0, 'name']`, for messages. */
export function formatPath(path: readonly PathSegment[], leadingDot = true): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(seg)) out += out || leadingDot ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
