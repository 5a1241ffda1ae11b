/**
 * Adopting: handing an execution an in-process engine ran to the workers (it becomes
 * distributed, and its plan is written like a commit's).
 */
import type { CommitPlan, ExecutionRecord } from '@orchestr8/core';
import { notifyPlan, writePlan } from './plan-write.js';
import type { PostgresStore } from './postgres-store.js';
import { EXECUTION_SELECT, STEP_SELECT, toExecution, toStep } from './rows.js';
import { type CommitResult, type LockedExecution, TERMINAL_EXECUTION } from './task-types.js';

/**
 * Hands an execution an in-process engine ran (and died with) to the workers: marks it
 * distributed, then writes the plan `decide` makes from its full state (its journal goes
 * on after its last seq). 'gone' when it is distributed already or finished.
 */
export async function adoptExecution(
  store: PostgresStore,
  executionId: string,
  decide: (locked: LockedExecution) => CommitPlan | undefined,
  deadlineFor: (execution: ExecutionRecord) => number | undefined,
): Promise<CommitResult> {
  const result = await store.transaction(
    'hand an execution to workers',
    async (tx): Promise<CommitResult> => {
      const ex = await tx.query(
        `SELECT ${EXECUTION_SELECT}, distributed FROM executions WHERE id = $1 FOR NO KEY UPDATE`,
        [executionId],
      );
      const row = ex.rows[0];
      const found = row && toExecution(row);
      if (!row || !found || row.distributed || TERMINAL_EXECUTION.has(found.status))
        return { status: 'gone' };
      const now = Date.now();
      const execution: ExecutionRecord = {
        ...found,
        status: 'running',
        statusReason: 'resumed',
        startedAt: found.startedAt ?? found.createdAt,
        updatedAt: now,
      };
      const seq = await tx.query<{ n: number }>(
        'SELECT coalesce(max(seq), 0)::int8 AS n FROM journal WHERE execution_id = $1',
        [executionId],
      );
      const journalSeq = seq.rows[0]?.n ?? 0;
      await tx.query(
        `UPDATE executions SET distributed = true, deadline_at = $2, status = 'running', status_reason = 'resumed',
         started_at = $3, updated_at = $4 WHERE id = $1`,
        [executionId, deadlineFor(execution) ?? null, execution.startedAt, now],
      );
      // Its waits are the workers' now: a wake inserts the step's task.
      await tx.query('UPDATE waits SET distributed = true WHERE execution_id = $1', [executionId]);
      // The in-process engine's deadline wait ('#deadline'): workers keep deadline_at instead.
      await tx.query("DELETE FROM waits WHERE execution_id = $1 AND left(step_id, 1) = '#'", [executionId]);
      const steps = await tx.query(`SELECT ${STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`, [
        executionId,
      ]);
      const locked: LockedExecution = {
        execution,
        finishing: [],
        stop: undefined,
        journalSeq,
        steps: steps.rows.map(toStep),
        full: true,
        tasks: new Map(),
      };
      const plan = decide(locked);
      if (!plan) return { status: 'gone' };
      await writePlan(tx, execution, journalSeq, plan, plan.dropTasks, undefined, 30_000);
      return {
        status: 'committed',
        locked,
        plan,
        lastSeq: journalSeq + plan.journal.length,
        leaseExpiresAt: 0,
      };
    },
  );
  if (result.status === 'committed')
    notifyPlan(store, result.locked.execution, result.locked.journalSeq, result.plan);
  return result;
}
