/**
 * The task queue that distributes steps to workers, on the store's own tables.
 *
 * A task is a ready (or running) step of a distributed execution. Workers claim tasks with
 * `FOR UPDATE SKIP LOCKED` (concurrent claimers skip each other's rows instead of waiting,
 * so claiming scales with workers), holding a lease they extend while the step runs. A
 * step's result, the journal, the deletion of its task and the tasks of the steps it
 * releases are written in ONE transaction under the execution's row lock, which is why the
 * queue is ours and not a separate queue library: the queue and the state it drives must
 * commit together. Leases whose worker died expire and return to the queue; the step runs
 * again elsewhere (at-least-once) with the same idempotency key.
 *
 * Lease times come from the database clock, so workers on machines with skewed clocks
 * agree on expiry. NOTIFY wakes idle workers (`tasks`), API instances following an
 * execution (`exec`), and workers running steps of an execution that stops (`stop`).
 */
import { ErrorCode } from '@orchestr8/common';
import type {
  CancelRequest,
  CommitPlan,
  CreateExecutionResult,
  ExecutionRecord,
  IdempotencyClaim,
  JournalEntry,
  StepStateRecord,
  StopRecord,
} from '@orchestr8/core';
import type { PostgresStore } from './postgres-store.js';
import {
  EXECUTION_COLUMNS,
  JOURNAL_COLUMNS,
  journalParams,
  json,
  type Row,
  STEP_COLUMNS,
  STEP_SELECT,
  toExecution,
  toStep,
} from './rows.js';
import { claimTasks } from './task-claim.js';
import { Committer } from './task-commit.js';
import type { BatchItem } from './task-commit-batch.js';
import { extendLeases, reclaimExpiredLeases, releaseTasks } from './task-leases.js';
import { startExecution } from './task-start.js';
import { StartBatcher } from './task-start-batch.js';
import {
  type BatchCommitResult,
  Channel,
  type ClaimedTask,
  type CommitOptions,
  type CommitResult,
  type CommitStats,
  type HeartbeatResult,
  type LockedExecution,
  NOW,
  parseStop,
  type RunningStep,
  type WorkerInfo,
} from './task-types.js';
import {
  beatWorker,
  deleteDeadWorkers,
  readWorkers,
  registerWorker,
  unregisterWorker,
} from './worker-registry.js';

export class TaskQueue {
  private readonly committer: Committer;
  private readonly starts: StartBatcher;

  constructor(readonly store: PostgresStore) {
    this.committer = new Committer(store);
    this.starts = new StartBatcher(store);
  }

  /** How commits went (one round trip, two, or under locks). */
  get stats(): CommitStats {
    return this.committer.stats;
  }

  /**
   * Commits a step's result (or a stop) on a distributed execution: see `Committer.commit`.
   * `finishing` are the tasks whose results this commits; the commit is refused ('lost')
   * when none of them is the owner's any more.
   */
  commit(
    executionId: string,
    finishing: { stepIds: readonly string[]; owner: string } | undefined,
    decide: (locked: LockedExecution) => CommitPlan | undefined,
    options: CommitOptions = {},
  ): Promise<CommitResult> {
    return this.committer.commit(executionId, finishing, decide, options);
  }

  /**
   * Commits the step results of many executions, each planned against the state the caller
   * remembers, in one statement: see `Committer.commitMany`.
   */
  commitMany(items: readonly BatchItem[], owner: string, leaseMs: number): Promise<BatchCommitResult[]> {
    return this.committer.commitMany(items, owner, leaseMs);
  }

  /**
   * Marks a distributed execution `waiting` when nothing of it is left to run: no task, and
   * some step waiting (the journal gets `execution.waiting`). Under the execution's row
   * lock, which a wake takes too before it inserts a task and sets the execution running:
   * either the wake comes first and this sees its task, or this comes first and the wake
   * sees `waiting`. Returns whether it parked the execution.
   */
  async park(executionId: string, entry: (steps: string[]) => Omit<JournalEntry, 'seq'>): Promise<boolean> {
    const done = await this.store.transaction('mark an execution waiting', async (tx) => {
      const ex = await tx.query(
        `SELECT status, stop, journal_seq, workflow_id FROM executions WHERE id = $1 AND distributed
         FOR NO KEY UPDATE`,
        [executionId],
        'o8_park_lock',
      );
      const row = ex.rows[0];
      if (row?.status !== 'running' || row.stop !== null) return undefined;
      const r = await tx.query<{ tasks: number; waiting: string[] | null }>(
        `SELECT (SELECT count(*) FROM tasks WHERE execution_id = $1)::int AS tasks,
           (SELECT array_agg(step_id ORDER BY ord) FROM steps WHERE execution_id = $1 AND status = 'waiting') AS waiting`,
        [executionId],
        'o8_park_read',
      );
      const state = r.rows[0]!;
      if (state.tasks > 0 || !state.waiting || state.waiting.length === 0) return undefined;
      const e = entry(state.waiting);
      const seq = (row.journal_seq as number) + 1;
      await tx.query(
        `WITH j AS (
           INSERT INTO journal (${JOURNAL_COLUMNS.map(([c]) => c).join(', ')})
           VALUES (${JOURNAL_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
         )
         UPDATE executions SET status = 'waiting', status_reason = $${JOURNAL_COLUMNS.length + 1},
           updated_at = $${JOURNAL_COLUMNS.length + 2}, journal_seq = $2 WHERE id = $1`,
        [...journalParams(executionId, { ...e, seq }), `waiting: ${state.waiting.join(', ')}`, e.ts],
        'o8_park',
      );
      return { seq, workflowId: row.workflow_id as string };
    });
    if (!done) return false;
    this.store.notify(Channel.exec, JSON.stringify([executionId, done.seq, done.seq, 0, done.workflowId]));
    return true;
  }

  /** Hands an execution an in-process engine left running to the workers: see `Committer.adopt`. */
  adopt(
    executionId: string,
    decide: (locked: LockedExecution) => CommitPlan | undefined,
    deadlineFor: (execution: ExecutionRecord) => number | undefined,
  ): Promise<CommitResult> {
    return this.committer.adopt(executionId, decide, deadlineFor);
  }

  /**
   * Creates a distributed execution: the execution (and its idempotency claim), its first
   * journal entries and the tasks of its root steps, in one transaction.
   */
  start(
    execution: ExecutionRecord,
    claim: IdempotencyClaim | undefined,
    plan: CommitPlan,
    deadlineAt: number | undefined,
  ): Promise<CreateExecutionResult> {
    return startExecution(this.store, this.starts, execution, claim, plan, deadlineAt);
  }

  /**
   * Leases up to `limit` ready tasks of the given queues, those of older executions first,
   * and of at most `options.executions` executions (default: no other bound): a worker can
   * take many steps of a wide fan at once without starting as many new executions. Tasks of one
   * execution (a fan's steps, say) share what is read of it: its record and its steps'
   * statuses come once, with its first task, not once per task (a claim of k tasks of an
   * execution of n steps reads and sends n statuses, not k·n).
   */
  claim(
    owner: string,
    queues: readonly string[],
    limit: number,
    leaseMs: number,
    options: { executions?: number } = {},
  ): Promise<ClaimedTask[]> {
    return claimTasks(this.store, owner, queues, limit, leaseMs, options);
  }

  /**
   * The statuses of the given executions, and for each that finished its record and steps,
   * in one query (what a follower needs to build its result). Unknown ids are absent.
   */
  async outcomes(
    ids: readonly string[],
  ): Promise<
    Map<string, { status: string; finished?: { execution: ExecutionRecord; steps: StepStateRecord[] } }>
  > {
    const out = new Map<
      string,
      { status: string; finished?: { execution: ExecutionRecord; steps: StepStateRecord[] } }
    >();
    if (ids.length === 0) return out;
    const r = await this.store.query(
      'read execution results',
      `SELECT ${EXECUTION_COLUMNS.map(([col]) => `e.${col}`).join(', ')},
         CASE WHEN e.status IN ('completed', 'failed', 'cancelled') THEN coalesce((
           SELECT json_agg(s ORDER BY s.ord) FROM (SELECT ${STEP_SELECT}, ord FROM steps WHERE execution_id = e.id) s
         ), '[]') END AS steps_json
       FROM executions e WHERE e.id = ANY($1::text[])`,
      [[...new Set(ids)]],
      'o8_outcomes',
    );
    for (const row of r.rows) {
      const steps = row.steps_json as Row[] | null;
      out.set(row.id as string, {
        status: row.status as string,
        ...(steps ? { finished: { execution: toExecution(row), steps: steps.map(toStep) } } : {}),
      });
    }
    return out;
  }

  /** The given steps' states (those that exist), per execution, in first-write order. */
  async stepsOf(
    wanted: readonly { executionId: string; stepIds: readonly string[] }[],
  ): Promise<Map<string, StepStateRecord[]>> {
    const out = new Map<string, StepStateRecord[]>();
    const es: string[] = [];
    const ss: string[] = [];
    for (const w of wanted) {
      for (const id of w.stepIds) {
        es.push(w.executionId);
        ss.push(id);
      }
    }
    if (es.length === 0) return out;
    const r = await this.store.query(
      'read steps',
      `SELECT ${STEP_COLUMNS.map(([c]) => `s.${c}`).join(', ')} FROM steps s
       JOIN unnest($1::text[], $2::text[]) AS x(e, st) ON s.execution_id = x.e AND s.step_id = x.st
       ORDER BY s.ord`,
      [es, ss],
      'o8_steps_of',
    );
    for (const row of r.rows) {
      const s = toStep(row);
      let list = out.get(s.executionId);
      if (!list) {
        list = [];
        out.set(s.executionId, list);
      }
      list.push(s);
    }
    return out;
  }

  /**
   * Extends the leases of the given running steps (this worker's), records their progress
   * (status, attempts: a step re-run after a crash keeps its retry budget), and reports
   * lost tasks, stopping executions and pending cancel requests.
   */
  async heartbeat(
    owner: string,
    leases: readonly { executionId: string; stepId: string }[],
    progress: readonly RunningStep[],
    leaseMs: number,
  ): Promise<HeartbeatResult> {
    const known = await beatWorker(this.store, owner, this.stepsDone);
    if (!known && this.registered) await this.register(this.registered);
    const result: HeartbeatResult = { lost: [], stops: new Map(), cancels: [], known };
    if (leases.length === 0) return result;
    const ids = leases.map((r) => r.executionId);
    result.lost = await extendLeases(this.store, owner, leases, progress, leaseMs);
    const stops = await this.stops(ids);
    for (const [id, s] of stops) result.stops.set(id, s);
    result.cancels = await this.store.pendingCancels(ids.filter((id) => !stops.has(id)));
    return result;
  }

  /** Executions among `ids` that are stopping or finished, with why. */
  async stops(ids: readonly string[]): Promise<Map<string, StopRecord>> {
    const out = new Map<string, StopRecord>();
    if (ids.length === 0) return out;
    const r = await this.store.query(
      'read stops',
      `SELECT id, status, stop FROM executions WHERE id = ANY($1::text[])
       AND (stop IS NOT NULL OR status IN ('completed', 'failed', 'cancelled'))`,
      [[...new Set(ids)]],
      'o8_stops',
    );
    for (const row of r.rows) {
      const stop = parseStop(row.stop) ?? {
        status: row.status === 'completed' ? 'cancelled' : (row.status as 'failed' | 'cancelled'),
        reason: `execution already ${row.status}`,
        error: {
          name: 'Orchestr8Error',
          code: ErrorCode.CANCELLED,
          message: 'execution finished',
          retryable: false,
        },
      };
      out.set(row.id as string, stop);
    }
    return out;
  }

  /**
   * Appends journal entries of a step still running (its `step.started`, retries), numbered
   * after the execution's last seq, and notifies followers: long steps are visible before
   * they finish. Nothing is written once the execution finished.
   */
  async appendJournal(executionId: string, entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const r = await this.store.query(
      'append journal entries',
      `WITH x AS (
         UPDATE executions SET journal_seq = journal_seq + $2
         WHERE id = $1 AND distributed AND status NOT IN ('completed', 'failed', 'cancelled')
         RETURNING journal_seq - $2 AS base, workflow_id
       ), j AS (
         INSERT INTO journal (${JOURNAL_COLUMNS.map(([c]) => c).join(', ')})
         SELECT $1, x.base + t.ord, t.ts, t.elapsed, t.type, t.step, t.attempt, t.data
         FROM x, unnest($3::int8[], $4::float8[], $5::text[], $6::text[], $7::int4[], $8::text[])
           WITH ORDINALITY AS t(ts, elapsed, type, step, attempt, data, ord)
       )
       SELECT x.base, x.workflow_id FROM x`,
      [
        executionId,
        entries.length,
        entries.map((e) => e.ts),
        entries.map((e) => e.elapsedMs),
        entries.map((e) => e.type),
        entries.map((e) => e.stepId ?? null),
        entries.map((e) => e.attempt ?? null),
        entries.map((e) => json(e.data)),
      ],
      'o8_append_journal',
    );
    const row = r.rows[0];
    if (row) {
      const base = row.base as number;
      this.store.notify(
        Channel.exec,
        JSON.stringify([executionId, base + 1, base + entries.length, 0, row.workflow_id]),
      );
    }
  }

  /**
   * Gives back tasks `owner` leased and has not started: they are ready again at once (and
   * idle workers notified), for whichever worker claims them first, without waiting for the
   * lease to lapse. Tasks no longer leased by `owner` are left alone. How many went back.
   */
  release(owner: string, tasks: readonly { executionId: string; stepId: string }[]): Promise<number> {
    return releaseTasks(this.store, owner, tasks);
  }

  /** Returns expired leases to the queue (their workers are gone). How many. */
  reclaimExpired(): Promise<number> {
    return reclaimExpiredLeases(this.store);
  }

  /** Distributed executions with a cancel request not acted on yet. */
  async unhandledCancels(limit = 50): Promise<CancelRequest[]> {
    const r = await this.store.query(
      'read cancel requests',
      `SELECT c.execution_id, c.reason, c.requested_at FROM cancel_requests c
       JOIN executions e ON e.id = c.execution_id
       WHERE e.distributed AND e.stop IS NULL AND e.status NOT IN ('completed', 'failed', 'cancelled')
       ORDER BY c.requested_at LIMIT $1`,
      [limit],
      'o8_unhandled_cancels',
    );
    return r.rows.map((row) => ({
      executionId: row.execution_id as string,
      reason: row.reason as string,
      requestedAt: row.requested_at as number,
    }));
  }

  /** Distributed executions past their global timeout and not stopping yet. */
  async overdue(limit = 50): Promise<{ id: string; definitionHash: string }[]> {
    const r = await this.store.query(
      'read overdue executions',
      // Two parts, each matching one partial index (live, waiting): no scan of every execution.
      `(SELECT id, definition_hash FROM executions
        WHERE distributed AND status IN ('queued', 'running') AND deadline_at < ${NOW} AND stop IS NULL LIMIT $1)
       UNION ALL
       (SELECT id, definition_hash FROM executions
        WHERE distributed AND status = 'waiting' AND deadline_at < ${NOW} AND stop IS NULL LIMIT $1)
       LIMIT $1`,
      [limit],
      'o8_overdue',
    );
    return r.rows.map((row) => ({ id: row.id as string, definitionHash: row.definition_hash as string }));
  }

  // ---- workers ---------------------------------------------------------------------------

  private registered: Omit<WorkerInfo, 'heartbeatAt' | 'running' | 'stepsDone'> | undefined;
  /** Steps this worker committed, shown by `orchestr8 workers`. */
  stepsDone = 0;

  async register(info: Omit<WorkerInfo, 'heartbeatAt' | 'running' | 'stepsDone'>): Promise<void> {
    this.registered = info;
    await registerWorker(this.store, info, this.stepsDone);
  }

  /** Removes a worker that stops, returning the tasks it still holds to the queue. */
  unregister(id: string): Promise<void> {
    return unregisterWorker(this.store, id);
  }

  /** Workers whose last heartbeat is at most `staleMs` old, with the steps they hold. */
  listWorkers(staleMs: number): Promise<WorkerInfo[]> {
    return readWorkers(this.store, staleMs);
  }

  /** Deletes workers silent for longer than `staleMs` (their leases expire on their own). */
  forgetDeadWorkers(staleMs: number): Promise<number> {
    return deleteDeadWorkers(this.store, staleMs);
  }

  /** The ready and leased tasks, by queue (for monitoring). */
  async depth(): Promise<{ queue: string; ready: number; leased: number }[]> {
    const r = await this.store.query(
      'count tasks',
      `SELECT queue, count(*) FILTER (WHERE status = 'ready')::int AS ready,
         count(*) FILTER (WHERE status = 'leased')::int AS leased
       FROM tasks GROUP BY queue ORDER BY queue`,
    );
    return r.rows.map((row) => ({
      queue: row.queue as string,
      ready: row.ready as number,
      leased: row.leased as number,
    }));
  }
}
