/**
 * Record <-> row mapping shared by the SQL stores (SQLite, PostgreSQL): one column per record
 * field, JSON payloads in TEXT columns. An `undefined` field is SQL NULL and comes back absent
 * (not null), while a JSON `null` is the text `null`, so the two stay distinct. Each store keeps
 * only its own column lists and statements.
 */
import type { SerializedError } from '@orchestr8/common';
import type {
  CircuitStateRecord,
  DefinitionRecord,
  ExecutionRecord,
  IdempotencyRecord,
  JournalEntry,
  StepStateRecord,
} from './types.js';

/** A row as SQL drivers return it: column name -> value. */
export type SqlRow = Record<string, unknown>;
/** A bound parameter. */
export type SqlParam = string | number | null;

export const json = (value: unknown): string | null =>
  value === undefined ? null : (JSON.stringify(value) ?? null);
const opt = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

export function executionParams(e: ExecutionRecord): SqlParam[] {
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

export function toExecution(r: SqlRow): ExecutionRecord {
  const e = {
    id: r.id,
    workflowId: r.workflow_id,
    workflowVersion: r.workflow_version,
    definitionHash: r.definition_hash,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  } as ExecutionRecord;
  if (r.inputs !== null) e.inputs = JSON.parse(r.inputs as string);
  if (r.result !== null) e.result = JSON.parse(r.result as string);
  if (r.error !== null) e.error = JSON.parse(r.error as string);
  if (r.idempotency_key !== null) e.idempotencyKey = r.idempotency_key as string;
  if (r.correlation_id !== null) e.correlationId = r.correlation_id as string;
  if (r.parent_execution_id !== null) e.parentExecutionId = r.parent_execution_id as string;
  if (r.parent_step_id !== null) e.parentStepId = r.parent_step_id as string;
  if (r.status_reason !== null) e.statusReason = r.status_reason as string;
  if (r.started_at !== null) e.startedAt = r.started_at as number;
  if (r.finished_at !== null) e.finishedAt = r.finished_at as number;
  return e;
}

/**
 * A step's `nextAttemptAt` rides in its error column (no migration): it is set only while the
 * step waits out a back-off, when the step has no error of its own.
 */
const NEXT_ATTEMPT_AT = '$nextAttemptAt';

export function stepParams(s: StepStateRecord): SqlParam[] {
  return [
    s.executionId,
    s.stepId,
    s.status,
    s.attempts,
    json(s.output),
    json(s.nextAttemptAt === undefined ? s.error : { ...s.error, [NEXT_ATTEMPT_AT]: s.nextAttemptAt }),
    opt(s.startedAt),
    opt(s.finishedAt),
    // One column holds why a step was skipped or cancelled.
    opt(s.statusReason ?? s.skipReason),
    opt(s.aliasFor),
    opt(s.idempotencyKey),
  ];
}

export function toStep(r: SqlRow): StepStateRecord {
  const s = {
    executionId: r.execution_id,
    stepId: r.step_id,
    status: r.status,
    attempts: r.attempts,
  } as StepStateRecord;
  if (r.output !== null) s.output = JSON.parse(r.output as string);
  if (r.error !== null) {
    const { [NEXT_ATTEMPT_AT]: due, ...error } = JSON.parse(r.error as string) as Record<string, unknown>;
    if (typeof due === 'number') s.nextAttemptAt = due;
    if (due === undefined || Object.keys(error).length > 0) s.error = error as unknown as SerializedError;
  }
  if (r.started_at !== null) s.startedAt = r.started_at as number;
  if (r.finished_at !== null) s.finishedAt = r.finished_at as number;
  if (r.skip_reason !== null) {
    s.statusReason = r.skip_reason as string;
    if (s.status === 'skipped') s.skipReason = s.statusReason;
  }
  if (r.alias_for !== null) s.aliasFor = r.alias_for as string;
  if (r.idempotency_key !== null) s.idempotencyKey = r.idempotency_key as string;
  return s;
}

export function journalParams(executionId: string, j: JournalEntry): SqlParam[] {
  return [executionId, j.seq, j.ts, j.elapsedMs, j.type, opt(j.stepId), opt(j.attempt), json(j.data)];
}

export function toJournalEntry(r: SqlRow): JournalEntry {
  const j = { seq: r.seq, ts: r.ts, elapsedMs: r.elapsed_ms, type: r.type } as JournalEntry;
  if (r.step_id !== null) j.stepId = r.step_id as string;
  if (r.attempt !== null) j.attempt = r.attempt as number;
  if (r.data !== null) j.data = JSON.parse(r.data as string);
  return j;
}

export function toDefinition(r: SqlRow): DefinitionRecord {
  return {
    id: r.id as string,
    version: r.version as string,
    hash: r.hash as string,
    document: JSON.parse(r.document as string),
    createdAt: r.created_at as number,
  };
}

export function toIdempotency(r: SqlRow): IdempotencyRecord {
  return {
    key: r.key as string,
    fingerprint: r.fingerprint as string,
    executionId: r.execution_id as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
  };
}

export function circuitParams(c: CircuitStateRecord): SqlParam[] {
  return [c.key, c.state, c.failures, opt(c.openUntil), c.updatedAt];
}

export function toCircuit(r: SqlRow): CircuitStateRecord {
  const c = {
    key: r.key,
    state: r.state,
    failures: r.failures,
    updatedAt: r.updated_at,
  } as CircuitStateRecord;
  if (r.open_until !== null) c.openUntil = r.open_until as number;
  return c;
}
