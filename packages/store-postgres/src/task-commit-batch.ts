/**
 * Group commit across executions: the step results of many executions a worker finished
 * at about the same time, planned against the states it remembers, written by ONE guarded
 * statement (one transaction, one WAL flush). On PostgreSQL's durable defaults a commit
 * waits for its flush (~2–5 ms on common disks): one flush per execution per round is
 * what limited a worker, one flush per round is what this costs.
 *
 * The guard is the one of a single commit (see task-commit.ts), for every execution at
 * once: each execution's journal counter is still as planned on and every committed task
 * is still the owner's lease. If any of them changed, the statement writes nothing and the
 * caller commits those executions one by one (where a failed guard costs only its own).
 */
import type { CommitPlan, StepStateRecord } from '@orchestr8/core';
import { pgCode, SqlState } from './errors.js';
import type { PostgresStore } from './postgres-store.js';
import {
  EXECUTION_COLUMNS,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  STEP_COLUMNS,
  STEP_SELECT,
  stepParams,
  toColumns,
  toStep,
  unnestInsert,
  upsertClause,
} from './rows.js';
import {
  type BatchCommitResult,
  type CommitStats,
  type ExecutionState,
  type LockedExecution,
  leasedAt,
  NOW,
} from './task-types.js';

export interface BatchItem {
  /** The state the worker remembers from its last claim or commit of the execution. */
  known: ExecutionState;
  /** The steps whose results this commits (the owner's leased tasks). */
  stepIds: readonly string[];
  decide: (locked: LockedExecution) => CommitPlan | undefined;
  /**
   * Every step's full record as of `known`, when the caller has them all (it committed or
   * read them): a commit that finishes the execution then renders its outputs without a read.
   */
  full?: () => StepStateRecord[] | undefined;
}

type Planned = { item: BatchItem; locked: LockedExecution; plan: CommitPlan };

/** An item whose execution changed since it was planned on: nothing was written for it. */
const CONTENDED = { status: 'contended' } as const;

/** A plan the batch can write: the common case of a single guarded commit. */
const common = (plan: CommitPlan | undefined): plan is CommitPlan =>
  plan !== undefined && !plan.stop && plan.dropTasks.length === 0 && plan.journal.length > 0;

/**
 * Commits the items in one statement. Returns, per item, its committed result, or
 * undefined when the batch did not commit it (its plan is not a common one, or a guard
 * failed): the caller commits those one at a time.
 */
export async function commitBatch(
  store: PostgresStore,
  stats: CommitStats,
  items: readonly BatchItem[],
  owner: string,
  leaseMs: number,
  notify: (locked: LockedExecution, plan: CommitPlan) => void,
): Promise<BatchCommitResult[]> {
  const planned: (Planned | undefined)[] = items.map((item) => {
    const locked: LockedExecution = {
      execution: item.known.execution,
      finishing: [...item.stepIds],
      stop: undefined,
      journalSeq: item.known.journalSeq,
      steps: item.known.steps,
      full: false,
      tasks: new Map(),
    };
    const plan = item.decide(locked);
    return common(plan) ? { item, locked, plan } : undefined;
  });
  // Finishing renders the outputs: one read of the steps of every execution that finishes,
  // then plan those again (the guard still holds them to the state first planned on).
  const finishing = planned.filter((p): p is Planned => p?.plan.finished !== undefined);
  const replan = (p: Planned, steps: StepStateRecord[]) => {
    const i = planned.indexOf(p);
    p.locked.steps = steps;
    p.locked.full = true;
    const plan = p.item.decide(p.locked);
    planned[i] = common(plan) && plan.finished ? { ...p, plan } : undefined;
  };
  const unread: Planned[] = [];
  for (const p of finishing) {
    const full = p.item.full?.();
    if (full) replan(p, full);
    else unread.push(p);
  }
  if (unread.length > 0) {
    const r = await store.query(
      'read steps',
      `SELECT ${STEP_SELECT} FROM steps WHERE execution_id = ANY($1::text[]) ORDER BY execution_id, ord`,
      [unread.map((p) => p.locked.execution.id)],
      'o8_get_steps_many',
    );
    const byExecution = new Map<string, ReturnType<typeof toStep>[]>();
    for (const row of r.rows) {
      const s = toStep(row);
      const list = byExecution.get(s.executionId);
      if (list) list.push(s);
      else byExecution.set(s.executionId, [s]);
    }
    for (const p of unread) replan(p, byExecution.get(p.locked.execution.id) ?? []);
  }
  let writing = planned.filter((p): p is Planned => p !== undefined);
  if (writing.length === 0) return items.map(() => undefined);
  let leaseExpiresAt: number | undefined;
  const contended: boolean[] = [];
  for (let attempt = 1; leaseExpiresAt === undefined; attempt++) {
    try {
      leaseExpiresAt = await writeBatch(store, writing, owner, leaseMs);
    } catch (error) {
      const code = pgCode((error as { cause?: unknown }).cause ?? error);
      const conflict =
        code === SqlState.serializationFailure ||
        code === SqlState.uniqueViolation ||
        code === SqlState.foreignKeyViolation ||
        code === SqlState.deadlockDetected;
      if (!conflict) throw error;
      stats.conflicts++;
      if (attempt > 1) return items.map((_, i) => (contended[i] ? CONTENDED : undefined));
      // Another worker committed some of these executions (or took a task back): the others
      // are still as planned on and go again together; the changed ones commit on their own.
      const still = await unchanged(store, writing, owner);
      for (let i = 0; i < planned.length; i++) {
        const p = planned[i];
        if (p && !still.has(p)) {
          planned[i] = undefined;
          contended[i] = true;
        }
      }
      writing = writing.filter((w) => still.has(w));
      if (writing.length === 0) return items.map((_, i) => (contended[i] ? CONTENDED : undefined));
    }
  }
  stats.remembered += writing.length;
  return planned.map((p, i) => {
    if (!p) return contended[i] ? CONTENDED : undefined;
    notify(p.locked, p.plan);
    return {
      status: 'committed' as const,
      locked: p.locked,
      plan: p.plan,
      lastSeq: p.locked.journalSeq + p.plan.journal.length,
      leaseExpiresAt: leaseExpiresAt!,
    };
  });
}

/** Those of `writing` whose execution's journal counter and committed tasks are as planned on. */
async function unchanged(
  store: PostgresStore,
  writing: readonly Planned[],
  owner: string,
): Promise<Set<Planned>> {
  const r = await store.query(
    'read executions for a commit',
    `SELECT e.id, e.journal_seq, e.stop IS NOT NULL AS stopping,
       (SELECT array_agg(t.step_id) FROM tasks t
        WHERE t.execution_id = e.id AND t.status = 'leased' AND t.lease_owner = $2) AS held
     FROM executions e WHERE e.id = ANY($1::text[])`,
    [writing.map((w) => w.locked.execution.id), owner],
    'o8_commit_recheck',
  );
  const now = new Map(r.rows.map((row) => [row.id as string, row]));
  const out = new Set<Planned>();
  for (const w of writing) {
    const row = now.get(w.locked.execution.id);
    const held = new Set((row?.held as string[] | null) ?? []);
    if (
      row &&
      !row.stopping &&
      (row.journal_seq as number) === w.locked.journalSeq &&
      w.locked.finishing.every((s) => held.has(s))
    )
      out.add(w);
  }
  return out;
}

/** Writes the plans in one guarded statement; returns the expiry of the leases it took. */
async function writeBatch(
  store: PostgresStore,
  writing: readonly Planned[],
  owner: string,
  leaseMs: number,
): Promise<number> {
  const values: unknown[] = [owner, leaseMs];
  const parts: string[] = [];
  let name = 'o8_batch';
  const add = (flag: string, sql: (first: number) => string, params: unknown[]) => {
    name += flag;
    parts.push(`${flag} AS (${sql(values.length + 1)})`);
    values.push(...params);
  };
  const steps = writing.flatMap((w) => w.plan.steps.map(stepParams));
  if (steps.length > 0) {
    add(
      's',
      (f) => unnestInsert('steps', STEP_COLUMNS, f, upsertClause(STEP_COLUMNS, ['execution_id', 'step_id'])),
      toColumns(STEP_COLUMNS.length, steps),
    );
  }
  const journal = writing.flatMap((w) =>
    w.plan.journal.map((e, i) =>
      journalParams(w.locked.execution.id, { ...e, seq: w.locked.journalSeq + i + 1 }),
    ),
  );
  // A plain insert, not an upsert (which costs a speculative insertion per row, ~7% of a
  // round's WAL): every writer of a distributed execution's journal moves its counter in the
  // same statement, so an entry already at one of these seqs means the execution changed
  // since it was read, which the guard below reports first. Should one exist anyway, the
  // unique violation is taken as a conflict: the execution commits on its own (an upsert).
  add(
    'j',
    (f) => unnestInsert('journal', JOURNAL_COLUMNS, f, ''),
    toColumns(JOURNAL_COLUMNS.length, journal),
  );
  // The committed tasks, still leased by the owner, locked in key order (as heartbeats do).
  const held = writing.flatMap((w) => w.locked.finishing.map((s) => [w.locked.execution.id, s] as const));
  add(
    'm',
    (f) =>
      `DELETE FROM tasks t USING (${leasedAt('$1', `$${f}`, `$${f + 1}`)}) h
       WHERE t.execution_id = h.execution_id AND t.step_id = h.step_id
       RETURNING 1`,
    [held.map((h) => h[0]), held.map((h) => h[1])],
  );
  const tasks = (self: boolean) =>
    writing.flatMap((w) =>
      w.plan.tasks
        .filter((t) => !!t.self === self)
        .map((t) => [w.locked.execution.id, t.stepId, t.queue, w.locked.execution.createdAt]),
    );
  const ready = tasks(false);
  if (ready.length > 0) {
    add(
      't',
      (f) =>
        `INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at, rank)
         SELECT e, s, q, 'ready', ${NOW}, ${NOW}, r
         FROM unnest($${f}::text[], $${f + 1}::text[], $${f + 2}::text[], $${f + 3}::int8[]) AS x(e, s, q, r)
         ON CONFLICT (execution_id, step_id) DO NOTHING`,
      toColumns(4, ready),
    );
  }
  const self = tasks(true);
  if (self.length > 0) {
    add(
      'l',
      (f) =>
        `INSERT INTO tasks (execution_id, step_id, queue, status, claims, lease_owner, lease_expires_at, available_at, created_at, rank)
         SELECT e, s, q, 'leased', 1, $1, ${NOW} + $2::bigint, ${NOW}, ${NOW}, r
         FROM unnest($${f}::text[], $${f + 1}::text[], $${f + 2}::text[], $${f + 3}::int8[]) AS x(e, s, q, r)
         ON CONFLICT (execution_id, step_id) DO NOTHING`,
      toColumns(4, self),
    );
  }
  const finished = writing.filter((w) => w.plan.finished);
  const going = writing.filter((w) => !w.plan.finished);
  const seqs = (ws: readonly Planned[]) => [
    ws.map((w) => w.locked.execution.id),
    ws.map((w) => w.locked.journalSeq),
    ws.map((w) => w.locked.journalSeq + w.plan.journal.length),
  ];
  const counted: string[] = [];
  if (going.length > 0) {
    // Execution rows locked in id order: two workers' batches never wait on each other in a circle.
    add(
      'x',
      (f) =>
        `UPDATE executions e SET journal_seq = v.seq FROM (
           SELECT x.id, x.old, x.seq FROM unnest($${f}::text[], $${f + 1}::int8[], $${f + 2}::int8[]) AS x(id, old, seq)
           JOIN (SELECT id FROM executions WHERE id = ANY($${f}::text[]) ORDER BY id FOR NO KEY UPDATE) l ON l.id = x.id) v
         WHERE e.id = v.id AND e.journal_seq = v.old
         RETURNING e.id`,
      seqs(going),
    );
    counted.push('x');
  }
  if (finished.length > 0) {
    const cols = EXECUTION_COLUMNS.filter(([c]) => c !== 'id');
    add(
      'f',
      (f) =>
        `UPDATE executions e SET journal_seq = v.seq, ${cols.map(([c]) => `${c} = v.${c}`).join(', ')}
         FROM (
           SELECT x.* FROM unnest($${f}::text[], $${f + 1}::int8[], $${f + 2}::int8[], ${cols
             .map(([, type], i) => `$${f + 3 + i}::${type}[]`)
             .join(', ')}) AS x(id, old, seq, ${cols.map(([c]) => c).join(', ')})
           JOIN (SELECT id FROM executions WHERE id = ANY($${f}::text[]) ORDER BY id FOR NO KEY UPDATE) l ON l.id = x.id) v
         WHERE e.id = v.id AND e.journal_seq = v.old
         RETURNING e.id`,
      [
        ...seqs(finished),
        ...toColumns(
          cols.length,
          finished.map((w) => executionParams(w.plan.finished!).slice(1)),
        ),
      ],
    );
    counted.push('f');
    // A finished execution waits for nothing.
    add('w', (f) => `DELETE FROM waits WHERE execution_id = ANY($${f}::text[])`, [
      finished.map((w) => w.locked.execution.id),
    ]);
  }
  values.push(writing.length, held.length);
  const n = values.length;
  const r = await store.query(
    'commit steps',
    `WITH ${parts.join(', ')}
     SELECT CASE WHEN ${counted.map((c) => `(SELECT count(*) FROM ${c})`).join(' + ')} = $${n - 1}
         AND (SELECT count(*) FROM m) = $${n}
       THEN true ELSE orchestr8_conflict('executions or their tasks changed since they were read') END AS ok,
       ${NOW} + $2::bigint AS lease_expires_at`,
    values,
    name,
  );
  return (r.rows[0]?.lease_expires_at as number | undefined) ?? 0;
}
