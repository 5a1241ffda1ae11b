/**
 * Waits: events (`POST /events`), signals to one execution, and approvals (list, approve,
 * reject). Events and signals are idempotent by their id (the body's `id`, else the
 * `Idempotency-Key` header): the same id again is accepted once and wakes nothing more; a
 * signal repeated with its id, and a decision repeated with its `Idempotency-Key`, get the
 * first answer (remembered as long as execute's keys), and the key reused for a different
 * request is refused with 422 like execute's.
 */
import { ErrorCode, hasCode } from '@orchestr8/common';
import type { Decision, EventDelivery } from '@orchestr8/core';
import type { Request, Response } from 'express';
import { principalOf } from '../auth.js';
import type { RouteDef, ServerContext } from '../context.js';
import { badRequest, checkDepth } from '../http.js';
import { parseIdempotencyKey, scopedKey } from '../idempotency.js';
import { HttpProblem, ProblemCode } from '../problem.js';

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

/** A key reused for another request: 422 as for execute; other conflicts stay 409. */
async function keyed<T>(key: string | undefined, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const reused = (e as { details?: { idempotencyKeyReused?: unknown } }).details?.idempotencyKeyReused;
    if (key !== undefined && hasCode(e, ErrorCode.CONFLICT) && reused === true)
      throw new HttpProblem(
        422,
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was already used with a different request; use a new key for a new request',
      );
    throw e;
  }
}

async function signal(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const b = objectBody(req.body);
  const given = optionalString(b, 'id') ?? parseIdempotencyKey(req.headers['idempotency-key']);
  const id = given === undefined ? undefined : scopedKey(given, principalOf(res));
  const payload = b.payload ?? null;
  const delivery = await keyed(id, () =>
    ctx.engine.signal(String(req.params.id), String(req.params.name), payload, id, {
      idempotencyTtlMs: ctx.idempotencyTtlMs,
    }),
  );
  // The id as the caller gave it (the principal scoping is the server's business).
  res.status(202).json(given === undefined ? delivery : { ...delivery, id: `${req.params.id}:${given}` });
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
  const given = parseIdempotencyKey(req.headers['idempotency-key']);
  const key = given === undefined ? undefined : scopedKey(given, principalOf(res));
  const result = await keyed(key, () =>
    ctx.engine.decide(executionId, stepId, {
      decision,
      ...(by !== undefined ? { by } : {}),
      ...(b.data !== undefined ? { data: b.data } : {}),
      ...(comment !== undefined ? { comment } : {}),
      ...(key !== undefined ? { idempotencyKey: key, idempotencyTtlMs: ctx.idempotencyTtlMs } : {}),
    }),
  );
  res.status(202).json(result);
}
