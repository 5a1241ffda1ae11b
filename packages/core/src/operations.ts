/**
 * The records behind retry and rerun (see docs-site/concepts/operations.md): what a retry
 * writes to take a finished execution back, and what a rerun copies from its original.
 * The engine (engine.ts) checks, commits and launches; this file only builds records.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { CompiledWorkflow } from '@orchestr8/schema';
import { EventType } from './events.js';
import { fallbacksOf, type RerunPlan } from './rerun-plan.js';
import type { StoreWrite } from './store.js';
import type { ExecutionRecord, ExecutionStatus, JournalEntry, StepStateRecord } from './types.js';

/** The statuses an execution can be retried from. */
export const RETRYABLE_STATUSES: readonly ExecutionStatus[] = ['failed', 'cancelled'];

/** The correlation id of an execution started by a rerun: what the original lists its reruns by. */
export function rerunCorrelationId(originalId: string, fromStep: string): string {
  return `${rerunPrefix(originalId)}${fromStep}`;
}

export function rerunPrefix(originalId: string): string {
  return `rerun:${originalId}@`;
}

/** The execution and step a rerun started from, read back from its correlation id. */
export function rerunOf(record: {
  correlationId?: string;
}): { executionId: string; fromStep: string } | undefined {
  const c = record.correlationId;
  if (c === undefined || !c.startsWith('rerun:')) return undefined;
  const at = c.lastIndexOf('@');
  if (at <= 'rerun:'.length) return undefined;
  return { executionId: c.slice('rerun:'.length, at), fromStep: c.slice(at + 1) };
}

/** CONFLICT for an execution that cannot be retried now: it runs, waits, or completed. */
export function notRetryable(executionId: string, status: ExecutionStatus): Orchestr8Error {
  const why =
    status === 'completed'
      ? 'it completed (rerun it from a step to run steps again)'
      : `it is ${status} (only a failed or cancelled execution can be retried; cancel it first)`;
  return new Orchestr8Error(ErrorCode.CONFLICT, `execution "${executionId}" cannot be retried: ${why}`, {
    retryable: false,
    details: { executionId, status, reason: 'not_retryable' },
  });
}

/**
 * The writes that take a failed or cancelled execution back for a retry: the steps to run
 * again (and their fallbacks) reset to pending with no attempts (a fresh retry budget), the
 * execution queued with its error cleared, and a journal entry saying what runs again.
 */
export function retryWrites(
  workflow: CompiledWorkflow,
  record: ExecutionRecord,
  steps: readonly StepStateRecord[],
  retried: readonly string[],
  lastSeq: number,
  now: number,
  reason: string,
): StoreWrite[] {
  const previous = new Map(steps.map((s) => [s.stepId, s]));
  const byId = new Map(workflow.steps.map((c) => [c.id, c]));
  const writes: StoreWrite[] = [];
  for (const id of [...retried, ...fallbacksOf(workflow, retried)]) {
    const step: StepStateRecord = { executionId: record.id, stepId: id, status: 'pending', attempts: 0 };
    // A new key per retry, so agents that deduplicate by it (and sub-workflows, which are
    // found again by it) run afresh; a key the document templates is rendered again.
    if (byId.get(id)?.policies.idempotencyKey === undefined)
      step.idempotencyKey = nextRetryKey(record.id, id, previous.get(id)?.idempotencyKey);
    writes.push({ kind: 'step', step });
  }
  const { error, result, finishedAt, ...rest } = record;
  const execution: ExecutionRecord = {
    ...rest,
    // The run starts over, and so does its global timeout (the journal keeps the first start).
    startedAt: now,
    status: 'queued',
    statusReason: `retried: ${retried.join(', ') || 'the workflow outputs'}`,
    updatedAt: now,
  };
  writes.push({ kind: 'execution', execution });
  const data: Record<string, unknown> = { steps: [...retried], previousStatus: record.status, reason };
  if (error !== undefined) data.previousError = error;
  const entry: JournalEntry = {
    seq: lastSeq + 1,
    ts: now,
    elapsedMs: 0,
    type: EventType.executionRetried,
    data,
  };
  writes.push({ kind: 'journal', executionId: record.id, entries: [entry] });
  return writes;
}

function nextRetryKey(executionId: string, stepId: string, previous: string | undefined): string {
  const base = `${executionId}:${stepId}`;
  const m = previous?.startsWith(base) ? /#retry(\d+)$/.exec(previous) : null;
  return `${base}#retry${m ? Number(m[1]) + 1 : 1}`;
}

/** The original's records of the reused steps (and of their fallbacks), as records of the new execution. */
export function reusedSteps(
  workflow: CompiledWorkflow,
  steps: readonly StepStateRecord[],
  plan: RerunPlan,
  executionId: string,
): StepStateRecord[] {
  const keep = new Set([...plan.reused, ...fallbacksOf(workflow, plan.reused)]);
  const out: StepStateRecord[] = [];
  for (const s of steps) {
    if (!keep.has(s.stepId)) continue;
    const { idempotencyKey: _key, nextAttemptAt: _next, ...copy } = s;
    out.push({ ...copy, executionId });
  }
  return out;
}

/** The first journal entry of a rerun: where it comes from and its plan. */
export function rerunEntry(originalId: string, fromStep: string, plan: RerunPlan, now: number): JournalEntry {
  return {
    seq: 1,
    ts: now,
    elapsedMs: 0,
    type: EventType.executionRerun,
    data: { of: originalId, fromStep, ...plan },
  };
}

/** The top-level inputs of a rerun: the original's, with the given ones replacing theirs. */
export function rerunInputs(original: unknown, changes: Record<string, unknown> | undefined): unknown {
  if (changes === undefined) return original;
  const base =
    typeof original === 'object' && original !== null && !Array.isArray(original)
      ? (original as Record<string, unknown>)
      : {};
  return { ...base, ...changes };
}
