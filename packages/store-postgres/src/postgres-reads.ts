/**
 * The store's reads of executions (one, whether it is distributed, a filtered page newest
 * first), of an execution's steps and journal, and of the circuits.
 */
import { type ExecutionQuery, type ExecutionRecord, type Page, paging, type Store } from '@orchestr8/core';
import type { Database } from './database.js';
import { correlationPrefixWhere, listRangeWhere } from './postgres-operations.js';
import {
  EXECUTION_SELECT,
  JOURNAL_SELECT,
  STEP_SELECT,
  toCircuit,
  toExecution,
  toJournalEntry,
  toStep,
} from './rows.js';

/** The read methods of the store, on `db`. */
export function readMethods(db: Pick<Database, 'query'>): Pick<
  Store,
  'getExecution' | 'listExecutions' | 'getSteps' | 'readJournal' | 'loadCircuits'
> & {
  // Typed here, not picked from PostgresStore, so this file does not import the store's.
  isDistributed(executionId: string): Promise<boolean>;
} {
  const { query } = db;
  return {
    async isDistributed(executionId) {
      const r = await query('read an execution', 'SELECT distributed FROM executions WHERE id = $1', [
        executionId,
      ]);
      return r.rows[0]?.distributed === true;
    },

    async getExecution(id) {
      const r = await query(
        'read an execution',
        `SELECT ${EXECUTION_SELECT} FROM executions WHERE id = $1`,
        [id],
        'o8_get_execution',
      );
      return r.rows[0] && toExecution(r.rows[0]);
    },

    async listExecutions(q: ExecutionQuery = {}): Promise<Page<ExecutionRecord>> {
      const limit = paging.pageSize(q.limit);
      const statuses =
        q.status === undefined ? [] : [...new Set(typeof q.status === 'string' ? [q.status] : q.status)];
      if (q.status !== undefined && statuses.length === 0) return { items: [] };
      const cursor = q.cursor === undefined ? undefined : paging.decodeCursor(q.cursor);
      const where: string[] = [];
      const values: unknown[] = [];
      if (statuses.length > 0) {
        values.push(statuses);
        where.push(`status = ANY($${values.length}::text[])`);
      }
      if (q.workflowId !== undefined) {
        values.push(q.workflowId);
        where.push(`workflow_id = $${values.length}`);
      }
      if (q.correlationIdPrefix !== undefined) {
        const p = q.correlationIdPrefix;
        const prefixes = typeof p === 'string' ? [p] : [...p];
        if (prefixes.length === 0) return { items: [] };
        where.push(correlationPrefixWhere(prefixes, values));
      }
      const range = listRangeWhere(q, values);
      where.push(...range.where);
      if (cursor) {
        values.push(cursor.createdAt, cursor.id);
        where.push(`(created_at, id) < ($${values.length - 1}, $${values.length})`);
      }
      values.push(limit + 1);
      const name = `o8_list_${statuses.length > 0 ? 's' : ''}${q.workflowId !== undefined ? 'w' : ''}${q.correlationIdPrefix !== undefined ? `p${typeof q.correlationIdPrefix === 'string' ? 1 : q.correlationIdPrefix.length}` : ''}${range.shape}${cursor ? 'c' : ''}`;
      const r = await query(
        'list executions',
        `SELECT ${EXECUTION_SELECT} FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT $${values.length}`,
        values,
        name,
      );
      const items = r.rows.slice(0, limit).map(toExecution);
      const last = items[items.length - 1];
      return r.rows.length > limit && last ? { items, nextCursor: paging.encodeCursor(last) } : { items };
    },

    async getSteps(executionId) {
      const r = await query(
        'read steps',
        `SELECT ${STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`,
        [executionId],
        'o8_get_steps',
      );
      return r.rows.map(toStep);
    },

    async readJournal(executionId, options = {}) {
      const r = await query(
        'read the journal',
        `SELECT ${JOURNAL_SELECT} FROM journal WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [executionId, options.afterSeq ?? Number.MIN_SAFE_INTEGER, options.limit ?? null],
        'o8_read_journal',
      );
      return r.rows.map(toJournalEntry);
    },

    async loadCircuits() {
      const r = await query('load circuits', 'SELECT * FROM circuits ORDER BY "key"');
      return r.rows.map(toCircuit);
    },
  };
}
