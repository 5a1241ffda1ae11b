/**
 * Waits: events (`POST /events`), signals to one execution, and approvals (list, approve,
 * reject). Events and signals are idempotent by their id (the body's `id`, else the
 * `Idempotency-Key` header): the same id again is accepted once and wakes nothing more.
 */
import type { Decision, EventDelivery } from '@orchestr8/core';
import type { Request, Response } from 'express';
import type { RouteDef, ServerContext } from '../context.js';
import { badRequest, checkDepth } from '../http.js';
import { parseIdempotencyKey } from '../idempotency.js';

/** Also told of every event `POST /events` accepts, e.g. to start event triggers. */
export type EventHook = (event: {
  name: string;
  id: string;
  payload: unknown;
}) => Promise<Record<string, unknown> | undefined>;

const MAX_BODY_DEPTH = 128;

export function waitRoutes(ctx: ServerContext, onEvent?: EventHook): RouteDef[] {
  return [
    { method: 'post', path: '/events', handler: (req, res) => sendEvent(ctx, req, res, onEvent) },
    { method: 'post', path: '/executions/:id/signals/:name', handler: (req, res) => signal(ctx, req, res) },
    { method: 'get', path: '/approvals', handler: (_req, res) => approvals(ctx, res) },
    {
      method: 'post',
      path: '/executions/:id/steps/:step/approve',
      handler: (req, res) => decide(ctx, req, res, 'approve'),
    },
    {
      method: 'post',
      path: '/executions/:id/steps/:step/reject',
      handler: (req, res) => decide(ctx, req, res, 'reject'),
    },
  ];
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest('the body must be a JSON object', [{ pointer: '', message: 'must be an object' }]);
  checkDepth(body, MAX_BODY_DEPTH);
  return body as Record<string, unknown>;
}

function optionalString(b: Record<string, unknown>, key: string): string | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '')
    throw badRequest(`"${key}" must be a non-empty string`, [
      { pointer: `/${key}`, message: 'must be a non-empty string' },
    ]);
  return v;
}

async function sendEvent(
  ctx: ServerContext,
  req: Request,
  res: Response,
  onEvent?: EventHook,
): Promise<void> {
  const b = objectBody(req.body);
  const name = optionalString(b, 'name');
  if (name === undefined)
    throw badRequest('an event needs a "name"', [{ pointer: '/name', message: 'required' }]);
  const id = optionalString(b, 'id') ?? parseIdempotencyKey(req.headers['idempotency-key']);
  // `data` is what event triggers have called the payload.
  const payload = b.payload !== undefined ? b.payload : (b.data ?? null);
  const delivery: Record<string, unknown> & EventDelivery = {
    ...(await ctx.engine.sendEvent({
      name,
      payload,
      ...(id !== undefined ? { id } : {}),
    })),
  };
  if (onEvent !== undefined && delivery.accepted)
    Object.assign(delivery, await onEvent({ name, id: delivery.id, payload }));
  res.status(202).json(delivery);
}

async function signal(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const b = objectBody(req.body);
  const id = optionalString(b, 'id') ?? parseIdempotencyKey(req.headers['idempotency-key']);
  const payload = b.payload ?? null;
  res.status(202).json(await ctx.engine.signal(String(req.params.id), String(req.params.name), payload, id));
}

async function approvals(ctx: ServerContext, res: Response): Promise<void> {
  const items = (await ctx.engine.approvals()).map((w) => ({
    executionId: w.executionId,
    stepId: w.stepId,
    workflowId: w.workflowId,
    title: w.approval?.title,
    ...(w.approval?.description !== undefined ? { description: w.approval.description } : {}),
    ...(w.approval?.form !== undefined ? { form: w.approval.form } : {}),
    ...(w.approval?.approvers !== undefined ? { approvers: w.approval.approvers } : {}),
    ...(w.dueAt !== undefined ? { dueAt: new Date(w.dueAt).toISOString() } : {}),
    createdAt: new Date(w.createdAt).toISOString(),
  }));
  res.json({ items });
}

async function decide(
  ctx: ServerContext,
  req: Request,
  res: Response,
  decision: Decision['decision'],
): Promise<void> {
  const b = objectBody(req.body);
  const by = optionalString(b, 'by');
  const comment = optionalString(b, 'comment');
  const executionId = String(req.params.id);
  const stepId = String(req.params.step);
  await ctx.engine.decide(executionId, stepId, {
    decision,
    ...(by !== undefined ? { by } : {}),
    ...(b.data !== undefined ? { data: b.data } : {}),
    ...(comment !== undefined ? { comment } : {}),
  });
  res.status(202).json({ executionId, stepId, decision: decision === 'approve' ? 'approved' : 'rejected' });
}
