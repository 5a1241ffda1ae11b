/** Column lists of the SQLite tables; the record <-> row mapping is core's shared `sqlRows`. */
import { sqlRows } from '@orchestr8/core';

export type Row = sqlRows.SqlRow;
export type Param = sqlRows.SqlParam;
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

export const EXECUTION_COLUMNS =
  'id, workflow_id, workflow_version, definition_hash, status, inputs, result, error, idempotency_key, ' +
  'correlation_id, parent_execution_id, parent_step_id, status_reason, created_at, started_at, finished_at, updated_at';

export const STEP_COLUMNS =
  'execution_id, step_id, status, attempts, output, error, started_at, finished_at, skip_reason, alias_for, idempotency_key';

export const JOURNAL_COLUMNS = 'execution_id, seq, ts, elapsed_ms, type, step_id, attempt, data';
