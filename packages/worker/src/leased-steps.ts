/**
 * The steps a worker holds a lease on, and the outcomes waiting for their commit: the
 * records the worker's parts (claims, runs, commit rounds, heartbeats) share.
 */
import {
  queueOf,
  type StepStateRecord,
  type StepTask,
  type StepTaskOutcome,
  type StopRecord,
  waitId,
} from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { ClaimedTask, CommitWaits } from '@orchestr8/store-postgres';
import type { TaskWaits } from './task-waits.js';

export interface Running {
  claimed: ClaimedTask;
  task: StepTask | undefined;
  stop: StopRecord | undefined;
  /** Lost its lease, or the worker is shutting down: its outcome is not committed. */
  abandoned: boolean;
  /** Finished running: its lease is still extended until it commits, its progress no longer recorded. */
  finished: boolean;
  /** A wait step's view of the waits: what it registered. */
  waits: TaskWaits | undefined;
  /**
   * Until when (this machine's clock) the lease surely holds: the time the claim, commit or
   * heartbeat that granted it was sent, plus the lease.
   */
  leaseUntil: number;
  /** When it began to wait for a slot (performance.now()), if it did. */
  heldAt: number | undefined;
}

export interface PendingCommit {
  entry: Running;
  workflow: CompiledWorkflow;
  outcome: StepTaskOutcome;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A step record without its payloads: what a remembered state keeps. */
export const light = (s: StepStateRecord): StepStateRecord => ({
  executionId: s.executionId,
  stepId: s.stepId,
  status: s.status,
  attempts: 0,
});

export const TERMINAL_STEP: ReadonlySet<string> = new Set(['completed', 'failed', 'skipped', 'cancelled']);

/** What a batch of commits does to waits: the waits its wait steps registered or took. */
export function commitWaits(
  executionId: string,
  workflow: CompiledWorkflow,
  batch: readonly PendingCommit[],
): CommitWaits | undefined {
  const out: CommitWaits = { put: [], done: [] };
  for (const b of batch) {
    const step = workflow.stepById.get(b.outcome.stepId);
    if (step?.wait === undefined) continue;
    const rec = b.outcome.steps.find((s) => s.stepId === step.id);
    if (rec?.status === 'waiting') {
      for (const w of b.entry.waits?.registered ?? []) out.put.push({ wait: w, queue: queueOf(step) });
    } else if (rec !== undefined && TERMINAL_STEP.has(rec.status)) {
      out.done.push({ stepId: step.id, id: waitId(executionId, step.id) });
    }
  }
  return out.put.length > 0 || out.done.length > 0 ? out : undefined;
}

export const key = (executionId: string, stepId: string) => `${executionId}\u0000${stepId}`;
