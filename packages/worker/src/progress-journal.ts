/**
 * Publishing the journal of a step while it runs: a step still running after `firstMs` has
 * its entries so far (`step.started`, retries) appended to the execution's journal, then
 * again every second, so followers see long steps start. The step's outcome entries are
 * never published early: they commit with its result.
 */
import type { StepTask } from '@orchestr8/core';
import type { ClaimedTask } from '@orchestr8/store-postgres';
import type { Coordinator } from './coordinator.js';

/** Journal entries that end a step: they are committed with its result, never before. */
const OUTCOMES: ReadonlySet<string> = new Set([
  'step.completed',
  'step.failed',
  'step.skipped',
  'step.cancelled',
]);

/** Publishes the journal of a running step while it runs (see `progressMs`). */
export class ProgressJournal {
  private flushed = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly claimed: ClaimedTask,
    private readonly task: StepTask,
    firstMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    if (firstMs > 0) this.timer = setTimeout(() => this.tick(), firstMs);
  }

  private tick(): void {
    if (this.stopped) return;
    this.flush();
    this.timer = setTimeout(() => this.tick(), 1000);
  }

  private flush(): void {
    if (this.inFlight) return;
    const all = this.task.journalSoFar();
    // Up to the step's outcome, never including it: the commit always carries at least that
    // entry, so every commit moves the execution's journal counter (which guards commits).
    let end = this.flushed;
    while (end < all.length && !OUTCOMES.has(all[end]!.type)) end++;
    if (end <= this.flushed) return;
    const startedAt = this.claimed.execution.startedAt ?? this.claimed.execution.createdAt;
    const batch = all
      .slice(this.flushed, end)
      .map((e) => ({ ...e, elapsedMs: Math.max(0, e.ts - startedAt) }));
    this.inFlight = this.coordinator.queue.appendJournal(this.claimed.executionId, batch).then(
      () => {
        this.flushed += batch.length;
        this.inFlight = undefined;
      },
      (error: unknown) => {
        this.inFlight = undefined;
        this.onError(error);
      },
    );
  }

  /** Stops publishing; resolves with how many entries were published (the commit writes the rest). */
  async stop(): Promise<number> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    return this.flushed;
  }
}
