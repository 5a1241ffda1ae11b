import type { Clock } from '@orchestr8/common';
import type { EngineEvent } from './events.js';
import type { Redactor } from './redaction.js';

/**
 * Journal caps, in UTF-8 bytes of the JSON the store holds (escapes included), so that
 * multi-byte text and control characters count for what they take.
 */
export interface JournalLimits {
  /** Per data field; a larger one is replaced by a `[truncated]` preview that fits. Default 8 KiB. */
  maxFieldBytes: number;
  /** Per execution; the oldest entries are dropped beyond it. Default 10 MiB. */
  maxExecutionBytes: number;
}

export const DEFAULT_JOURNAL_LIMITS: JournalLimits = {
  maxFieldBytes: 8 * 1024,
  maxExecutionBytes: 10 * 1024 * 1024,
};

export const TRUNCATED = '[truncated]';

export interface TruncatedField {
  '[truncated]': true;
  /** UTF-8 bytes of the value's JSON. */
  originalBytes: number;
  /** The start of the value's JSON, cut at a character (and escape) boundary. */
  preview: string;
}

/** The journal of one execution: numbering, caps, redaction. Persistence is the caller's. */
export class Journal {
  seq: number;
  bytes = 0;
  dropped = 0;
  /** Sizes of retained entries, oldest first (for dropping the oldest beyond the cap). */
  private sizes: number[] = [];
  private sizesHead = 0;
  private firstSeq: number;
  /** The monotonic reading entries' `elapsedMs` count from. */
  readonly startMono: number;

  constructor(
    private readonly clock: Clock,
    private readonly limits: JournalLimits,
    private readonly redactor: Redactor,
    startSeq = 0,
    private readonly executionId = '',
    private readonly workflowId = '',
  ) {
    this.seq = startSeq;
    this.firstSeq = startSeq + 1;
    this.startMono = clock.monotonic();
    this.epochBase = clock.now() - this.startMono;
  }

  /** Wall-clock epoch minus monotonic time at the start: one clock read per entry instead of two. */
  private readonly epochBase: number;

  /** The wall-clock time (epoch ms, as entries' `ts`) of a monotonic reading. */
  epochAt(mono: number): number {
    return Math.round(this.epochBase + mono);
  }

  /**
   * Builds the next entry. `data` is an object of fields; each field is redacted, then capped
   * (`maxFieldBytes`), and the entry's size in stored bytes is added to the execution's.
   * `mono`: the clock's monotonic reading the caller already took for this moment.
   */
  entry(
    type: string,
    stepId?: string,
    attempt?: number,
    data?: Record<string, unknown>,
    mono: number = this.clock.monotonic(),
  ): EngineEvent {
    // Types are the engine's, step ids plain ASCII (the schema's pattern): one byte a character.
    let size = ENTRY_BYTES + type.length + (stepId === undefined ? 0 : stepId.length + 2);
    let out: Record<string, unknown> | undefined;
    if (data !== undefined) {
      out = data;
      if (this.redactor.active) out = this.redactor.redact(data) as Record<string, unknown>;
      const max = this.limits.maxFieldBytes;
      size += 2;
      for (const key in out) {
        const value = out[key];
        if (value === undefined) continue;
        // "key": and a comma; the engine's own field names are plain ASCII.
        size += key.length + 4;
        const t = typeof value;
        if (t === 'number') {
          size += numberBytes(value as number);
          continue;
        }
        if (t === 'boolean') {
          size += 5;
          continue;
        }
        // Most fields are small: counted without serialising; only the big ones are serialised.
        const bytes = jsonBytes(value, max);
        if (bytes <= max) {
          size += bytes;
          continue;
        }
        const capped = capField(value, max);
        if (capped.value !== value) {
          if (out === data) out = { ...data };
          out[key] = capped.value;
        }
        size += capped.bytes;
      }
    }
    // Every entry has the same shape (absent fields are undefined) so the hot path stays monomorphic.
    // The entry doubles as the published event (executionId, workflowId): one object, not two.
    const e: EngineEvent = {
      seq: ++this.seq,
      ts: Math.round(this.epochBase + mono),
      elapsedMs: Math.round((mono - this.startMono) * 1000) / 1000,
      type,
      stepId,
      attempt,
      data: out,
      executionId: this.executionId,
      workflowId: this.workflowId,
    };
    this.sizes.push(size);
    this.bytes += size;
    return e;
  }

  /**
   * When over the per-execution cap, drops the oldest entries and returns the first seq
   * still kept (the caller trims the store); otherwise undefined.
   */
  enforceCap(): number | undefined {
    if (this.bytes <= this.limits.maxExecutionBytes) return undefined;
    while (this.bytes > this.limits.maxExecutionBytes && this.sizesHead < this.sizes.length - 1) {
      this.bytes -= this.sizes[this.sizesHead++]!;
      this.firstSeq++;
      this.dropped++;
    }
    if (this.sizesHead > 4096) {
      this.sizes = this.sizes.slice(this.sizesHead);
      this.sizesHead = 0;
    }
    return this.firstSeq;
  }
}

/** An entry's own fields as stored (seq, ts, elapsedMs, attempt, their names, the braces). */
const ENTRY_BYTES = 112;
/**
 * The longest JSON of a number: 17 significant digits after `-0.00000` (`-0.0000010025864491976151`,
 * 25 bytes), one more than `-1.7976931348623157e+308`.
 */
const MAX_NUMBER_BYTES = 25;
/** Replaces a field JSON.stringify cannot write (a cycle, a BigInt). */
export const UNSERIALIZABLE = '[unserializable]';

/** Printable ASCII but `"` and `\`: one byte each in JSON, as in UTF-8. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** Strings up to this length (quotes included) are checked with a loop rather than PLAIN. */
const SHORT = 34;

/**
 * The UTF-8 bytes of a value's JSON (as JSON.stringify writes it: escapes included), or
 * an upper bound of them; past `budget` it stops and returns a number above it. Cheaper
 * than serialising for the small values most fields hold.
 */
export function jsonBytes(value: unknown, budget: number, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return stringBytes(value, budget);
    case 'number':
      return numberBytes(value);
    case 'boolean':
      return 5;
    case 'undefined':
      return 0;
    case 'object': {
      if (value === null) return 4;
      // Deep values and toJSON are left to JSON.stringify itself.
      if (depth > 32 || typeof (value as { toJSON?: unknown }).toJSON === 'function') return budget + 1;
      let size = 1;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const v = value[i];
          // A comma (or the closing bracket); undefined and functions are written as null.
          size +=
            1 + (v === undefined || typeof v === 'function' ? 4 : jsonBytes(v, budget - size, depth + 1));
          if (size > budget) return size;
        }
        return value.length === 0 ? 2 : size;
      }
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        // Left out by JSON.stringify.
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        size += stringBytes(k, budget - size) + 2 + jsonBytes(v, budget - size, depth + 1);
        if (size > budget) return size;
      }
      return size === 1 ? 2 : size;
    }
    default:
      return budget + 1;
  }
}

/** The bytes of a string's JSON: exact within `budget`, a lower bound above it. */
function stringBytes(s: string, budget: number): number {
  const n = s.length + 2;
  // Every UTF-16 unit takes at least one byte: already over, whatever it holds.
  if (n > budget) return n;
  if (n <= SHORT) {
    // Short strings (keys, ids, small values: most of them) are checked inline; a regex
    // call costs more than the loop.
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break;
    }
    if (i === s.length) return n;
  } else if (PLAIN.test(s)) return n;
  let bytes = 2;
  for (let i = 0; i < s.length; i++) {
    const b = unitBytes(s, i);
    if (b === 0) {
      bytes += 4;
      i++;
    } else bytes += b;
  }
  return bytes;
}

/**
 * The bytes JSON.stringify writes for the UTF-16 unit at `i` of `s`; 0 for the high half of
 * a surrogate pair (the pair takes 4 bytes: the caller counts it and skips the low half).
 */
function unitBytes(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0x80) {
    if (c >= 0x20) return c === 0x22 || c === 0x5c ? 2 : 1;
    // \b \t \n \f \r, else \u00XX
    return c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
  }
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdfff) {
    const next = s.charCodeAt(i + 1);
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return 0;
    return 6; // a lone surrogate is written as \udXXX
  }
  return 3;
}

/** Exact for small non-negative integers (counters, indexes), an upper bound for the rest. */
function numberBytes(v: number): number {
  if (v >= 0 && v < 1e6 && (v | 0) === v) {
    return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10_000 ? 4 : v < 100_000 ? 5 : 6;
  }
  return MAX_NUMBER_BYTES;
}

/**
 * A field over the cap: its value as stored (a `[truncated]` preview, or the value itself
 * when only the estimate was over) and its stored bytes. The preview is the start of the
 * value's JSON, cut so that the whole replacement, escaped again, fits `max` bytes; it never
 * splits a character or an escape sequence.
 */
function capField(value: unknown, max: number): { value: unknown; bytes: number } {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return { value: UNSERIALIZABLE, bytes: UNSERIALIZABLE.length + 2 };
  }
  if (json === undefined) return { value, bytes: 0 };
  const originalBytes = Buffer.byteLength(json);
  if (originalBytes <= max) return { value, bytes: originalBytes };
  const capped: TruncatedField = { [TRUNCATED]: true, originalBytes, preview: '' };
  const frame = Buffer.byteLength(JSON.stringify(capped));
  const end = previewEnd(json, max - frame);
  capped.preview = json.slice(0, end);
  return { value: capped, bytes: frame + stringBytes(capped.preview, Infinity) - 2 };
}

/** Where to cut `json` so that its start, written as a JSON string, takes at most `budget` bytes. */
function previewEnd(json: string, budget: number): number {
  let used = 0;
  let i = 0;
  while (i < json.length) {
    let units = 1;
    let cost: number;
    if (json.charCodeAt(i) === 0x5c) {
      // An escape of the value's JSON (\" \\ \n \u00XX ...) stays whole. Escaped again, its
      // backslash takes 2 bytes: \uXXXX takes 7, \" and \\ take 4, \n and the like 3.
      const isUnicode = json.charCodeAt(i + 1) === 0x75;
      units = isUnicode ? 6 : 2;
      cost = isUnicode ? 7 : 2 + unitBytes(json, i + 1);
    } else {
      cost = unitBytes(json, i);
      if (cost === 0) {
        units = 2;
        cost = 4;
      }
    }
    if (used + cost > budget) break;
    used += cost;
    i += units;
  }
  return i;
}
