import type { Clock } from '@orchestr8/common';
import type { EngineEvent } from './events.js';
import type { Redactor } from './redaction.js';

export interface JournalLimits {
  /** Per data field, in UTF-16 code units of its JSON (~bytes for ASCII). Default 8 KiB. */
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
  originalBytes: number;
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
  private readonly startMono: number;

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
   * Builds the next entry. `data` is an object of fields; each field is capped and redacted.
   * `mono`: the clock's monotonic reading the caller already took for this moment.
   */
  entry(
    type: string,
    stepId?: string,
    attempt?: number,
    data?: Record<string, unknown>,
    mono: number = this.clock.monotonic(),
  ): EngineEvent {
    let size = 64 + type.length;
    let out: Record<string, unknown> | undefined;
    if (data !== undefined) {
      out = data;
      if (this.redactor.active) out = this.redactor.redact(data) as Record<string, unknown>;
      for (const key in out) {
        const value = out[key];
        if (value === undefined) continue;
        const t = typeof value;
        if (t === 'number' || t === 'boolean') {
          size += 8 + key.length;
          continue;
        }
        let json: string;
        // Most fields are small: estimate without serialising, and serialise only the big ones.
        const estimate = estimateJsonSize(value, this.limits.maxFieldBytes);
        if (estimate <= this.limits.maxFieldBytes) {
          size += estimate + key.length + 4;
          continue;
        }
        try {
          json = JSON.stringify(value) ?? '';
        } catch {
          json = String(value);
        }
        if (json.length > this.limits.maxFieldBytes) {
          if (out === data) out = { ...data };
          const capped: TruncatedField = {
            [TRUNCATED]: true,
            originalBytes: Buffer.byteLength(json),
            preview: json.slice(0, this.limits.maxFieldBytes),
          };
          out[key] = capped;
          size += this.limits.maxFieldBytes + 64;
        } else {
          size += json.length + key.length + 4;
        }
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

/**
 * An upper-bound-ish estimate of a value's JSON length that stops as soon as it passes
 * `budget` (returning a value above it). Cheaper than JSON.stringify for small values.
 */
export function estimateJsonSize(value: unknown, budget: number, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return 12;
    case 'boolean':
      return 5;
    case 'undefined':
      return 0;
    case 'object': {
      if (value === null) return 4;
      if (depth > 32) return budget + 1;
      let size = 2;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          size += estimateJsonSize(value[i], budget - size, depth + 1) + 1;
          if (size > budget) return size;
        }
        return size;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return budget + 1;
      for (const k in value) {
        size +=
          k.length + 4 + estimateJsonSize((value as Record<string, unknown>)[k], budget - size, depth + 1);
        if (size > budget) return size;
      }
      return size;
    }
    default:
      return budget + 1;
  }
}
