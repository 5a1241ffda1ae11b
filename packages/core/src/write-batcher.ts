import type { Store, StoreWrite } from './store.js';
import type { JournalEntry } from './types.js';

interface Batch {
  writes: StoreWrite[];
  promise: Promise<void> | undefined;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function newBatch(): Batch {
  const b = { writes: [] } as unknown as Batch;
  return b;
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
    this.current.writes.push(write);
    this.schedule();
  }

  /** Appends a journal entry, coalescing with the previous journal write of the same execution. */
  addJournal(executionId: string, entry: JournalEntry): void {
    const writes = this.current.writes;
    const last = writes[writes.length - 1];
    if (last !== undefined && last.kind === 'journal' && last.executionId === executionId) {
      (last.entries as JournalEntry[]).push(entry);
    } else {
      writes.push({ kind: 'journal', executionId, entries: [entry] });
    }
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
    if (this.window === 'microtask') queueMicrotask(this.flush);
    else setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const b = this.current;
    if (b.writes.length === 0) return;
    this.current = newBatch();
    this.epoch++;
    const started = this.onFlush ? performance.now() : 0;
    const done = this.store.write(b.writes).then(
      () => {
        if (this.onFlush) this.onFlush(performance.now() - started, b.writes.length);
        b.resolve?.();
      },
      (error: unknown) => {
        if (b.reject) b.reject(error);
        else this.onError(error);
      },
    );
    this.inFlight = done.finally(() => {
      this.inFlight = undefined;
      if (this.current.writes.length > 0) this.schedule();
    });
  };

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
