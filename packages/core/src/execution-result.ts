import type { SerializedError } from '@orchestr8/common';
import type { ExecutionRecord, ExecutionStatus, StepStateRecord } from './types.js';

/** A step's state in a result: its persisted record. */
export type StepResultView = StepStateRecord;

export interface ExecutionResult {
  executionId: string;
  workflowId: string;
  workflowVersion: string;
  status: ExecutionStatus;
  /** The workflow's `outputs`, rendered; or the outputs of its leaf steps when it declares none. */
  outputs?: unknown;
  error?: SerializedError;
  statusReason?: string;
  steps: Record<string, StepResultView>;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  journalDropped?: number;
}

export function buildResult(
  rec: ExecutionRecord,
  steps: readonly StepStateRecord[],
  journalDropped = 0,
): ExecutionResult {
  const view: Record<string, StepResultView> = {};
  for (const s of steps) view[s.stepId] = s;
  return resultOf(rec, view, journalDropped);
}

/** An execution's result over a view of its steps by id. */
export function resultOf(
  rec: ExecutionRecord,
  view: Record<string, StepResultView>,
  journalDropped: number,
): ExecutionResult {
  const r: ExecutionResult = {
    executionId: rec.id,
    workflowId: rec.workflowId,
    workflowVersion: rec.workflowVersion,
    status: rec.status,
    steps: view,
  };
  if (rec.result !== undefined) r.outputs = rec.result;
  if (rec.error !== undefined) r.error = rec.error;
  if (rec.statusReason !== undefined) r.statusReason = rec.statusReason;
  if (rec.startedAt !== undefined) r.startedAt = rec.startedAt;
  if (rec.finishedAt !== undefined) r.finishedAt = rec.finishedAt;
  if (rec.startedAt !== undefined && rec.finishedAt !== undefined)
    r.durationMs = rec.finishedAt - rec.startedAt;
  if (journalDropped > 0) r.journalDropped = journalDropped;
  return r;
}
