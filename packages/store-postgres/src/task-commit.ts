/**
 * Committing a step's result on a distributed execution: the result, its journal, the
 * deletion of its task and the tasks of the steps it releases in one transaction, planned
 * by the caller (`decide`) against the execution's state.
 *
 * Three ways, cheapest first. With a state the caller remembers from its last commit of the
 * execution, one guarded statement (one round trip). Else one statement reads the state and
 * one guarded statement writes (two). The guard checks that the execution's journal counter
 * (which every commit moves) and the committed tasks' leases are as planned on, and writes
 * nothing otherwise. When a guard fails (another commit of the execution came first), or
 * the execution stops, the commit runs under the execution's row lock.
 *
 * Locks: a commit takes its execution's row (NO KEY UPDATE), then task rows, then step
 * rows. Statements that lock several task rows take them in (execution_id, step_id) order,
 * so a worker's heartbeat and its own commits never deadlock; reclaiming and claiming skip
 * locked rows instead of waiting.
 */
import type { CommitPlan, ExecutionRecord, JournalEntry, StepStateRecord, TaskState } from '@orchestr8/core';
import type { Tx } from './database.js';
import { pgCode, SqlState } from './errors.js';
import type { PostgresStore } from './postgres-store.js';
import { INSERT_WAIT_KEYS, WAIT_COLUMNS, waitKeysJson } from './postgres-waits.js';
import {
  EXECUTION_COLUMNS,
  EXECUTION_SELECT,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  type Row,
  STEP_COLUMNS,
  STEP_SELECT,
  stepParams,
  toColumns,
  toExecution,
  toStep,
  unnestInsert,
  upsertClause,
} from './rows.js';
import { type BatchItem, commitBatch } from './task-commit-batch.js';
import {
  Channel,
  type CommitResult,
  type CommitStats,
  type CommitWaits,
  type ExecutionState,
  LIGHT_STEP_SELECT,
  type LockedExecution,
  lightSteps,
  NOW,
  parseStop,
  TERMINAL_EXECUTION,
} from './task-types.js';

/** The commit's waits of the steps it holds: puts only for steps the plan leaves waiting. */
function heldWaits(waits: CommitWaits, held: readonly string[], plan: CommitPlan): CommitWaits | undefined {
  const mine = new Set(held);
  const waiting = new Set(plan.steps.filter((s) => s.status === 'waiting').map((s) => s.stepId));
  const put = waits.put.filter((p) => mine.has(p.wait.stepId) && waiting.has(p.wait.stepId));
  const done = waits.done.filter((d) => mine.has(d.stepId));
  return put.length > 0 || done.length > 0 ? { put, done } : undefined;
}

export class Committer {
  readonly stats: CommitStats = { remembered: 0, read: 0, locked: 0, conflicts: 0 };

  constructor(private readonly store: PostgresStore) {}

  /**
   * Locks the execution, reads its state, asks `decide` for the plan and writes it: step
   * records, journal entries (numbered after the execution's last seq), the committed
   * task's deletion, new tasks (some leased at once by `finishing.owner`), the stop, the
   * finished execution record, and the notifications. `finishing` is the task whose result
   * this commits; the commit is refused ('lost') unless its lease is still the owner's.
   */
  async commit(
    executionId: string,
    finishing: { stepIds: readonly string[]; owner: string } | undefined,
    decide: (locked: LockedExecution) => CommitPlan | undefined,
    options: { leaseMs?: number; withTasks?: boolean; known?: ExecutionState; waits?: CommitWaits } = {},
  ): Promise<CommitResult> {
    const leaseMs = options.leaseMs ?? 30_000;
    const waits = options.waits;
    if (!options.withTasks && finishing) {
      // Cheapest first: the state the caller remembers (one round trip), then a fresh read
      // (two), then under locks.
      const remembered =
        options.known && (await this.commitGuarded(options.known, finishing, decide, leaseMs, waits));
      if (remembered) {
        this.stats.remembered++;
        return remembered;
      }
      const read = await this.commitOptimistically(executionId, finishing, decide, leaseMs, waits);
      if (read) {
        this.stats.read++;
        return read;
      }
    }
    this.stats.locked++;
    const result = await this.store.transaction('commit a step', async (tx): Promise<CommitResult> => {
      // NO KEY UPDATE, not UPDATE: it serialises commits of one execution but not the
      // foreign-key checks (KEY SHARE) of a concurrent claim inserting that execution's step
      // rows; with FOR UPDATE the two would deadlock over the task rows the claim holds.
      const ex = await tx.query(
        `SELECT ${EXECUTION_SELECT}, distributed, journal_seq, stop FROM executions WHERE id = $1 FOR NO KEY UPDATE`,
        [executionId],
        'o8_lock_execution',
      );
      const row = ex.rows[0];
      const held: string[] = [];
      if (finishing) {
        const mine = await tx.query(
          `SELECT step_id, status, lease_owner FROM tasks WHERE execution_id = $1 AND step_id = ANY($2::text[])
           ORDER BY step_id FOR UPDATE`,
          [executionId, finishing.stepIds],
          'o8_lock_my_tasks',
        );
        for (const t of mine.rows) {
          if (t.status === 'leased' && t.lease_owner === finishing.owner) held.push(t.step_id as string);
        }
        if (held.length === 0) return { status: 'lost' as const };
      }
      const execution = row && toExecution(row);
      if (!row || !execution || !row.distributed || TERMINAL_EXECUTION.has(execution.status)) {
        if (held.length > 0) {
          await tx.query('DELETE FROM tasks WHERE execution_id = $1 AND step_id = ANY($2::text[])', [
            executionId,
            held,
          ]);
        }
        return { status: 'gone' as const };
      }
      const stop = parseStop(row.stop);
      const tasks = new Map<string, TaskState>();
      if (options.withTasks || stop) {
        const taskRows = await tx.query(
          'SELECT step_id, status FROM tasks WHERE execution_id = $1 ORDER BY step_id FOR UPDATE',
          [executionId],
          'o8_lock_tasks',
        );
        // Tasks of this worker whose leases it lost are someone else's now: they count as running.
        const committing = new Set(held);
        for (const t of taskRows.rows) {
          if (!committing.has(t.step_id as string)) tasks.set(t.step_id as string, t.status as TaskState);
        }
      }
      const readSteps = async (full: boolean) =>
        (
          await tx.query(
            full
              ? `SELECT ${STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`
              : `SELECT ${LIGHT_STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`,
            [executionId],
            full ? 'o8_get_steps' : 'o8_get_light_steps',
          )
        ).rows.map(toStep);
      const locked: LockedExecution = {
        execution,
        finishing: held,
        stop,
        journalSeq: row.journal_seq as number,
        steps: await readSteps(false),
        full: false,
        tasks,
      };
      let plan = decide(locked);
      if (plan?.finished) {
        // Finishing renders the outputs: plan again with the steps' outputs.
        locked.steps = await readSteps(true);
        locked.full = true;
        plan = decide(locked);
      }
      if (!plan) return { status: 'gone' as const };
      const dropped = [...plan.dropTasks, ...held];
      const lastSeq = locked.journalSeq + plan.journal.length;
      const r = await this.writePlan(
        tx,
        execution,
        locked.journalSeq,
        plan,
        dropped,
        finishing?.owner,
        leaseMs,
        undefined,
        waits && heldWaits(waits, held, plan),
      );
      return {
        status: 'committed' as const,
        locked,
        plan,
        lastSeq,
        leaseExpiresAt: (r.rows[0]?.lease_expires_at as number | undefined) ?? 0,
      };
    });
    if (result.status === 'committed')
      this.notifyPlan(result.locked.execution, result.locked.journalSeq, result.plan);
    return result;
  }

  /**
   * Commits the step results of many executions in one guarded statement (see
   * task-commit-batch.ts). Per item: its result, or undefined when the batch did not commit
   * it (commit it with `commit`).
   */
  commitMany(
    items: readonly BatchItem[],
    owner: string,
    leaseMs: number,
  ): Promise<(CommitResult | undefined)[]> {
    return commitBatch(this.store, this.stats, items, owner, leaseMs, (locked, plan) =>
      this.notifyPlan(locked.execution, locked.journalSeq, plan),
    );
  }

  /**
   * Hands an execution an in-process engine ran (and died with) to the workers: marks it
   * distributed, then writes the plan `decide` makes from its full state (its journal goes
   * on after its last seq). 'gone' when it is distributed already or finished.
   */
  async adopt(
    executionId: string,
    decide: (locked: LockedExecution) => CommitPlan | undefined,
    deadlineFor: (execution: ExecutionRecord) => number | undefined,
  ): Promise<CommitResult> {
    const result = await this.store.transaction(
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
        const steps = await tx.query(
          `SELECT ${STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`,
          [executionId],
        );
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
        await this.writePlan(tx, execution, journalSeq, plan, plan.dropTasks, undefined, 30_000);
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
      this.notifyPlan(result.locked.execution, result.locked.journalSeq, result.plan);
    return result;
  }

  /**
   * The common case in two round trips, holding the execution's row lock only for the
   * write: one statement reads the execution, the committed tasks and the step statuses (one
   * snapshot), the plan is made, one guarded statement writes it. Returns undefined when the
   * guard fails (another commit of the execution came first) or the case is not common
   * (stopping, finishing, a task lost): the caller then commits under locks.
   */
  private async commitOptimistically(
    executionId: string,
    finishing: { stepIds: readonly string[]; owner: string },
    decide: (locked: LockedExecution) => CommitPlan | undefined,
    leaseMs: number,
    waits: CommitWaits | undefined,
  ): Promise<CommitResult | undefined> {
    const r = await this.store.query(
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
    return this.commitGuarded(
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
  private async commitGuarded(
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
      const full = await this.store.query(
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
      const w = await this.writePlan(
        { query: (text, values, name) => this.store.query('commit a step', text, values, name) },
        locked.execution,
        locked.journalSeq,
        plan,
        held,
        finishing.owner,
        leaseMs,
        { held },
        waits && heldWaits(waits, held, plan),
      );
      this.notifyPlan(locked.execution, locked.journalSeq, plan);
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
        this.stats.conflicts++;
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Writes a plan in one statement. With `guard` (optimistic commits, outside any explicit
   * transaction) the statement also checks that nothing changed since the plan's state was
   * read: the execution's journal counter is still `journalSeq` and the committed tasks are
   * still `owner`'s; otherwise it raises a serialization failure and writes nothing.
   */
  private async writePlan(
    tx: Tx,
    execution: ExecutionRecord,
    journalSeq: number,
    plan: CommitPlan,
    dropped: string[],
    owner: string | undefined,
    leaseMs: number,
    guard?: { held: readonly string[] },
    waits?: CommitWaits,
  ) {
    const executionId = execution.id;
    const values: unknown[] = [executionId];
    const parts: string[] = [];
    let name = 'o8_commit';
    const add = (flag: string, sql: (first: number) => string, params: unknown[]) => {
      name += flag;
      parts.push(`${flag} AS (${sql(values.length + 1)})`);
      values.push(...params);
    };
    if (plan.steps.length > 0) {
      add(
        's',
        (f) =>
          unnestInsert('steps', STEP_COLUMNS, f, upsertClause(STEP_COLUMNS, ['execution_id', 'step_id'])),
        toColumns(STEP_COLUMNS.length, plan.steps.map(stepParams)),
      );
    }
    if (plan.journal.length > 0) {
      const entries: JournalEntry[] = plan.journal.map((e, i) => ({ ...e, seq: journalSeq + i + 1 }));
      add(
        'j',
        (f) =>
          unnestInsert('journal', JOURNAL_COLUMNS, f, upsertClause(JOURNAL_COLUMNS, ['execution_id', 'seq'])),
        toColumns(
          JOURNAL_COLUMNS.length,
          entries.map((e) => journalParams(executionId, e)),
        ),
      );
    }
    if (guard) {
      add(
        'm',
        (f) =>
          `DELETE FROM tasks WHERE execution_id = $1 AND step_id IN (
             SELECT step_id FROM tasks WHERE execution_id = $1 AND step_id = ANY($${f}::text[])
             AND status = 'leased' AND lease_owner = $${f + 1} ORDER BY step_id FOR UPDATE)
           RETURNING step_id`,
        [guard.held, owner ?? null],
      );
    } else if (dropped.length > 0) {
      add('d', (f) => `DELETE FROM tasks WHERE execution_id = $1 AND step_id = ANY($${f}::text[])`, [
        dropped,
      ]);
    }
    const ready = plan.tasks.filter((t) => !t.self);
    const self = plan.tasks.filter((t) => t.self);
    let leaseParam = 0;
    if (ready.length > 0) {
      add(
        't',
        (f) =>
          `INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at, rank)
           SELECT $1, s, q, 'ready', ${NOW}, ${NOW}, $${f + 2}::int8 FROM unnest($${f}::text[], $${f + 1}::text[]) AS x(s, q)
           ON CONFLICT (execution_id, step_id) DO NOTHING`,
        [ready.map((t) => t.stepId), ready.map((t) => t.queue), execution.createdAt],
      );
    }
    if (self.length > 0) {
      add(
        'l',
        (f) => {
          leaseParam = f + 3;
          return `INSERT INTO tasks (execution_id, step_id, queue, status, claims, lease_owner, lease_expires_at, available_at, created_at, rank)
           SELECT $1, s, q, 'leased', 1, $${f + 2}, ${NOW} + $${f + 3}, ${NOW}, ${NOW}, $${f + 4}::int8
           FROM unnest($${f}::text[], $${f + 1}::text[]) AS x(s, q)
           ON CONFLICT (execution_id, step_id) DO NOTHING`;
        },
        [self.map((t) => t.stepId), self.map((t) => t.queue), owner ?? null, leaseMs, execution.createdAt],
      );
    }
    const fin = plan.finished;
    if (fin) {
      // A finished execution waits for nothing: its waits go (a cancelled waiting step's too).
      add('w', () => 'DELETE FROM waits WHERE execution_id = $1', []);
    } else if (waits) {
      if (waits.put.length > 0) {
        add(
          'p',
          (f) =>
            `INSERT INTO waits (${WAIT_COLUMNS})
             SELECT x.id, $1, x.step_id, x.kind, x.state, x.due_at,
               CASE WHEN x.events IS NULL THEN NULL ELSE ARRAY(SELECT json_array_elements_text(x.events)) END,
               x.version, x.created_at, true, x.queue, x.body
             FROM json_to_recordset($${f}::json) AS x(id text, step_id text, kind text, state text, due_at int8,
               events json, version int4, created_at int8, queue text, body text)
             ON CONFLICT (id) DO NOTHING
             RETURNING id`,
          [
            JSON.stringify(
              waits.put.map(({ wait: w, queue }) => ({
                id: w.id,
                step_id: w.stepId,
                kind: w.kind,
                state: w.state,
                due_at: w.dueAt ?? null,
                events: w.events ?? null,
                version: w.version,
                created_at: w.createdAt,
                queue,
                body: JSON.stringify(w),
              })),
            ),
          ],
        );
        // Indexed in the same statement (the foreign key is checked at its end).
        add('k', INSERT_WAIT_KEYS, [waitKeysJson(waits.put.map((p) => p.wait))]);
      }
      if (waits.done.length > 0) {
        add('r', (f) => `DELETE FROM waits WHERE execution_id = $1 AND id = ANY($${f}::text[])`, [
          waits.done.map((d) => d.id),
        ]);
      }
    }
    // The execution row: the journal counter, the stop, and the record once finished.
    if (fin) {
      const sets = EXECUTION_COLUMNS.filter(([c]) => c !== 'id').map(([c]) => c);
      add(
        'f',
        (f) =>
          `UPDATE executions SET journal_seq = $${f}, stop = coalesce($${f + 1}, stop), ` +
          sets.map((c, i) => `${c} = $${f + 2 + i}`).join(', ') +
          ' WHERE id = $1' +
          (guard ? ` AND journal_seq = $${f + 2 + sets.length} RETURNING id` : ''),
        [
          journalSeq + plan.journal.length,
          plan.stop ? JSON.stringify(plan.stop) : null,
          ...executionParams(fin).slice(1),
          ...(guard ? [journalSeq] : []),
        ],
      );
      if (guard) name += 'g';
    } else {
      add(
        'x',
        (f) =>
          `UPDATE executions SET journal_seq = $${f}, stop = coalesce($${f + 1}, stop) WHERE id = $1` +
          (guard ? ` AND journal_seq = $${f + 2} RETURNING id` : ''),
        [
          journalSeq + plan.journal.length,
          plan.stop ? JSON.stringify(plan.stop) : null,
          ...(guard ? [journalSeq] : []),
        ],
      );
      if (guard) name += 'g';
    }
    let check = '';
    if (guard) {
      values.push(guard.held.length);
      check = `CASE WHEN (SELECT count(*) FROM ${fin ? 'f' : 'x'}) = 1 AND (SELECT count(*) FROM m) = $${values.length}
        THEN true ELSE orchestr8_conflict('the execution or its tasks changed since they were read') END AS ok, `;
    }
    return tx.query(
      `WITH ${parts.join(', ')}
       SELECT ${check}${NOW} + ${leaseParam > 0 ? `$${leaseParam}::bigint` : '0'} AS lease_expires_at`,
      values,
      name,
    );
  }

  /**
   * Wakes whoever a committed plan concerns: workers of the queues that got ready steps,
   * followers of the execution, workers running steps of an execution that started
   * stopping. Sent after the commit, not in it: PostgreSQL serialises the commits of
   * transactions that NOTIFY (a global lock held until the commit is flushed), which would
   * put every durable commit in one line.
   */
  private notifyPlan(execution: ExecutionRecord, journalSeq: number, plan: CommitPlan): void {
    for (const q of new Set(plan.tasks.filter((t) => !t.self).map((t) => t.queue))) {
      this.store.notify(Channel.tasks, q);
    }
    const lastSeq = journalSeq + plan.journal.length;
    this.store.notify(
      Channel.exec,
      JSON.stringify([execution.id, journalSeq + 1, lastSeq, plan.finished ? 1 : 0, execution.workflowId]),
    );
    if (plan.stop) this.store.notify(Channel.stop, execution.id);
  }
}
