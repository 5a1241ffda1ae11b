/**
 * A worker's `concurrency` slots: a step starts in a free one, or waits for one, leased
 * (steps a commit here released first); how long steps hold their slots, on average, says
 * whether steps are short (see `hold-budget.ts`).
 */
import { claimsAhead } from './hold-budget.js';
import type { Running } from './leased-steps.js';

/** What the slots need of the worker that runs the steps. */
export interface SlotHost {
  readonly concurrency: number;
  /** Steps holding a slot less than this on average are short (WorkerOptions.shortStepMs). */
  readonly shortMs: number;
  /** Runs a step; `free` frees its slot once its agent returns. */
  execute(entry: Running, free: () => void): Promise<void>;
  /** Looks for work (a slot is free and no step waits for one). */
  fill(): void;
  /** Returns the held steps `which` picks to the queue. */
  giveBack(which: (e: Running) => boolean): void;
  /** Gives back, in a while, the held steps that do not start soon. */
  giveBackLater(): void;
}

export class StepSlots {
  /** Claimed steps waiting for one of the `concurrency` slots. */
  readonly waiting: Running[] = [];
  /**
   * Steps a commit here released, waiting for a slot: they go before claimed ones, so an
   * execution under way finishes before new ones start (a dependent's start waits on the
   * steps ahead of it, not on every root claimed meanwhile).
   */
  readonly released: Running[] = [];
  runningSteps = 0;
  /**
   * How long a step holds a slot, on average (recent steps weigh more); undefined before the
   * first. Claiming ahead (more steps than free slots) pays only for short steps: steps that
   * take long (an LLM call) would sit leased here while another worker has nothing to do.
   */
  slotMs: number | undefined;
  /** When steps started in the last `shortMs` (performance.now()): how fast they start. */
  readonly starts: number[] = [];

  constructor(private readonly host: SlotHost) {}

  /** Whether steps here are short enough to lease more of them than there are free slots. */
  claimsAhead(): boolean {
    return claimsAhead(this.slotMs, this.host.shortMs);
  }

  begin(entry: Running, released = false): void {
    if (this.runningSteps < this.host.concurrency) {
      this.run(entry);
      return;
    }
    entry.heldAt = performance.now();
    (released ? this.released : this.waiting).push(entry);
    this.host.giveBackLater();
  }

  /**
   * Runs a step in one of the `concurrency` slots. The slot frees when its agent returns,
   * not when its result is committed: a commit waits for a flush of the WAL, and the next
   * step should not wait for it too.
   */
  run(entry: Running): void {
    this.runningSteps++;
    const now = performance.now();
    this.starts.push(now);
    while (this.starts[0]! <= now - this.host.shortMs) this.starts.shift();
    let freed = false;
    const started = performance.now();
    const free = () => {
      if (freed) return;
      freed = true;
      this.runningSteps--;
      const ms = performance.now() - started;
      this.slotMs = this.slotMs === undefined ? ms : this.slotMs * 0.8 + ms * 0.2;
      const next = this.released.shift() ?? this.waiting.shift();
      if (next) this.run(next);
      else this.host.fill();
      // Steps turned out slow: those still held would wait a step's time or more here.
      if (!this.claimsAhead()) this.host.giveBack(() => true);
    };
    void this.host.execute(entry, free).finally(free);
  }
}
