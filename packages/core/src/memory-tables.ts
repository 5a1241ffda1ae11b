import type { JournalEntry, StepStateRecord } from './types.js';

/**
 * The steps of one execution in the order they were first written. A scan finds a step in a
 * small execution (cheaper than a Map per execution); a Map index is built past 32 steps.
 */
export class StepTable {
  readonly records: StepStateRecord[] = [];
  private index: Map<string, number> | undefined;

  put(step: StepStateRecord): void {
    const records = this.records;
    const i = this.find(step.stepId);
    if (i >= 0) {
      records[i] = step;
      return;
    }
    records.push(step);
    if (this.index !== undefined) this.index.set(step.stepId, records.length - 1);
    else if (records.length > 32) this.index = new Map(records.map((r, j) => [r.stepId, j]));
  }

  private find(stepId: string): number {
    if (this.index !== undefined) return this.index.get(stepId) ?? -1;
    const records = this.records;
    for (let i = records.length - 1; i >= 0; i--) if (records[i]!.stepId === stepId) return i;
    return -1;
  }
}

/**
 * One execution's journal: the entries as the engine wrote them (sorted by seq; an append is a
 * push). Kept as they are: V8 allocates these long-lived objects in the old generation, where
 * the young generation's collections need not copy them (packing them into arrays of numbers
 * and references was tried: more allocation, and more copying).
 */
export class JournalTable {
  readonly entries: JournalEntry[] = [];

  get length(): number {
    return this.entries.length;
  }

  /** Inserts by seq, replacing an entry with the same seq (upsert by primary key). */
  put(entry: JournalEntry): void {
    const journal = this.entries;
    const last = journal[journal.length - 1];
    if (!last || entry.seq > last.seq) {
      journal.push(entry);
      return;
    }
    const i = this.firstIndexAfter(entry.seq - 1);
    if (journal[i]?.seq === entry.seq) journal[i] = entry;
    else journal.splice(i, 0, entry);
  }

  /** Index of the first entry with seq > afterSeq (binary search). */
  firstIndexAfter(afterSeq: number): number {
    const journal = this.entries;
    let lo = 0;
    let hi = journal.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (journal[mid]!.seq > afterSeq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Drops the entries before `beforeSeq`; returns how many. */
  trimBefore(beforeSeq: number): number {
    const k = this.firstIndexAfter(beforeSeq - 1);
    if (k > 0) this.entries.splice(0, k);
    return k;
  }

  /** Entry `i`, with exactly the JournalEntry fields (the engine's also carry event ids). */
  entry(i: number): JournalEntry {
    const e = this.entries[i]!;
    const out: JournalEntry = { seq: e.seq, ts: e.ts, elapsedMs: e.elapsedMs, type: e.type };
    if (e.stepId !== undefined) out.stepId = e.stepId;
    if (e.attempt !== undefined) out.attempt = e.attempt;
    if (e.data !== undefined) out.data = e.data;
    return out;
  }
}
