/**
 * Held steps given back: steps leased by a worker and waiting there for a slot go back to
 * the queue, at once ready for any worker, when they do not start soon (or when the worker
 * stops before they start).
 */
import type { Coordinator } from './coordinator.js';
import type { ExecutionMemory } from './execution-memory.js';
import type { Running } from './leased-steps.js';

/** What giving back held steps needs of the worker that holds them. */
export interface GiveBackHost {
  readonly id: string;
  readonly coordinator: Coordinator;
  readonly memory: ExecutionMemory;
  /** How long a held step may wait to start (WorkerOptions.shortStepMs). */
  readonly shortMs: number;
  /** Every step the worker holds a lease on. */
  readonly active: ReadonlyMap<string, Running>;
  /** Steps a commit on the worker released, waiting for a slot (they start first). */
  readonly released: Running[];
  /** Claimed steps waiting for a slot. */
  readonly waiting: Running[];
  /** When steps started on the worker in the last `shortMs` (performance.now()). */
  readonly starts: number[];
  stopping(): boolean;
  untrack(entry: Running): void;
  report(message: string, error: unknown): void;
}

export class GiveBack {
  /** Held steps given back to the queue unstarted. */
  givenBack = 0;
  private giveBackTimer: NodeJS.Timeout | undefined;

  constructor(private readonly host: GiveBackHost) {}

  /**
   * Held steps (leased, waiting for a slot) are kept only as long as steps start soon: one
   * that has waited `shortMs` goes back to the queue, at once ready for another worker,
   * unless as many steps started here in the last `shortMs` as are ahead of it.
   * Shortness is judged from past steps; the steps holding the slots may be slow.
   */
  giveBackLater(): void {
    if (this.giveBackTimer || this.host.stopping()) return;
    const oldest = Math.min(
      this.host.released[0]?.heldAt ?? Infinity,
      this.host.waiting[0]?.heldAt ?? Infinity,
    );
    if (oldest === Infinity) return;
    // Not sooner than a fifth of it: held steps that stay are looked at again, not polled.
    const short = this.host.shortMs;
    const wait = Math.max(short / 5, oldest + short - performance.now());
    this.giveBackTimer = setTimeout(() => {
      this.giveBackTimer = undefined;
      // As many as started in the last `shortMs` are likely to start in the next: those
      // stay (on a loaded machine short steps start late, yet they do start); the others go.
      const due = performance.now() - short;
      while (this.host.starts.length > 0 && this.host.starts[0]! <= due) this.host.starts.shift();
      let stay = this.host.starts.length;
      this.giveBack((e) => stay-- <= 0 && (e.heldAt ?? 0) <= due);
      this.giveBackLater();
    }, wait);
    this.giveBackTimer.unref();
  }

  /** Returns the held steps `which` picks to the queue, asked in the order they would start. */
  giveBack(which: (e: Running) => boolean): void {
    const back: Running[] = [];
    for (const held of [this.host.released, this.host.waiting]) {
      const kept: Running[] = [];
      for (const e of held) (which(e) ? back : kept).push(e);
      held.splice(0, held.length, ...kept);
    }
    this.givenBack += back.length;
    this.toQueue(back);
  }

  /** Steps leased here and not started, back to the queue at once, ready for any worker. */
  toQueue(back: readonly Running[]): void {
    if (back.length === 0) return;
    for (const e of back) {
      e.abandoned = true;
      this.host.untrack(e);
    }
    for (const id of new Set(back.map((e) => e.claimed.executionId)))
      if (![...this.host.active.values()].some((e) => e.claimed.executionId === id))
        this.host.memory.forgetRecords(id);
    // Should this fail, the leases lapse and a sweep returns the steps to the queue.
    this.host.coordinator.queue
      .release(
        this.host.id,
        back.map((e) => ({ executionId: e.claimed.executionId, stepId: e.claimed.stepId })),
      )
      .catch((error: unknown) => this.host.report('giving back held steps failed', error));
  }

  /** No more looks at held steps: the worker stops. */
  stop(): void {
    clearTimeout(this.giveBackTimer);
  }
}
