/**
 * One step's run on a worker: its task prepared from the claimed states, fenced against a
 * lease that may have lapsed, run (its progress published meanwhile), and its outcome
 * handed to the commit rounds.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { StepTaskOutcome, StepTaskRunner } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { PostgresStore } from '@orchestr8/store-postgres';
import type { Coordinator } from './coordinator.js';
import type { Running } from './leased-steps.js';
import { ProgressJournal } from './progress-journal.js';
import { stepReads } from './step-reads.js';
import { TaskWaits } from './task-waits.js';

/** What a step's run needs of the worker that runs it. */
export interface RunHost {
  readonly store: PostgresStore;
  readonly runner: StepTaskRunner;
  readonly coordinator: Coordinator;
  readonly progressMs: number;
  /** Commits a step's outcome (see `CommitRounds.commit`). */
  commit(entry: Running, workflow: CompiledWorkflow, outcome: StepTaskOutcome): Promise<void>;
  untrack(entry: Running): void;
  fill(): void;
  report(message: string, error: unknown): void;
}

/** Runs a leased step; `free` frees its slot once its agent returns. */
export async function executeStep(host: RunHost, entry: Running, free: () => void): Promise<void> {
  const t = entry.claimed;
  try {
    const workflow = await host.coordinator.workflows.get(t.execution.definitionHash);
    if (workflow.stepById.get(t.stepId)?.wait !== undefined) entry.waits = new TaskWaits(host.store.waits);
    const task = host.runner.prepare(
      workflow,
      t.execution,
      t.steps,
      t.stepId,
      stepReads(workflow, t.stepId),
      entry.waits,
    );
    entry.task = task;
    if (entry.stop) {
      const cancelled = await task.cancelled(entry.stop.reason);
      entry.finished = true;
      free();
      await host.commit(entry, workflow, cancelled);
      return;
    }
    // Fenced: an agent is not called under a lease that may have lapsed (heartbeats were
    // late): another worker may hold the step by now. Left to the lease, the step runs once.
    if (entry.abandoned) return;
    if (Date.now() >= entry.leaseUntil) {
      host.report(
        `step ${t.stepId} of execution ${t.executionId} not started: its lease may have lapsed`,
        new Orchestr8Error(ErrorCode.CANCELLED, 'lease lapsed before the step started'),
      );
      return;
    }
    const progress = new ProgressJournal(host.coordinator, t, task, host.progressMs, (e) =>
      host.report('publishing the progress of a step failed', e),
    );
    const outcome = await task.run();
    entry.finished = true;
    free();
    const flushed = await progress.stop();
    if (flushed > 0) outcome.journal = outcome.journal.slice(flushed);
    if (!entry.abandoned) await host.commit(entry, workflow, outcome);
  } catch (error) {
    // Left to its lease: once it expires the step runs again (here or elsewhere).
    host.report(`step ${t.stepId} of execution ${t.executionId} could not be run`, error);
  } finally {
    host.untrack(entry);
    host.fill();
  }
}
