/**
 * Record <-> row mapping. JSON payloads are TEXT columns holding JSON: an `undefined`
 * field is SQL NULL and comes back absent, a JSON `null` is the text `null`.
 *
 * Writes go through `unnest` of one array per column: one statement (and one prepared
 * plan) whatever the number of rows.
 */
import type {
  CircuitStateRecord,
  DefinitionRecord,
  ExecutionRecord,
  IdempotencyRecord,
  JournalEntry,
  StepStateRecord,
} from '@orchestr8/core';

export type Row = Record<string, unknown>;

export const json = (value: unknown): string | null =>
  value === undefined ? null : (JSON.stringify(value) ?? null);
const opt = <T>(value: T | undefined): T | null => (value === undefined ? null : value);
const parse = (text: unknown): unknown => JSON.parse(text as string);

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

export function executionParams(e: ExecutionRecord): unknown[] {
  return [
    e.id,
    e.workflowId,
    e.workflowVersion,
    e.definitionHash,
    e.status,
    json(e.inputs),
    json(e.result),
    json(e.error),
    opt(e.idempotencyKey),
    opt(e.correlationId),
    opt(e.parentExecutionId),
    opt(e.parentStepId),
    opt(e.statusReason),
    e.createdAt,
    opt(e.startedAt),
    opt(e.finishedAt),
    e.updatedAt,
  ];
}

export const EXECUTION_SELECT = names(EXECUTION_COLUMNS);

export function toExecution(r: Row): ExecutionRecord {
  const e = {
    id: r.id,
    workflowId: r.workflow_id,
    workflowVersion: r.workflow_version,
    definitionHash: r.definition_hash,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  } as ExecutionRecord;
  if (r.inputs !== null) e.inputs = parse(r.inputs);
  if (r.result !== null) e.result = parse(r.result);
  if (r.error !== null) e.error = parse(r.error) as ExecutionRecord['error'];
  if (r.idempotency_key !== null) e.idempotencyKey = r.idempotency_key as string;
  if (r.correlation_id !== null) e.correlationId = r.correlation_id as string;
  if (r.parent_execution_id !== null) e.parentExecutionId = r.parent_execution_id as string;
  if (r.parent_step_id !== null) e.parentStepId = r.parent_step_id as string;
  if (r.status_reason !== null) e.statusReason = r.status_reason as string;
  if (r.started_at !== null) e.startedAt = r.started_at as number;
  if (r.finished_at !== null) e.finishedAt = r.finished_at as number;
  return e;
}

export function stepParams(s: StepStateRecord): unknown[] {
  return [
    s.executionId,
    s.stepId,
    s.status,
    s.attempts,
    json(s.output),
    json(s.error),
    opt(s.startedAt),
    opt(s.finishedAt),
    opt(s.skipReason),
    opt(s.aliasFor),
    opt(s.idempotencyKey),
  ];
}

export const STEP_SELECT = names(STEP_COLUMNS);

export function toStep(r: Row): StepStateRecord {
  const s = {
    executionId: r.execution_id,
    stepId: r.step_id,
    status: r.status,
    attempts: r.attempts,
  } as StepStateRecord;
  if (r.output !== null) s.output = parse(r.output);
  if (r.error !== null) s.error = parse(r.error) as StepStateRecord['error'];
  if (r.started_at !== null) s.startedAt = r.started_at as number;
  if (r.finished_at !== null) s.finishedAt = r.finished_at as number;
  if (r.skip_reason !== null) s.skipReason = r.skip_reason as string;
  if (r.alias_for !== null) s.aliasFor = r.alias_for as string;
  if (r.idempotency_key !== null) s.idempotencyKey = r.idempotency_key as string;
  return s;
}

export function journalParams(executionId: string, j: JournalEntry): unknown[] {
  return [executionId, j.seq, j.ts, j.elapsedMs, j.type, opt(j.stepId), opt(j.attempt), json(j.data)];
}

export const JOURNAL_SELECT = names(JOURNAL_COLUMNS);

export function toJournalEntry(r: Row): JournalEntry {
  const j = { seq: r.seq, ts: r.ts, elapsedMs: r.elapsed_ms, type: r.type } as JournalEntry;
  if (r.step_id !== null) j.stepId = r.step_id as string;
  if (r.attempt !== null) j.attempt = r.attempt as number;
  if (r.data !== null) j.data = parse(r.data);
  return j;
}

export function toDefinition(r: Row): DefinitionRecord {
  return {
    id: r.id as string,
    version: r.version as string,
    hash: r.hash as string,
    document: parse(r.document),
    createdAt: r.created_at as number,
  };
}

export function toIdempotency(r: Row): IdempotencyRecord {
  return {
    key: r.key as string,
    fingerprint: r.fingerprint as string,
    executionId: r.execution_id as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
  };
}

export function circuitParams(c: CircuitStateRecord): unknown[] {
  return [c.key, c.state, c.failures, opt(c.openUntil), c.updatedAt];
}

export function toCircuit(r: Row): CircuitStateRecord {
  const c = {
    key: r.key,
    state: r.state,
    failures: r.failures,
    updatedAt: r.updated_at,
  } as CircuitStateRecord;
  if (r.open_until !== null) c.openUntil = r.open_until as number;
  return c;
}
