/**
 * Group start: distributed executions started at about the same time (without an
 * idempotency key, which needs its own transaction) are created by ONE statement: their
 * records, first journal entries, step records and root tasks. While a statement is in
 * flight the next starts gather; one WAL flush and one round trip serve them all. If the
 * statement fails (an id already taken, say), each is started on its own, so one bad start
 * fails alone.
 */
import type { CommitPlan, ExecutionRecord, JournalEntry } from '@orchestr8/core';
import type { PostgresStore } from './postgres-store.js';
import {
  EXECUTION_COLUMNS,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  STEP_COLUMNS,
  stepParams,
  toColumns,
  unnestInsert,
} from './rows.js';
import { NOW } from './task-types.js';

export interface StartItem {
  record: ExecutionRecord;
  journal: JournalEntry[];
  plan: CommitPlan;
  deadlineAt: number | undefined;
}

interface Pending {
  item: StartItem;
  /** Starts it on its own (its errors are its own). */
  single: () => Promise<unknown>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class StartBatcher {
  private pending: Pending[] = [];
  private busy = false;

  constructor(private readonly store: PostgresStore) {}

  /** Creates the execution, with others when several start at once, else by `single`. */
  start(item: StartItem, single: () => Promise<unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, single, resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    if (this.busy || this.pending.length === 0) return;
    this.busy = true;
    const batch = this.pending.splice(0);
    void this.write(batch).finally(() => {
      this.busy = false;
      this.flush();
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    if (batch.length > 1) {
      try {
        await this.store.query('start executions', ...startStatement(batch.map((b) => b.item)));
        for (const b of batch) b.resolve();
        return;
      } catch {
        // One by one below: each start gets its own outcome.
      }
    }
    await Promise.all(
      batch.map((b) =>
        b.single().then(
          () => b.resolve(),
          (error: unknown) => b.reject(error),
        ),
      ),
    );
  }
}

/** The statement that creates every item: text, values, prepared-statement name. */
function startStatement(items: readonly StartItem[]): [string, unknown[], string] {
  const values: unknown[] = [];
  const parts: string[] = [];
  let name = 'o8_starts';
  const add = (flag: string, sql: (first: number) => string, params: unknown[]) => {
    name += flag;
    parts.push(`${flag} AS (${sql(values.length + 1)})`);
    values.push(...params);
  };
  const cols = EXECUTION_COLUMNS.map(([c]) => c);
  add(
    'e',
    (f) =>
      `INSERT INTO executions (${cols.join(', ')}, distributed, journal_seq, deadline_at)
       SELECT ${cols.map((c) => `x.${c}`).join(', ')}, true, x.journal_seq, x.deadline_at
       FROM unnest(${EXECUTION_COLUMNS.map(([, type], i) => `$${f + i}::${type}[]`).join(', ')},
         $${f + cols.length}::int8[], $${f + cols.length + 1}::int8[]) AS x(${cols.join(', ')}, journal_seq, deadline_at)`,
    [
      ...toColumns(
        cols.length,
        items.map((it) => executionParams(it.record)),
      ),
      items.map((it) => it.journal.length),
      items.map((it) => it.deadlineAt ?? null),
    ],
  );
  const journal = items.flatMap((it) => it.journal.map((e) => journalParams(it.record.id, e)));
  if (journal.length > 0) {
    add(
      'j',
      (f) => unnestInsert('journal', JOURNAL_COLUMNS, f, ''),
      toColumns(JOURNAL_COLUMNS.length, journal),
    );
  }
  const steps = items.flatMap((it) => it.plan.steps.map(stepParams));
  if (steps.length > 0) {
    add('s', (f) => unnestInsert('steps', STEP_COLUMNS, f, ''), toColumns(STEP_COLUMNS.length, steps));
  }
  const ready = items.flatMap((it) =>
    it.plan.tasks.filter((t) => !t.self).map((t) => [it.record.id, t.stepId, t.queue, it.record.createdAt]),
  );
  if (ready.length > 0) {
    add(
      't',
      (f) =>
        `INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at, rank)
         SELECT e, s, q, 'ready', ${NOW}, ${NOW}, r
         FROM unnest($${f}::text[], $${f + 1}::text[], $${f + 2}::text[], $${f + 3}::int8[]) AS x(e, s, q, r)`,
      toColumns(4, ready),
    );
  }
  return [`WITH ${parts.join(', ')} SELECT 1`, values, name];
}
