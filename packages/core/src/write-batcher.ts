import type { Store, StoreWrite } from './store.js';
import type { JournalEntry } from './types.js';

/** Told when the batch a write went into is committed (or failed): no promise per waiter. */
export interface CommitWaiter<T> {
  committed(arg: T): void;
  commitFailed(arg: T, error: unknown): void;
}

type JournalWrite = { kind: 'journal'; executionId: string; entries: JournalEntry[] };

/**
 * A writer's journal write in the current batch, kept by the writer (an execution): its next
 * entries go in the same write while the batch is open, however many other executions
 * journal in between (100 in flight: one write per execution and wave, not one per entry).
 */
export interface JournalWriter {
  journalWrite: JournalWrite | undefined;
  /** The batch (epoch) `journalWrite` belongs to. */
  journalEpoch: number;
}

interface Batch {
  writes: StoreWrite[];
  /** The batch's journal write of the execution that last journalled, to append to. */
  journal: JournalWrite | undefined;
  promise: Promise<void> | undefined;
  resolve: (() => void) | undefined;
  reject: ((e: unknown) => void) | undefined;
  /** Pairs of waiter, argument. */
  waiters: unknown[] | undefined;
}

function newBatch(): Batch {
  return {
    writes: [],
    journal: undefined,
    promise: undefined,
    resolve: undefined,
    reject: undefined,
    waiters: undefined,
  };
}

const RESOLVED = Promise.resolve();

function notify(b: Batch, error: unknown, failed: boolean): void {
  const w = b.waiters;
  if (w === undefined) return;
  for (let i = 0; i < w.length; i += 2) {
    const waiter = w[i] as CommitWaiter<unknown>;
    try {
      if (failed) waiter.commitFailed(w[i + 1], error);
      else waiter.committed(w[i + 1]);
    } catch {
      // a waiter's failure is its own; the others are still told
    }
  }
}

/**
 * Group commit. Writes made during one turn of the event loop (and while the previous
 * batch is being written) go to the store as one `write` call, i.e. one transaction.
 * `barrier()` resolves once everything added so far is durable.
 */
export class WriteBatcher {
  private current: Batch = newBatch();
  /** Increments with every batch; records saved twice in one batch are written once. */
  epoch = 1;
  private inFlight: Promise<void> | undefined;
  private scheduled = false;
  /** Store write latencies are reported here (ms), for metrics. */
  onFlush: ((ms: number, size: number) => void) | undefined;

  /**
   * `microtask`: commit at the end of the current microtask wave (the in-memory store, where
   * a commit costs nothing). `macrotask`: commit on the next turn of the event loop, so a
   * whole wave of completing steps shares one transaction (durable stores).
   */
  constructor(
    private readonly store: Store,
    private readonly window: 'microtask' | 'macrotask' = 'microtask',
  ) {}

  add(write: StoreWrite): void {
    const b = this.current;
    b.writes.push(write);
    // Entries journalled after a trim go in a write after it.
    if (write.kind === 'journalTrim') b.journal = undefined;
    this.schedule();
  }

  /**
   * Appends a journal entry to the batch's journal write of the same execution when it was
   * the last to journal (a step's entries and its record alternate: one write for them, not
   * one per entry). Entries of one execution stay in order; tables are written together.
   */
  addJournal(executionId: string, entry: JournalEntry, writer?: JournalWriter): void {
    if (writer !== undefined && writer.journalEpoch === this.epoch && writer.journalWrite !== undefined) {
      // Its write is in this open batch, which is scheduled already.
      writer.journalWrite.entries.push(entry);
      return;
    }
    const b = this.current;
    let w = b.journal;
    if (w !== undefined && w.executionId === executionId) w.entries.push(entry);
    else {
      w = { kind: 'journal', executionId, entries: [entry] };
      b.writes.push(w);
      b.journal = w;
    }
    if (writer !== undefined) {
      writer.journalWrite = w;
      writer.journalEpoch = this.epoch;
    }
    this.schedule();
  }

  /**
   * Calls `waiter.committed(arg)` once everything added so far is durable (or `commitFailed`).
   * The cheap form of `barrier()` for the hot path: no promise or closure per call.
   */
  afterCommit<T>(waiter: CommitWaiter<T>, arg: T): void {
    const b = this.current;
    if (b.waiters === undefined) b.waiters = [waiter, arg];
    else b.waiters.push(waiter, arg);
    this.schedule();
  }

  barrier(): Promise<void> {
    const b = this.current;
    if (b.writes.length === 0) return this.inFlight ?? Promise.resolve();
    if (b.promise === undefined) {
      b.promise = new Promise<void>((resolve, reject) => {
        b.resolve = resolve;
        b.reject = reject;
      });
    }
    return b.promise;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight !== undefined) return;
    this.scheduled = true;
    // Not queueMicrotask: in Node it wraps every callback in an AsyncResource.
    if (this.window === 'microtask') RESOLVED.then(this.flush);
    else setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const b = this.current;
    if (b.writes.length === 0) {
      // Only waiters, and nothing is in flight (flush never runs while a batch is): all is durable.
      if (b.waiters !== undefined) {
        this.current = newBatch();
        notify(b, undefined, false);
      }
      return;
    }
    this.current = newBatch();
    this.epoch++;
    this.flying = b;
    this.flyingSince = this.onFlush ? performance.now() : 0;
    // Bound once (not closures per flush): at most one batch is in flight.
    this.inFlight = this.store.write(b.writes).then(this.written, this.failed);
  };

  private flying: Batch | undefined;
  private flyingSince = 0;

  private readonly written = (): void => {
    const b = this.flying!;
    this.flying = undefined;
    this.inFlight = undefined;
    if (this.onFlush) this.onFlush(performance.now() - this.flyingSince, b.writes.length);
    b.resolve?.();
    notify(b, undefined, false);
    this.afterFlight();
  };

  private readonly failed = (error: unknown): void => {
    const b = this.flying!;
    this.flying = undefined;
    this.inFlight = undefined;
    if (b.reject) b.reject(error);
    else if (b.waiters === undefined) this.onError(error);
    notify(b, error, true);
    this.afterFlight();
  };

  private afterFlight(): void {
    const c = this.current;
    if (c.writes.length > 0 || c.waiters !== undefined) this.schedule();
  }

  /** Called with a store failure that no barrier was waiting for. */
  onError: (error: unknown) => void = () => {};

  /** Waits until every write added so far is durable. */
  async drain(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (this.current.writes.length === 0 && this.inFlight === undefined) return;
      await (this.current.writes.length > 0 ? this.barrier() : this.inFlight);
    }
  }
}
