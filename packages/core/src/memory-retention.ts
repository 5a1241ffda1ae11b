/**
 * Which finished executions the memory store keeps: the most recent, within a count and a
 * bound on their journal entries (see `MemoryStoreOptions`). The store tells it what
 * finishes and what it forgets; it tells the store which slot to forget.
 */
import type { JournalTable, StepTable } from './memory-tables.js';
import { type ExecutionRecord, TERMINAL_EXECUTION_STATUSES } from './types.js';

/**
 * What the store holds of one execution, in one object: one Map entry per execution instead
 * of one in each of several maps (a set and a delete each, per execution, with its id hashed).
 */
export interface Slot {
  execution: ExecutionRecord;
  steps: StepTable | undefined;
  journal: JournalTable | undefined;
  /** Counted among the finished (queued in `FinishedRetention`). */
  finished: boolean;
  /** The idempotency keys that named it (bounded stores only). */
  claims: string[] | undefined;
}

export class FinishedRetention {
  readonly bounded: boolean;
  // The slots in the order their executions finished (a write with a terminal status); the
  // oldest are forgotten past either bound. Slots, not ids: no lookup in a large Map (a
  // cache miss) per execution forgotten.
  private order: (Slot | undefined)[] = [];
  private head = 0;
  /** The journal entries the finished hold now (entries written after the finish count too). */
  private entries = 0;

  constructor(
    private readonly maxFinished: number,
    private readonly maxEntries: number,
    /** Forgets a finished slot that fell past a bound (the store calls `unlink` from it). */
    private readonly evict: (slot: Slot) => void,
  ) {
    this.bounded = maxFinished !== Number.POSITIVE_INFINITY || maxEntries !== Number.POSITIVE_INFINITY;
  }

  /** The slot's execution was written: counted once it is finished, and the oldest evicted. */
  noteWritten(slot: Slot): void {
    if (!this.bounded || slot.finished || !TERMINAL_EXECUTION_STATUSES.has(slot.execution.status)) return;
    slot.finished = true;
    this.entries += slot.journal?.length ?? 0;
    const order = this.order;
    order.push(slot);
    while (
      order.length - this.head > this.maxFinished ||
      (this.entries > this.maxEntries && order.length - this.head > 1)
    ) {
      const old = order[this.head]!;
      // Not kept reachable (with its execution's data) until the queue is compacted.
      order[this.head++] = undefined;
      // Forgotten already (pruned), or no longer counted.
      if (!old.finished) continue;
      if (TERMINAL_EXECUTION_STATUSES.has(old.execution.status)) this.evict(old);
      else {
        // Written again as not finished (never by the engine): no longer counted.
        old.finished = false;
        this.entries -= old.journal?.length ?? 0;
      }
    }
    if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    }
  }

  /** `delta` journal entries were added to (or, negative, trimmed from) the slot's journal. */
  journalChanged(slot: Slot, delta: number): void {
    if (slot.finished) this.entries += delta;
  }

  /** The slot is being forgotten: no longer counted, and its place in the queue is skipped. */
  unlink(slot: Slot): void {
    if (slot.finished) this.entries -= slot.journal?.length ?? 0;
    slot.finished = false;
  }
}
