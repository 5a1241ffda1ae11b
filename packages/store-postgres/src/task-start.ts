/**
 * Starting a distributed execution: its record (and idempotency claim), its first journal
 * entries, its step records and the tasks of its root steps, written together. Without an
 * idempotency key the start joins a group start (`StartBatcher`); with one it takes its own
 * transaction, where the claim decides whether it is created at all.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { CommitPlan, CreateExecutionResult, ExecutionRecord, IdempotencyClaim } from '@orchestr8/core';
import type { Tx } from './database.js';
import { pgCode, SqlState } from './errors.js';
import { claimKey, type PostgresStore } from './postgres-store.js';
import {
  EXECUTION_COLUMNS,
  EXECUTION_SELECT,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  STEP_COLUMNS,
  stepParams,
  toColumns,
  unnestInsert,
} from './rows.js';
import type { StartBatcher } from './task-start-batch.js';
import { Channel, NOW } from './task-types.js';

/**
 * Creates a distributed execution: the execution (and its idempotency claim), its first
 * journal entries and the tasks of its root steps, in one transaction.
 */
export async function startExecution(
  store: PostgresStore,
  starts: StartBatcher,
  execution: ExecutionRecord,
  claim: IdempotencyClaim | undefined,
  plan: CommitPlan,
  deadlineAt: number | undefined,
): Promise<CreateExecutionResult> {
  const record = plan.finished ?? execution;
  const journal = plan.journal.map((e, i) => ({ ...e, seq: i + 1 }));
  const write = (tx: Tx) => {
    const values: unknown[] = [...executionParams(record), journal.length, deadlineAt ?? null];
    const cols = EXECUTION_COLUMNS.length;
    const parts: string[] = [
      `e AS (INSERT INTO executions (${EXECUTION_SELECT}, distributed, journal_seq, deadline_at)
         VALUES (${EXECUTION_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, true, $${cols + 1}, $${cols + 2}))`,
    ];
    let name = 'o8_start';
    const add = (flag: string, sql: (first: number) => string, arrays: unknown[]) => {
      name += flag;
      parts.push(`${flag} AS (${sql(values.length + 1)})`);
      values.push(...arrays);
    };
    if (journal.length > 0) {
      add(
        'j',
        (f) => unnestInsert('journal', JOURNAL_COLUMNS, f, ''),
        toColumns(
          JOURNAL_COLUMNS.length,
          journal.map((e) => journalParams(record.id, e)),
        ),
      );
    }
    if (plan.steps.length > 0) {
      add(
        's',
        (f) => unnestInsert('steps', STEP_COLUMNS, f, ''),
        toColumns(STEP_COLUMNS.length, plan.steps.map(stepParams)),
      );
    }
    const ready = plan.tasks.filter((t) => !t.self);
    if (ready.length > 0) {
      add(
        't',
        (f) =>
          `INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at, rank)
           SELECT $1, s, q, 'ready', ${NOW}, ${NOW}, $${f + 2}::int8 FROM unnest($${f}::text[], $${f + 1}::text[]) AS x(s, q)`,
        [ready.map((t) => t.stepId), ready.map((t) => t.queue), record.createdAt],
      );
    }
    return tx.query(`WITH ${parts.join(', ')} SELECT 1`, values, name);
  };
  const notify = () => {
    for (const q of new Set(plan.tasks.filter((t) => !t.self).map((t) => t.queue))) {
      store.notify(Channel.tasks, q);
    }
    store.notify(
      Channel.exec,
      JSON.stringify([record.id, 1, journal.length, plan.finished ? 1 : 0, record.workflowId]),
    );
  };
  try {
    if (!claim) {
      // One statement (atomic without an explicit transaction), shared with the executions
      // that start at the same time.
      await starts.start({ record, journal, plan, deadlineAt }, () =>
        write({
          query: (text, values, name) => store.query('start an execution', text, values, name),
        }),
      );
      notify();
      return { created: true, execution: record };
    }
    const result = await store.transaction('start an execution', async (tx) => {
      const existing = await claimKey(tx, claim, execution.id, Date.now());
      if (existing) return { created: false as const, existing };
      await write(tx);
      return { created: true as const, execution: record };
    });
    if (result.created) notify();
    return result;
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (pgCode(cause) === SqlState.uniqueViolation) {
      throw new Orchestr8Error(ErrorCode.CONFLICT, `execution ${execution.id} already exists`, { cause });
    }
    throw error;
  }
}
