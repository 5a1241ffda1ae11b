/**
 * The SQLite store's prepared statements: prepared once per connection, so the hot path
 * (a batch write) only binds and steps; list queries prepared per shape and kept.
 */
import type Database from 'libsql';
import { EXECUTION_COLUMNS, JOURNAL_COLUMNS, STEP_COLUMNS } from './rows.js';
import {
  CORRELATION_PREFIX_SCAN,
  CORRELATION_PREFIX_WHERE,
  type ListRange,
  listRangeWhere,
  NO_RANGE,
} from './sqlite-operations.js';

const TERMINAL = "('completed', 'failed', 'cancelled')";
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** Prepared once per connection: the hot path (write) only binds and steps. */
export function prepareStatements(db: Database.Database): Statements {
  const prepare = (sql: string) => db.prepare(sql);
  const placeholders = (columns: string) =>
    columns
      .split(',')
      .map(() => '?')
      .join(', ');
  const updates = (columns: string, key: string[]) =>
    columns
      .split(',')
      .map((c) => c.trim())
      .filter((c) => !key.includes(c))
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
  return {
    begin: prepare('BEGIN IMMEDIATE'),
    commit: prepare('COMMIT'),
    rollback: prepare('ROLLBACK'),
    savepoint: prepare('SAVEPOINT create_one'),
    release: prepare('RELEASE create_one'),
    rollbackTo: prepare('ROLLBACK TO create_one'),
    insertExecution: prepare(
      `INSERT INTO executions (${EXECUTION_COLUMNS}) VALUES (${placeholders(EXECUTION_COLUMNS)})`,
    ),
    // Upsert, never INSERT OR REPLACE: REPLACE deletes the row and would cascade to its steps and journal.
    upsertExecution: prepare(
      `INSERT INTO executions (${EXECUTION_COLUMNS}) VALUES (${placeholders(EXECUTION_COLUMNS)})
       ON CONFLICT (id) DO UPDATE SET ${updates(EXECUTION_COLUMNS, ['id'])}`,
    ),
    // An existing execution whose indexed identity is unchanged (the usual write: its status,
    // result, times): only the status index moves, where the upsert rewrites every index entry.
    updateExecution: prepare(
      `UPDATE executions SET workflow_version = ?, definition_hash = ?, status = ?, inputs = ?, result = ?,
         error = ?, idempotency_key = ?, parent_step_id = ?, status_reason = ?, started_at = ?,
         finished_at = ?, updated_at = ?
       WHERE id = ? AND workflow_id = ? AND created_at = ? AND correlation_id IS ? AND parent_execution_id IS ?`,
    ),
    upsertStep: prepare(
      `INSERT INTO steps (${STEP_COLUMNS}) VALUES (${placeholders(STEP_COLUMNS)})
       ON CONFLICT (execution_id, step_id) DO UPDATE SET ${updates(STEP_COLUMNS, ['execution_id', 'step_id'])}`,
    ),
    /** Upserts `rows` steps in one statement (rows are upserted in order: a later one wins). */
    upsertSteps: (rows: number) =>
      prepare(
        `INSERT INTO steps (${STEP_COLUMNS}) VALUES ${Array(rows)
          .fill(`(${placeholders(STEP_COLUMNS)})`)
          .join(', ')}
         ON CONFLICT (execution_id, step_id) DO UPDATE SET ${updates(STEP_COLUMNS, ['execution_id', 'step_id'])}`,
      ),
    /** Upserts `rows` journal entries in one statement: one native call instead of `rows`. */
    upsertJournal: (rows: number) =>
      prepare(
        `INSERT INTO journal (${JOURNAL_COLUMNS}) VALUES ${Array(rows)
          .fill(`(${placeholders(JOURNAL_COLUMNS)})`)
          .join(', ')}
         ON CONFLICT (execution_id, seq) DO UPDATE SET ${updates(JOURNAL_COLUMNS, ['execution_id', 'seq'])}`,
      ),
    trimJournal: prepare('DELETE FROM journal WHERE execution_id = ? AND seq < ?'),
    upsertCircuit: prepare(
      `INSERT INTO circuits ("key", state, failures, open_until, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("key") DO UPDATE SET state = excluded.state, failures = excluded.failures,
         open_until = excluded.open_until, updated_at = excluded.updated_at`,
    ),
    deleteExpiredClaim: prepare('DELETE FROM idempotency WHERE "key" = ? AND expires_at <= ?'),
    insertClaim: prepare(
      `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("key") DO NOTHING`,
    ),
    // A new claim, or one replacing an expired claim on the key, in one statement (no
    // changes: a live claim holds the key). created_at is the transaction's now.
    claimKey: prepare(
      `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("key") DO UPDATE SET fingerprint = excluded.fingerprint, execution_id = excluded.execution_id,
         created_at = excluded.created_at, expires_at = excluded.expires_at
       WHERE idempotency.expires_at <= excluded.created_at`,
    ),
    getClaim: prepare('SELECT * FROM idempotency WHERE "key" = ?'),
    findLiveClaim: prepare('SELECT * FROM idempotency WHERE "key" = ? AND expires_at > ?'),
    getExecution: prepare(`SELECT ${EXECUTION_COLUMNS} FROM executions WHERE id = ?`),
    getSteps: prepare(`SELECT ${STEP_COLUMNS} FROM steps WHERE execution_id = ? ORDER BY rowid`),
    readJournal: prepare(
      `SELECT ${JOURNAL_COLUMNS} FROM journal WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    insertDefinition: prepare(
      `INSERT INTO definitions (id, version, hash, document, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id, version) DO NOTHING`,
    ),
    getDefinition: prepare('SELECT * FROM definitions WHERE id = ? AND version = ?'),
    getDefinitions: prepare('SELECT * FROM definitions WHERE id = ?'),
    getDefinitionByHash: prepare(
      'SELECT * FROM definitions WHERE hash = ? ORDER BY id, created_at, version LIMIT 1',
    ),
    listDefinitions: prepare('SELECT * FROM definitions ORDER BY id, created_at, version'),
    loadCircuits: prepare('SELECT * FROM circuits ORDER BY "key"'),
    pruneExecutions: prepare(
      `DELETE FROM executions WHERE status IN ${TERMINAL} AND coalesce(finished_at, updated_at) < ?`,
    ),
    pruneClaims: prepare('DELETE FROM idempotency WHERE expires_at <= ?'),
    getStatus: prepare('SELECT status FROM executions WHERE id = ?'),
    // The first request stands; a repeated one changes nothing.
    insertCancel: prepare(
      `INSERT INTO cancel_requests (execution_id, reason, requested_at) VALUES (?, ?, ?)
       ON CONFLICT (execution_id) DO NOTHING`,
    ),
    // The ids arrive as one JSON array: one statement whatever their number.
    pendingCancels: prepare(
      `SELECT c.execution_id, c.reason, c.requested_at FROM cancel_requests c
       JOIN executions e ON e.id = c.execution_id
       WHERE c.execution_id IN (SELECT value FROM json_each(?)) AND e.status NOT IN ${TERMINAL}`,
    ),
  };
}

/** The connection's statements by name, and the builders of multi-row statements. */
export interface Statements {
  begin: Database.Statement;
  commit: Database.Statement;
  rollback: Database.Statement;
  savepoint: Database.Statement;
  release: Database.Statement;
  rollbackTo: Database.Statement;
  insertExecution: Database.Statement;
  upsertExecution: Database.Statement;
  updateExecution: Database.Statement;
  upsertStep: Database.Statement;
  upsertSteps(rows: number): Database.Statement;
  upsertJournal(rows: number): Database.Statement;
  trimJournal: Database.Statement;
  upsertCircuit: Database.Statement;
  deleteExpiredClaim: Database.Statement;
  insertClaim: Database.Statement;
  claimKey: Database.Statement;
  getClaim: Database.Statement;
  findLiveClaim: Database.Statement;
  getExecution: Database.Statement;
  getSteps: Database.Statement;
  readJournal: Database.Statement;
  insertDefinition: Database.Statement;
  getDefinition: Database.Statement;
  getDefinitions: Database.Statement;
  getDefinitionByHash: Database.Statement;
  listDefinitions: Database.Statement;
  loadCircuits: Database.Statement;
  pruneExecutions: Database.Statement;
  pruneClaims: Database.Statement;
  getStatus: Database.Statement;
  insertCancel: Database.Statement;
  pendingCancels: Database.Statement;
}

/**
 * The list query for one shape of filters (how many statuses and prefixes, which bounds),
 * prepared on first use and kept in `cache` (cleared when the store closes).
 */
export function listStatementFor(
  db: Database.Database,
  cache: Map<string, Database.Statement>,
): (
  statuses: number,
  byWorkflow: boolean,
  afterCursor: boolean,
  prefixes?: number,
  range?: ListRange,
) => Database.Statement {
  return (
    statuses: number,
    byWorkflow: boolean,
    afterCursor: boolean,
    prefixes = 0,
    range: ListRange = NO_RANGE,
  ) => {
    const key = `${statuses}:${byWorkflow}:${afterCursor}:${prefixes}:${range.since}:${range.until}:${range.id}:${range.parent}:${range.fewCorrelated}`;
    let stmt = cache.get(key);
    if (!stmt) {
      const where: string[] = [];
      if (statuses > 0) where.push(`status IN (${Array(statuses).fill('?').join(', ')})`);
      if (byWorkflow) where.push('workflow_id = ?');
      // A prefix compared exactly (LIKE would read % and _ in it as wildcards).
      if (prefixes > 0)
        where.push(
          `(${Array(prefixes)
            .fill(range.fewCorrelated ? CORRELATION_PREFIX_WHERE : CORRELATION_PREFIX_SCAN)
            .join(' OR ')})`,
        );
      where.push(...listRangeWhere(range));
      if (afterCursor) where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      stmt = db.prepare(
        `SELECT ${EXECUTION_COLUMNS} FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      );
      cache.set(key, stmt);
    }
    return stmt;
  };
}
