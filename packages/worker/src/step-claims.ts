/**
 * A worker's claims: ready steps leased from the queue, tracked at once, with the states of
 * the steps each one reads (from the finished records known here, or one read).
 */
import type { ClaimedTask } from '@orchestr8/store-postgres';
import type { Coordinator } from './coordinator.js';
import type { ExecutionMemory } from './execution-memory.js';
import type { Running } from './leased-steps.js';
import { stepReads } from './step-reads.js';

/** What a claim needs of the worker that runs the steps. */
export interface ClaimHost {
  readonly id: string;
  readonly queues: readonly string[];
  readonly leaseMs: number;
  readonly concurrency: number;
  readonly coordinator: Coordinator;
  readonly memory: ExecutionMemory;
  /** Whether steps here are short enough to lease more of them than there are free slots. */
  claimsAhead(): boolean;
  /** Holds a leased step (undefined: held already). */
  track(claimed: ClaimedTask, leaseUntil: number): Running | undefined;
  untrack(entry: Running): void;
}

/**
 * Leases ready steps of up to `n` executions and loads the step states each needs. The steps are
 * tracked (their leases extended by heartbeats) from the moment the claim returns, not
 * only once they start: loading a workflow may take long on a loaded machine, and a lease
 * that lapses meanwhile would hand the step to a second worker.
 */
export async function claimSteps(
  host: ClaimHost,
  n: number,
): Promise<{ entries: Running[]; claimed: number }> {
  const queue = host.coordinator.queue;
  const sentAt = Date.now();
  // Up to `n` executions' steps, and, when steps are short, more steps of those (a fan's)
  // up to twice the concurrency: the extra wait here for a slot, leased, and start as
  // slots free, without a claim's round trip in between.
  const ahead = host.claimsAhead() ? host.concurrency : 0;
  const tasks = await queue.claim(host.id, host.queues, n + ahead, host.leaseMs, {
    executions: n,
  });
  const entries: Running[] = [];
  for (const t of tasks) {
    const entry = host.track(t, sentAt + host.leaseMs);
    if (entry) entries.push(entry);
  }
  if (entries.length === 0) return { entries, claimed: tasks.length };
  try {
    for (const e of entries) if (!e.claimed.stop) host.memory.remember(e.claimed.state);
    const workflows = await Promise.all(
      entries.map((e) =>
        host.coordinator.workflows.get(e.claimed.execution.definitionHash).catch(() => undefined),
      ),
    );
    // The claim returned each step's own state; those of the steps it reads come from the
    // finished records known here, or one read.
    const wanted = entries.map((e, i) => {
      const t = e.claimed;
      const records = host.memory.recordsOf(t.executionId);
      const reads = workflows[i] ? stepReads(workflows[i], t.stepId).filter((id) => id !== t.stepId) : [];
      const known = reads.flatMap((id) => records?.get(id) ?? []);
      t.steps = [...t.steps, ...known];
      const knownIds = new Set(known.map((s) => s.stepId));
      return { executionId: t.executionId, stepIds: reads.filter((id) => !knownIds.has(id)) };
    });
    if (wanted.some((w) => w.stepIds.length > 0)) {
      const steps = await queue.stepsOf(wanted.filter((w) => w.stepIds.length > 0));
      entries.forEach(({ claimed: t }, i) => {
        const want = new Set(wanted[i]!.stepIds);
        const read = (steps.get(t.executionId) ?? []).filter((s) => want.has(s.stepId));
        t.steps = [...t.steps, ...read];
        host.memory.keepRecords(t.executionId, read);
      });
    }
  } catch (error) {
    // Left to their leases.
    for (const e of entries) host.untrack(e);
    throw error;
  }
  return { entries, claimed: tasks.length };
}
