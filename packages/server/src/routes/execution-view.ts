/**
 * What the console needs beside an execution's result: where it came from (inputs, what
 * started it, its parent, the execution it reruns) and what came from it (its sub-workflow
 * executions, its reruns).
 */
import { type ExecutionRecord, rerunOf, rerunPrefix } from '@orchestr8/core';
import type { ServerContext } from '../context.js';

/** Reruns and children listed in an execution's view (newest first); the rest by `GET /executions`. */
const MAX_LINKED = 100;

/** The links and provenance of an execution, for `GET /executions/:id`. */
export async function executionLinks(
  ctx: ServerContext,
  record: ExecutionRecord,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { inputs: record.inputs, createdAt: record.createdAt };
  if (record.correlationId !== undefined) out.correlationId = record.correlationId;
  const trigger = /^trigger:([^@#]+)[@#]/.exec(record.correlationId ?? '');
  if (trigger) out.trigger = trigger[1];
  if (record.parentExecutionId !== undefined) {
    out.parent = { executionId: record.parentExecutionId, stepId: record.parentStepId };
  }
  const children = await ctx.store.listExecutions({ parentExecutionId: record.id, limit: MAX_LINKED });
  if (children.items.length > 0) {
    out.children = children.items.map((e) => ({
      executionId: e.id,
      stepId: e.parentStepId,
      workflowId: e.workflowId,
      status: e.status,
      createdAt: e.createdAt,
    }));
  }
  const of = rerunOf(record);
  if (of !== undefined) out.rerunOf = of;
  const reruns = await ctx.store.listExecutions({
    correlationIdPrefix: rerunPrefix(record.id),
    limit: MAX_LINKED,
  });
  if (reruns.items.length > 0) {
    out.reruns = reruns.items.map((e) => ({
      executionId: e.id,
      fromStep: rerunOf(e)?.fromStep,
      status: e.status,
      createdAt: e.createdAt,
    }));
  }
  return out;
}
