/** Claiming: leasing ready tasks to a worker, with what it needs of their executions. */
import type { StepStateRecord } from '@orchestr8/core';
import type { PostgresStore } from './postgres-store.js';
import { EXECUTION_COLUMNS, type Row, STEP_SELECT, toExecution, toStep } from './rows.js';
import { type ClaimedTask, type ExecutionState, lightSteps, NOW, parseStop } from './task-types.js';

/**
 * Leases up to `limit` ready tasks of the given queues, those of older executions first,
 * and of at most `options.executions` executions (default: no other bound): a worker can
 * take many steps of a wide fan at once without starting as many new executions. Tasks of one
 * execution (a fan's steps, say) share what is read of it: its record and its steps'
 * statuses come once, with its first task, not once per task (a claim of k tasks of an
 * execution of n steps reads and sends n statuses, not k·n).
 */
export async function claimTasks(
  store: PostgresStore,
  owner: string,
  queues: readonly string[],
  limit: number,
  leaseMs: number,
  options: { executions?: number } = {},
): Promise<ClaimedTask[]> {
  const executions = Math.min(limit, options.executions ?? limit);
  if (limit <= 0 || executions <= 0 || queues.length === 0) return [];
  const r = await store.query(
    'claim tasks',
    // One index scan per queue, in (rank, id) order, stopping at the limit: a condition
    // queue = ANY(...) cannot use the index's order and sorts every ready task instead
    // (22 ms per claim with 20,000 queued, against 0.06 ms).
    // Of those, the tasks of the first $6 executions (rows locked and not taken are free
    // again when the statement ends).
    `WITH candidates AS (
       SELECT p.execution_id, p.step_id, p.rank, p.id,
         row_number() OVER (ORDER BY p.rank, p.id) AS pick
       FROM unnest($2::text[]) AS q(name)
       CROSS JOIN LATERAL (
         SELECT execution_id, step_id, rank, id FROM tasks
         WHERE status = 'ready' AND queue = q.name AND available_at <= ${NOW}
         ORDER BY rank, id LIMIT $3 FOR UPDATE SKIP LOCKED
       ) p
       ORDER BY p.rank, p.id LIMIT $3
     ), picked AS (
       -- Executions counted in the order of their first task picked, not by id: among
       -- tasks of equal rank (woken waits' are all 0) the first queued go first.
       SELECT execution_id, step_id, pick, first_pick FROM (
         SELECT y.*, dense_rank() OVER (ORDER BY y.first_pick) AS nth_execution
         FROM (
           SELECT c.execution_id, c.step_id, c.pick,
             min(c.pick) OVER (PARTITION BY c.execution_id) AS first_pick
           FROM candidates c
         ) y
       ) x WHERE nth_execution <= $6
     ), claimed AS (
       UPDATE tasks t SET status = 'leased', lease_owner = $1, lease_expires_at = ${NOW} + $4,
         claims = t.claims + 1
       FROM picked WHERE t.execution_id = picked.execution_id AND t.step_id = picked.step_id
       RETURNING t.execution_id, t.step_id, t.queue, t.claims, t.lease_expires_at, picked.pick,
         picked.first_pick
     ), started AS (
       INSERT INTO steps (execution_id, step_id, status, attempts, started_at)
       SELECT execution_id, step_id, 'running', 0, $5 FROM claimed
       ON CONFLICT (execution_id, step_id) DO UPDATE SET
         status = CASE WHEN steps.status IN ('retrying', 'waiting') THEN steps.status ELSE 'running' END,
         started_at = coalesce(steps.started_at, EXCLUDED.started_at)
       RETURNING ${STEP_SELECT}
     ), states AS (
       SELECT st.execution_id, array_agg(st.step_id ORDER BY st.ord) AS ids,
         array_agg(st.status ORDER BY st.ord) AS statuses
       FROM steps st WHERE st.execution_id IN (SELECT execution_id FROM claimed)
       GROUP BY st.execution_id
     ), rows AS (
       SELECT c.*, row_number() OVER (PARTITION BY c.execution_id ORDER BY c.pick) AS nth
       FROM claimed c
     )
     SELECT c.execution_id AS task_execution_id, c.step_id AS task_step_id, c.queue AS task_queue,
       c.claims AS task_claims, c.lease_expires_at AS task_lease_expires_at, e.stop AS exec_stop,
       row_to_json(s) AS task_step, e.journal_seq AS exec_journal_seq, c.nth = 1 AS exec_first,
       CASE WHEN c.nth = 1 THEN x.ids END AS exec_step_ids,
       CASE WHEN c.nth = 1 THEN x.statuses END AS exec_statuses,
       ${EXECUTION_COLUMNS.map(([col]) => `CASE WHEN c.nth = 1 THEN e.${col} END AS ${col}`).join(', ')}
     FROM rows c JOIN executions e ON e.id = c.execution_id
     JOIN started s ON s.execution_id = c.execution_id AND s.step_id = c.step_id
     LEFT JOIN states x ON x.execution_id = c.execution_id
     -- In the order they were picked (the worker starts them in this order: e.g. woken
     -- timers in due order), each execution's rows together, its first row first.
     ORDER BY c.first_pick, c.nth`,
    [owner, queues, limit, leaseMs, Date.now(), executions],
    'o8_claim_ranked',
  );
  const states = new Map<string, ExecutionState>();
  return r.rows.map((row) => {
    const executionId = row.task_execution_id as string;
    let state = states.get(executionId);
    if (row.exec_first || !state) {
      const execution = toExecution(row);
      state = {
        execution,
        journalSeq: row.exec_journal_seq as number,
        // The claim's own upsert of this step is not visible to the statement that made it:
        // its status here is the one before the claim, which a plan treats the same.
        steps: lightSteps(
          executionId,
          (row.exec_step_ids as string[] | null) ?? [],
          (row.exec_statuses as StepStateRecord['status'][] | null) ?? [],
        ),
      };
      states.set(executionId, state);
    }
    return {
      executionId,
      stepId: row.task_step_id as string,
      queue: row.task_queue as string,
      claims: row.task_claims as number,
      leaseExpiresAt: row.task_lease_expires_at as number,
      execution: state.execution,
      stop: parseStop(row.exec_stop),
      steps: [toStep(row.task_step as Row)],
      state,
    };
  });
}
