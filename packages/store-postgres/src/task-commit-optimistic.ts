/**
 * Optimistic commits: planning against a known state of the execution (remembered by the
 * worker, or read in one statement) and writing the plan in one guarded statement, without
 * holding the execution's row lock while planning.
 */
import type { CommitPlan, StepStateRecord } from '@orchestr8/core';
import { pgCode, SqlState } from './errors.js';
import { heldWaits, notifyPlan, writePlan } from './plan-write.js';
import type { PostgresStore } from './postgres-store.js';
import { EXECUTION_SELECT, type Row, STEP_SELECT, toExecution, toStep } from './rows.js';
import {
  type CommitResult,
  type CommitStats,
  type CommitWaits,
  type ExecutionState,
  type LockedExecution,
  lightSteps,
  TERMINAL_EXECUTION,
} from './task-types.js';

/**
 * The common case in two round trips, holding the execution's row lock only for the
 * write: one statement reads the execution, the committed tasks and the step statuses (one
 * snapshot), the plan is made, one guarded statement writes it. Returns undefined when the
 * guard fails (another commit of the execution came first) or the case is not common
 * (stopping, finishing, a task lost): the caller then commits under locks.
 */
export async function commitOptimistically(
  store: PostgresStore,
  stats: CommitStats,
  executionId: string,
  finishing: { stepIds: readonly string[]; owner: string },
  decide: (locked: LockedExecution) => CommitPlan | undefined,
  leaseMs: number,
  waits: CommitWaits | undefined,
): Promise<CommitResult | undefined> {
  const r = await store.query(
    'read an execution for a commit',
    `SELECT
       (SELECT row_to_json(e) FROM (
          SELECT ${EXECUTION_SELECT}, distributed, journal_seq, stop FROM executions WHERE id = $1) e) AS execution,
       (SELECT json_agg(t) FROM (
          SELECT step_id, status, lease_owner FROM tasks WHERE execution_id = $1 AND step_id = ANY($2::text[])) t) AS mine,
       (SELECT array_agg(step_id ORDER BY ord) FROM steps WHERE execution_id = $1) AS step_ids,
       (SELECT array_agg(status ORDER BY ord) FROM steps WHERE execution_id = $1) AS statuses`,
    [executionId, finishing.stepIds],
    'o8_commit_read',
  );
  const row = r.rows[0] as {
    execution: Row | null;
    mine: Row[] | null;
    step_ids: string[] | null;
    statuses: StepStateRecord['status'][] | null;
  };
  const ex = row.execution;
  if (!ex?.distributed || ex.stop !== null || TERMINAL_EXECUTION.has(ex.status as string)) return undefined;
  const held = (row.mine ?? [])
    .filter((t) => t.status === 'leased' && t.lease_owner === finishing.owner)
    .map((t) => t.step_id as string);
  if (held.length < finishing.stepIds.length) return undefined;
  return commitGuarded(
    store,
    stats,
    {
      execution: toExecution(ex),
      journalSeq: ex.journal_seq as number,
      steps: lightSteps(executionId, row.step_ids ?? [], row.statuses ?? []),
    },
    finishing,
    decide,
    leaseMs,
    waits,
  );
}

/**
 * Plans against a known state of the execution (read just now, or remembered by the
 * worker from its last commit of it) and writes the plan in one guarded statement.
 * Undefined when the guard fails or the plan is not a common one.
 */
export async function commitGuarded(
  store: PostgresStore,
  stats: CommitStats,
  known: ExecutionState,
  finishing: { stepIds: readonly string[]; owner: string },
  decide: (locked: LockedExecution) => CommitPlan | undefined,
  leaseMs: number,
  waits: CommitWaits | undefined,
): Promise<CommitResult | undefined> {
  const executionId = known.execution.id;
  const held = [...finishing.stepIds];
  // Statuses are what releasing steps decides on (attempts etc. matter only when stopping).
  const locked: LockedExecution = {
    execution: known.execution,
    finishing: held,
    stop: undefined,
    journalSeq: known.journalSeq,
    steps: known.steps,
    full: false,
    tasks: new Map(),
  };
  let plan = decide(locked);
  if (plan?.finished) {
    // Finishing renders the outputs: plan again with them. The guard below still holds the
    // plan to the state the first plan was made on.
    const full = await store.query(
      'read steps',
      `SELECT ${STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`,
      [executionId],
      'o8_get_steps',
    );
    locked.steps = full.rows.map(toStep);
    locked.full = true;
    plan = decide(locked);
  }
  if (!plan || plan.stop || plan.dropTasks.length > 0 || plan.journal.length === 0) return undefined;
  try {
    const w = await writePlan(
      { query: (text, values, name) => store.query('commit a step', text, values, name) },
      locked.execution,
      locked.journalSeq,
      plan,
      held,
      finishing.owner,
      leaseMs,
      { held },
      waits && heldWaits(waits, held, plan),
    );
    notifyPlan(store, locked.execution, locked.journalSeq, plan);
    return {
      status: 'committed',
      locked,
      plan,
      lastSeq: locked.journalSeq + plan.journal.length,
      leaseExpiresAt: (w.rows[0]?.lease_expires_at as number | undefined) ?? 0,
    };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    if (pgCode(cause) === SqlState.serializationFailure || pgCode(cause) === SqlState.foreignKeyViolation) {
      stats.conflicts++;
      return undefined;
    }
    throw error;
  }
}
