/**
 * What the console needs beside an execution's result: where it came from (inputs, what
 * started it, its parent, the execution it reruns) and what came from it (its sub-workflow
 * executions, its reruns); and
 * the time-range query parameters of the executions list.
 */
import { type ExecutionRecord, rerunOf, rerunPrefix } from '@orchestr8/core';
import type { Request } from 'express';
import type { ServerContext } from '../context.js';
import { badRequest, queryString } from '../http.js';

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

/** `?since=` / `?until=`: epoch milliseconds or an ISO-8601 date-time; 400 naming the parameter otherwise. */
export function queryTime(req: Request, name: string): number | undefined {
  const v = queryString(req, name);
  if (v === undefined) return undefined;
  const n = /^\d{1,15}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(n)) {
    throw badRequest(`"${name}" must be epoch milliseconds or an ISO-8601 date-time, not "${v}"`, [
      { pointer: `/query/${name}`, message: 'must be epoch milliseconds or an ISO-8601 date-time' },
    ]);
  }
  return n;
}
