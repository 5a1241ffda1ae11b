/**
 * One execution's journal as the memory store keeps it: columns, not an object per entry.
 * A long-lived process keeps the journals of its recent executions, and every object kept
 * is one V8's garbage collector copies out of the young generation and traces afterwards;
 * an entry object also holds its `ts` and `elapsedMs` as two boxed numbers. Here the
 * numbers of all entries share one array of unboxed doubles, and the strings and `data`
 * are references the entry already had: some three objects fewer per entry.
 */
import type { JournalEntry } from './types.js';

/** seq, ts, elapsedMs, attempt (NaN when absent). */
const STRIDE = 4;

export class JournalColumns {
  private nums: number[] = [];
  private types: string[] = [];
  private stepIds: (string | undefined)[] = [];
  private data: unknown[] = [];

  get length(): number {
    return this.types.length;
  }

  seqAt(i: number): number {
    return this.nums[i * STRIDE]!;
  }

  /** A new entry object with exactly the JournalEntry fields. */
  entryAt(i: number): JournalEntry {
    const n = this.nums;
    const at = i * STRIDE;
    const out: JournalEntry = { seq: n[at]!, ts: n[at + 1]!, elapsedMs: n[at + 2]!, type: this.types[i]! };
    const stepId = this.stepIds[i];
    if (stepId !== undefined) out.stepId = stepId;
    const attempt = n[at + 3]!;
    if (!Number.isNaN(attempt)) out.attempt = attempt;
    const data = this.data[i];
    if (data !== undefined) out.data = data;
    return out;
  }

  /** Inserts by seq, replacing an entry with the same seq (upsert by primary key). */
  put(e: JournalEntry): void {
    const count = this.length;
    if (count === 0 || e.seq > this.seqAt(count - 1)) {
      // Doubles, not NaN-boxed objects: the array stays one of unboxed numbers.
      this.nums.push(e.seq, e.ts, e.elapsedMs, e.attempt ?? Number.NaN);
      this.types.push(e.type);
      this.stepIds.push(e.stepId);
      this.data.push(e.data);
      return;
    }
    const i = this.firstIndexAfter(e.seq - 1);
    if (i < count && this.seqAt(i) === e.seq) {
      const at = i * STRIDE;
      this.nums[at + 1] = e.ts;
      this.nums[at + 2] = e.elapsedMs;
      this.nums[at + 3] = e.attempt ?? Number.NaN;
      this.types[i] = e.type;
      this.stepIds[i] = e.stepId;
      this.data[i] = e.data;
      return;
    }
    this.nums.splice(i * STRIDE, 0, e.seq, e.ts, e.elapsedMs, e.attempt ?? Number.NaN);
    this.types.splice(i, 0, e.type);
    this.stepIds.splice(i, 0, e.stepId);
    this.data.splice(i, 0, e.data);
  }

  /** Drops the first `n` entries. */
  dropFirst(n: number): void {
    if (n <= 0) return;
    this.nums.splice(0, n * STRIDE);
    this.types.splice(0, n);
    this.stepIds.splice(0, n);
    this.data.splice(0, n);
  }

  /** Index of the first entry with seq > afterSeq (binary search; entries are sorted by seq). */
  firstIndexAfter(afterSeq: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqAt(mid) > afterSeq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
