/**
 * Record <-> row mapping. JSON payloads are TEXT columns holding JSON: an `undefined`
 * field is SQL NULL and comes back absent, a JSON `null` is the text `null`.
 *
 * Writes go through `unnest` of one array per column: one statement (and one prepared
 * plan) whatever the number of rows.
 */
import { sqlRows } from '@orchestr8/core';

export type Row = sqlRows.SqlRow;
export const {
  json,
  executionParams,
  toExecution,
  stepParams,
  toStep,
  journalParams,
  toJournalEntry,
  toDefinition,
  toIdempotency,
  circuitParams,
  toCircuit,
} = sqlRows;

/** Column name and PostgreSQL array type, in table order. */
type Columns = readonly (readonly [string, string])[];

export const EXECUTION_COLUMNS: Columns = [
  ['id', 'text'],
  ['workflow_id', 'text'],
  ['workflow_version', 'text'],
  ['definition_hash', 'text'],
  ['status', 'text'],
  ['inputs', 'text'],
  ['result', 'text'],
  ['error', 'text'],
  ['idempotency_key', 'text'],
  ['correlation_id', 'text'],
  ['parent_execution_id', 'text'],
  ['parent_step_id', 'text'],
  ['status_reason', 'text'],
  ['created_at', 'int8'],
  ['started_at', 'int8'],
  ['finished_at', 'int8'],
  ['updated_at', 'int8'],
];

export const STEP_COLUMNS: Columns = [
  ['execution_id', 'text'],
  ['step_id', 'text'],
  ['status', 'text'],
  ['attempts', 'int4'],
  ['output', 'text'],
  ['error', 'text'],
  ['started_at', 'int8'],
  ['finished_at', 'int8'],
  ['skip_reason', 'text'],
  ['alias_for', 'text'],
  ['idempotency_key', 'text'],
];

export const JOURNAL_COLUMNS: Columns = [
  ['execution_id', 'text'],
  ['seq', 'int8'],
  ['ts', 'int8'],
  ['elapsed_ms', 'float8'],
  ['type', 'text'],
  ['step_id', 'text'],
  ['attempt', 'int4'],
  ['data', 'text'],
];

export const CIRCUIT_COLUMNS: Columns = [
  ['key', 'text'],
  ['state', 'text'],
  ['failures', 'int4'],
  ['open_until', 'int8'],
  ['updated_at', 'int8'],
];

export const names = (columns: Columns): string =>
  columns.map(([c]) => (c === 'key' ? '"key"' : c)).join(', ');

/**
 * `INSERT INTO table (cols) SELECT * FROM unnest($k::t[], ...)` with parameters numbered
 * from `first`; `conflict` is appended (an `ON CONFLICT` clause).
 */
export function unnestInsert(table: string, columns: Columns, first: number, conflict: string): string {
  const arrays = columns.map(([, type], i) => `$${first + i}::${type}[]`).join(', ');
  return `INSERT INTO ${table} (${names(columns)}) SELECT * FROM unnest(${arrays}) ${conflict}`;
}

/** `ON CONFLICT (key) DO UPDATE SET every other column = EXCLUDED.column`. */
export function upsertClause(columns: Columns, key: readonly string[]): string {
  const sets = columns
    .map(([c]) => (c === 'key' ? '"key"' : c))
    .filter((c) => !key.includes(c))
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ');
  return `ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${sets}`;
}

/** Column arrays for `unnest`, from rows of parameters. */
export function toColumns(columnCount: number, rows: readonly unknown[][]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: columnCount }, () => new Array(rows.length));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let c = 0; c < columnCount; c++) cols[c]![r] = row[c];
  }
  return cols;
}

export const EXECUTION_SELECT = names(EXECUTION_COLUMNS);

export const STEP_SELECT = names(STEP_COLUMNS);

export const JOURNAL_SELECT = names(JOURNAL_COLUMNS);
