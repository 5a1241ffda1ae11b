import type { JournalEntry, StepStateRecord } from './types.js';

/**
 * Why a table starts with empty places written out as a literal (16 for steps, 32 for
 * journal entries): a store keeps its tables as long as it keeps the execution, and V8
 * allocates an array literal, elements included, in the old generation once it sees that
 * literal's arrays survive; the elements that growing by push allocates are young, and each
 * young collection copies them again while the store keeps them (`new Array(n)` is not moved
 * to the old generation: measured). A workflow of a dozen steps never grows its tables.
 * W3 on the default store: 1.8 -> 1.1 KB copied out of the young generation per execution.
 */

/**
 * The steps of one execution in the order they were first written. A scan finds a step in a
 * small execution (cheaper than a Map per execution); a Map index is built past 32 steps.
 */
export class StepTable {
  /** The first `length` places hold records; the rest are empty. */
  // biome-ignore format: sixteen places, one line
  private readonly places: (StepStateRecord | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
  private count = 0;

  /** How many places hold records (the store reads it; only the table writes it). */
  get length(): number {
    return this.count;
  }
  private index: Map<string, number> | undefined;

  put(step: StepStateRecord): void {
    const places = this.places;
    const i = this.find(step.stepId);
    if (i >= 0) {
      places[i] = step;
      return;
    }
    const at = this.count++;
    if (at < places.length) places[at] = step;
    else places.push(step);
    if (this.index !== undefined) this.index.set(step.stepId, at);
    else if (this.count > 32) {
      this.index = new Map();
      for (let j = 0; j < this.count; j++) this.index.set(places[j]!.stepId, j);
    }
  }

  /** Shallow copies of the records, in the order they were first written. */
  copies(): StepStateRecord[] {
    const out: StepStateRecord[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = { ...this.places[i]! };
    return out;
  }

  private find(stepId: string): number {
    if (this.index !== undefined) return this.index.get(stepId) ?? -1;
    const places = this.places;
    for (let i = this.count - 1; i >= 0; i--) if (places[i]!.stepId === stepId) return i;
    return -1;
  }
}

/**
 * One execution's journal: the entries as the engine wrote them (sorted by seq; an append
 * fills the next place). Kept as they are: V8 allocates these long-lived objects in the old
 * generation, where the young generation's collections need not copy them (packing them into
 * arrays of numbers and references was tried: more allocation, and more copying).
 */
export class JournalTable {
  /** The first `length` places hold entries; the rest are empty. */
  // biome-ignore format: 32 places, two lines
  private readonly places: (JournalEntry | undefined)[] = [
    undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined,
    undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined,
  ];
  private count = 0;

  /** How many places hold records (the store reads it; only the table writes it). */
  get length(): number {
    return this.count;
  }

  /** Inserts by seq, replacing an entry with the same seq (upsert by primary key). */
  put(entry: JournalEntry): void {
    const places = this.places;
    const n = this.count;
    if (n === 0 || entry.seq > places[n - 1]!.seq) {
      if (n < places.length) places[n] = entry;
      else places.push(entry);
      this.count = n + 1;
      return;
    }
    const i = this.firstIndexAfter(entry.seq - 1);
    if (i < n && places[i]!.seq === entry.seq) places[i] = entry;
    else {
      // Rare (a store written out of order): the empty places go, the entries stay in order.
      places.length = n;
      places.splice(i, 0, entry);
      this.count = n + 1;
    }
  }

  /** Index of the first entry with seq > afterSeq (binary search). */
  firstIndexAfter(afterSeq: number): number {
    const places = this.places;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (places[mid]!.seq > afterSeq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Drops the entries before `beforeSeq`; returns how many. */
  trimBefore(beforeSeq: number): number {
    const k = this.firstIndexAfter(beforeSeq - 1);
    if (k > 0) {
      const places = this.places;
      places.length = this.count;
      places.splice(0, k);
      this.count -= k;
    }
    return k;
  }

  /** Entry `i`, with exactly the JournalEntry fields (the engine's also carry event ids). */
  entry(i: number): JournalEntry {
    const e = this.places[i]!;
    const out: JournalEntry = { seq: e.seq, ts: e.ts, elapsedMs: e.elapsedMs, type: e.type };
    if (e.stepId !== undefined) out.stepId = e.stepId;
    if (e.attempt !== undefined) out.attempt = e.attempt;
    if (e.data !== undefined) out.data = e.data;
    return out;
  }
}
