/**
 * Leases after the claim: extending those a worker holds while its steps run, giving back
 * tasks it took and did not start, and returning expired leases (their workers are gone) to
 * the queue. Lease times come from the database clock.
 */
import type { PostgresStore } from './postgres-store.js';
import { Channel, leasedAt, NOW, type RunningStep } from './task-types.js';

/**
 * Extends the leases of the given running steps (`owner`'s) and records the progress of
 * those still held (status, attempts: a step re-run after a crash keeps its retry budget).
 * Returns the tasks `owner` no longer holds, in the order given.
 */
export async function extendLeases(
  store: PostgresStore,
  owner: string,
  leases: readonly { executionId: string; stepId: string }[],
  progress: readonly RunningStep[],
  leaseMs: number,
): Promise<{ executionId: string; stepId: string }[]> {
  const lost: { executionId: string; stepId: string }[] = [];
  const ids = leases.map((r) => r.executionId);
  const extended = await store.query(
    'extend leases',
    `WITH l AS (${leasedAt('$1', '$2', '$3')})
     UPDATE tasks t SET lease_expires_at = ${NOW} + $4 FROM l
     WHERE t.execution_id = l.execution_id AND t.step_id = l.step_id
     RETURNING t.execution_id, t.step_id`,
    [owner, ids, leases.map((r) => r.stepId), leaseMs],
    'o8_extend',
  );
  const held = new Set(extended.rows.map((r) => `${r.execution_id}\u0000${r.step_id}`));
  for (const r of leases) {
    if (!held.has(`${r.executionId}\u0000${r.stepId}`))
      lost.push({ executionId: r.executionId, stepId: r.stepId });
  }
  const moved = progress.filter((r) => held.has(`${r.executionId}\u0000${r.stepId}`));
  if (moved.length > 0) {
    await store.query(
      'record step progress',
      `UPDATE steps SET status = x.status, attempts = x.attempts
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[]) AS x(e, s, status, attempts)
       WHERE steps.execution_id = x.e AND steps.step_id = x.s AND steps.status IN ('running', 'retrying')
         AND (steps.status, steps.attempts) IS DISTINCT FROM (x.status, x.attempts)`,
      [
        moved.map((r) => r.executionId),
        moved.map((r) => r.stepId),
        moved.map((r) => (r.status === 'retrying' ? 'retrying' : 'running')),
        moved.map((r) => r.attempts),
      ],
      'o8_progress',
    );
  }
  return lost;
}

/**
 * Gives back tasks `owner` leased and has not started: they are ready again at once (and
 * idle workers notified), for whichever worker claims them first, without waiting for the
 * lease to lapse. Tasks no longer leased by `owner` are left alone. How many went back.
 * Their claim is not counted: they never started (`claims` tells of holders lost).
 */
export async function releaseTasks(
  store: PostgresStore,
  owner: string,
  tasks: readonly { executionId: string; stepId: string }[],
): Promise<number> {
  if (tasks.length === 0) return 0;
  const r = await store.query(
    'give back leased tasks',
    `WITH r AS (
       UPDATE tasks SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL,
         claims = greatest(claims - 1, 0)
       WHERE (execution_id, step_id) IN (${leasedAt('$1', '$2', '$3')})
       RETURNING queue
     )
     SELECT queue FROM r`,
    [owner, tasks.map((t) => t.executionId), tasks.map((t) => t.stepId)],
    'o8_release',
  );
  for (const q of new Set(r.rows.map((row) => row.queue as string))) store.notify(Channel.tasks, q);
  return r.rows.length;
}

/** Returns expired leases to the queue (their workers are gone). How many. */
export async function reclaimExpiredLeases(store: PostgresStore): Promise<number> {
  const r = await store.query(
    'reclaim expired leases',
    `WITH r AS (
       UPDATE tasks SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL
       WHERE (execution_id, step_id) IN (
         SELECT execution_id, step_id FROM tasks WHERE status = 'leased' AND lease_expires_at < (SELECT ${NOW})
         ORDER BY execution_id, step_id FOR UPDATE SKIP LOCKED)
       RETURNING queue
     )
     SELECT queue FROM r`,
    [],
    'o8_reclaim',
  );
  for (const q of new Set(r.rows.map((row) => row.queue as string))) store.notify(Channel.tasks, q);
  return r.rows.length;
}
