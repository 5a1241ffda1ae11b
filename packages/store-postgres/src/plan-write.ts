/**
 * Writing a committed plan: its rows in one statement (step records, journal entries, the
 * committed tasks' deletion, new tasks, waits, the execution row), and the notifications
 * sent after the commit.
 */
import type { CommitPlan, ExecutionRecord, JournalEntry } from '@orchestr8/core';
import type pg from 'pg';
import type { Tx } from './database.js';
import type { PostgresStore } from './postgres-store.js';
import { INSERT_WAIT_KEYS, WAIT_COLUMNS, waitKeysJson } from './postgres-waits.js';
import {
  EXECUTION_COLUMNS,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  type Row,
  STEP_COLUMNS,
  stepParams,
  toColumns,
  unnestInsert,
  upsertClause,
} from './rows.js';
import { Channel, type CommitWaits, NOW } from './task-types.js';

/** The commit's waits of the steps it holds: puts only for steps the plan leaves waiting. */
export function heldWaits(
  waits: CommitWaits,
  held: readonly string[],
  plan: CommitPlan,
): CommitWaits | undefined {
  const mine = new Set(held);
  const waiting = new Set(plan.steps.filter((s) => s.status === 'waiting').map((s) => s.stepId));
  const put = waits.put.filter((p) => mine.has(p.wait.stepId) && waiting.has(p.wait.stepId));
  const done = waits.done.filter((d) => mine.has(d.stepId));
  return put.length > 0 || done.length > 0 ? { put, done } : undefined;
}

/**
 * Writes a plan in one statement. With `guard` (optimistic commits, outside any explicit
 * transaction) the statement also checks that nothing changed since the plan's state was
 * read: the execution's journal counter is still `journalSeq` and the committed tasks are
 * still `owner`'s; otherwise it raises a serialization failure and writes nothing.
 */
export async function writePlan(
  tx: Tx,
  execution: ExecutionRecord,
  journalSeq: number,
  plan: CommitPlan,
  dropped: string[],
  owner: string | undefined,
  leaseMs: number,
  guard?: { held: readonly string[] },
  waits?: CommitWaits,
): Promise<pg.QueryResult<Row>> {
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
      (f) => unnestInsert('steps', STEP_COLUMNS, f, upsertClause(STEP_COLUMNS, ['execution_id', 'step_id'])),
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
    add('d', (f) => `DELETE FROM tasks WHERE execution_id = $1 AND step_id = ANY($${f}::text[])`, [dropped]);
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
export function notifyPlan(
  store: PostgresStore,
  execution: ExecutionRecord,
  journalSeq: number,
  plan: CommitPlan,
): void {
  for (const q of new Set(plan.tasks.filter((t) => !t.self).map((t) => t.queue))) {
    store.notify(Channel.tasks, q);
  }
  const lastSeq = journalSeq + plan.journal.length;
  store.notify(
    Channel.exec,
    JSON.stringify([execution.id, journalSeq + 1, lastSeq, plan.finished ? 1 : 0, execution.workflowId]),
  );
  if (plan.stop) store.notify(Channel.stop, execution.id);
}
