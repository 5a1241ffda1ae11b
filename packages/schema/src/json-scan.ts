import { escapePointerSegment, toPointer } from './diagnostics.js';

/**
 * A JSON scanner that builds no values: it finds what JSON.parse does not report
 * (duplicate keys, excessive nesting), gives syntax errors an exact offset, and maps JSON
 * pointers back to text offsets. The yaml package reads JSON too (JSON is YAML 1.2), but
 * it is ~100x slower than JSON.parse plus this scan, and loading a 1,000-step document has
 * a 20 ms budget.
 */

export interface JsonIssue {
  code: 'E_PARSE' | 'E_DUPLICATE_KEY' | 'E_TOO_DEEP';
  message: string;
  offset: number;
  pointer: string;
}

export interface NodeOffsets {
  /** Offset of the key, for object members. */
  key?: number;
  value: number;
}

class Stop {
  constructor(readonly issue: JsonIssue) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

function describe(s: string, i: number): string {
  if (i >= s.length) return 'unexpected end of the document';
  const c = s[i]!;
  return `unexpected ${c === '"' ? 'string' : JSON.stringify(c)}`;
}

class Scanner {
  i = 0;
  /** Array indices (>= 0) and object keys as -(offset of the key + 1): no strings on the hot path. */
  readonly path: number[] = [];
  /** Per nesting level, the offsets of the keys seen so far in the current object. */
  private readonly keyStarts: number[][] = [];
  private readonly keyEnds: number[][] = [];
  readonly issues: JsonIssue[] = [];
  readonly found = new Map<string, NodeOffsets>();

  constructor(
    readonly s: string,
    readonly maxDepth: number,
    readonly wanted: ReadonlySet<string> | undefined,
  ) {}

  stop(code: JsonIssue['code'], message: string, offset: number): never {
    throw new Stop({ code, message, offset, pointer: this.pointer() });
  }

  /** The JSON pointer of the current position (cold path: decodes the keys). */
  pointer(): string {
    return toPointer(this.path.map((p) => (p >= 0 ? p : this.keyAt(-p - 1))));
  }

  /** The decoded key whose opening quote is at `offset`. */
  keyAt(offset: number): string {
    const saved = this.i;
    this.i = offset;
    try {
      return this.string();
    } finally {
      this.i = saved;
    }
  }

  /** Whether the raw (still escaped) text of two keys is the same. */
  sameRaw(a: number, aEnd: number, b: number, bEnd: number): boolean {
    if (aEnd - a !== bEnd - b) return false;
    const s = this.s;
    for (let k = 1; k < aEnd - a - 1; k++) if (s.charCodeAt(a + k) !== s.charCodeAt(b + k)) return false;
    return true;
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
    this.i = i;
  }

  /** `ptr` is this node's pointer when it is wanted (locate mode), else null. */
  value(depth: number, ptr: string | null, keyOffset?: number): void {
    this.ws();
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (ptr !== null)
      this.found.set(ptr, keyOffset === undefined ? { value: this.i } : { key: keyOffset, value: this.i });
    switch (c) {
      case 123: // {
        this.object(depth + 1, ptr);
        return;
      case 91: // [
        this.array(depth + 1, ptr);
        return;
      case 34: // "
        this.skipString();
        return;
      case 116:
        this.literal('true');
        return;
      case 102:
        this.literal('false');
        return;
      case 110:
        this.literal('null');
        return;
      default: {
        if (c === 45 || (c >= 48 && c <= 57)) {
          NUMBER.lastIndex = this.i;
          if (NUMBER.exec(s)) {
            this.i = NUMBER.lastIndex;
            return;
          }
        }
        this.stop('E_PARSE', `${describe(s, this.i)}: expected a value`, this.i);
      }
    }
  }

  literal(word: string): void {
    if (!this.s.startsWith(word, this.i))
      this.stop('E_PARSE', `${describe(this.s, this.i)}: expected a value`, this.i);
    this.i += word.length;
  }

  child(ptr: string | null, seg: string | number): string | null {
    if (ptr === null || !this.wanted) return null;
    const p = `${ptr}/${typeof seg === 'number' ? seg : escapePointerSegment(seg)}`;
    return this.wanted.has(p) ? p : null;
  }

  object(depth: number, ptr: string | null): void {
    if (depth > this.maxDepth) this.stop('E_TOO_DEEP', `nesting deeper than ${this.maxDepth} levels`, this.i);
    const s = this.s;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 125) {
      this.i++;
      return;
    }
    // Keys are compared in the text (no strings, no Set) unless they have escapes or the
    // object is large.
    if (!this.keyStarts[depth]) {
      this.keyStarts[depth] = [];
      this.keyEnds[depth] = [];
    }
    const starts = this.keyStarts[depth]!;
    const ends = this.keyEnds[depth]!;
    starts.length = 0;
    ends.length = 0;
    let decoded: Set<string> | undefined;
    const locating = this.wanted !== undefined;
    for (;;) {
      this.ws();
      if (s.charCodeAt(this.i) !== 34)
        this.stop('E_PARSE', `${describe(s, this.i)}: expected a quoted key`, this.i);
      const keyOffset = this.i;
      const escaped = this.skipString();
      const keyEnd = this.i;
      let duplicate = false;
      if (!locating) {
        if (!decoded && (escaped || starts.length >= 32)) {
          decoded = new Set(starts.map((o) => this.keyAt(o)));
        }
        if (decoded) {
          const key = this.keyAt(keyOffset);
          duplicate = decoded.has(key);
          decoded.add(key);
        } else {
          for (let k = 0; k < starts.length; k++)
            if (this.sameRaw(starts[k]!, ends[k]!, keyOffset, keyEnd)) {
              duplicate = true;
              break;
            }
          starts.push(keyOffset);
          ends.push(keyEnd);
        }
      }
      if (duplicate) {
        this.path.push(-keyOffset - 1);
        this.issues.push({
          code: 'E_DUPLICATE_KEY',
          message: `duplicate key "${this.keyAt(keyOffset)}"`,
          offset: keyOffset,
          pointer: this.pointer(),
        });
        this.path.pop();
      }
      this.ws();
      if (s.charCodeAt(this.i) !== 58) this.stop('E_PARSE', `${describe(s, this.i)}: expected ":"`, this.i);
      this.i++;
      this.path.push(-keyOffset - 1);
      this.value(depth, ptr === null ? null : this.child(ptr, this.keyAt(keyOffset)), keyOffset);
      this.path.pop();
      this.ws();
      const c = s.charCodeAt(this.i);
      if (c === 44) {
        this.i++;
        continue;
      }
      if (c === 125) {
        this.i++;
        return;
      }
      this.stop('E_PARSE', `${describe(s, this.i)}: expected "," or "}"`, this.i);
    }
  }

  array(depth: number, ptr: string | null): void {
    if (depth > this.maxDepth) this.stop('E_TOO_DEEP', `nesting deeper than ${this.maxDepth} levels`, this.i);
    const s = this.s;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 93) {
      this.i++;
      return;
    }
    for (let index = 0; ; index++) {
      this.path.push(index);
      this.value(depth, this.child(ptr, index));
      this.path.pop();
      this.ws();
      const c = s.charCodeAt(this.i);
      if (c === 44) {
        this.i++;
        continue;
      }
      if (c === 93) {
        this.i++;
        return;
      }
      this.stop('E_PARSE', `${describe(s, this.i)}: expected "," or "]"`, this.i);
    }
  }

  /**
   * Checks the string at `i` (on the opening quote) without building it; moves past it.
   * Returns whether it has escapes.
   */
  skipString(): boolean {
    const s = this.s;
    let i = this.i + 1;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        this.i = i + 1;
        return escaped;
      }
      if (c === 92) {
        escaped = true;
        const e = s.charCodeAt(i + 1);
        // " \ / b f n r t
        if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116)
          i += 2;
        else if (e === 117 && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) i += 6;
        else this.string(); // reports the exact problem
        continue;
      }
      if (Number.isNaN(c)) this.stop('E_PARSE', 'unterminated string', this.i);
      if (c < 32) this.stop('E_PARSE', 'control character in string (escape it)', i);
      i++;
    }
  }

  /** Reads a string at `i` (on the opening quote) and returns its decoded value. */
  string(): string {
    const s = this.s;
    const start = this.i + 1;
    let i = start;
    // Fast path: no escapes.
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        this.i = i + 1;
        return s.slice(start, i);
      }
      if (c === 92 || Number.isNaN(c) || c < 32) break;
      i++;
    }
    let out = s.slice(start, i);
    for (;;) {
      const c = s.charCodeAt(i);
      if (Number.isNaN(c)) this.stop('E_PARSE', 'unterminated string', this.i);
      if (c < 32) this.stop('E_PARSE', 'control character in string (escape it)', i);
      if (c === 34) {
        this.i = i + 1;
        return out;
      }
      if (c === 92) {
        const e = s[i + 1];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = s.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.stop('E_PARSE', 'invalid \\u escape', i);
            out += String.fromCharCode(Number.parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            this.stop('E_PARSE', `invalid escape "\\${e ?? ''}"`, i);
        }
        i += 2;
      } else {
        out += s[i];
        i++;
      }
    }
  }

  document(): void {
    this.ws();
    if (this.i >= this.s.length) this.stop('E_PARSE', 'empty document', 0);
    this.value(0, this.wanted?.has('') ? '' : null);
    this.ws();
    if (this.i < this.s.length)
      this.stop('E_PARSE', `${describe(this.s, this.i)} after the end of the document`, this.i);
  }
}

/**
 * Checks JSON text: every duplicate key, then the first syntax error or excessive nesting
 * (which end the scan).
 */
export function scanJson(text: string, maxDepth: number): JsonIssue[] {
  const scanner = new Scanner(text, maxDepth, undefined);
  try {
    scanner.document();
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    scanner.issues.push(e.issue);
  }
  return scanner.issues;
}

/**
 * Text offsets of the nodes at `wanted` pointers (which must include every prefix of each
 * pointer, as the walk only descends along wanted paths). With duplicate keys, the last
 * occurrence wins, as in JSON.parse.
 */
export function locateJson(text: string, wanted: ReadonlySet<string>): Map<string, NodeOffsets> {
  const scanner = new Scanner(text, Number.POSITIVE_INFINITY, wanted);
  try {
    scanner.document();
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return scanner.found;
}
