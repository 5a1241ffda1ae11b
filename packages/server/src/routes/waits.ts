/**
 * Waits: events (`POST /events`), signals to one execution, and approvals (list, approve,
 * reject). Events and signals are idempotent by their id (the body's `id`, else the
 * `Idempotency-Key` header): the same id again is accepted once and wakes nothing more; an
 * event or a decision repeated with its `Idempotency-Key`, and a signal repeated with its id,
 * get the first answer (remembered as long as execute's keys), and the key reused for a different
 * request is refused with 422 like execute's.
 */
import { ErrorCode, hasCode } from '@orchestr8/common';
import { approvalPage, type Decision, type EventDelivery } from '@orchestr8/core';
import type { Request, Response } from 'express';
import { principalOf } from '../auth.js';
import type { RouteDef, ServerContext } from '../context.js';
import type { RequestInput } from '../contracts/contract.js';
import { route } from '../contracts/route.js';
import { approveStep, emitEvent, listApprovals, rejectStep, signalExecution } from '../contracts/waits.js';
import { badRequest } from '../http.js';
import { idempotencyKeyOf, requestFingerprint, scopedKey } from '../idempotency.js';
import { HttpProblem, ProblemCode } from '../problem.js';

/** Also told of every event `POST /events` accepts, e.g. to start event triggers. */
export type EventHook = (event: {
  name: string;
  id: string;
  payload: unknown;
}) => Promise<Record<string, unknown> | undefined>;

/** Requests are parsed by their contracts (contracts/waits.ts) before these handlers run. */
export function waitRoutes(ctx: ServerContext, onEvent?: EventHook): RouteDef[] {
  return [
    route(emitEvent, (input, req, res) => sendEvent(ctx, input, req, res, onEvent)),
    route(signalExecution, (input, req, res) => signal(ctx, input, req, res)),
    route(listApprovals, (input, _req, res) => approvals(ctx, input, res)),
    route(approveStep, (input, req, res) => decide(ctx, input, req, res, 'approve')),
    route(rejectStep, (input, req, res) => decide(ctx, input, req, res, 'reject')),
  ];
}

async function sendEvent(
  ctx: ServerContext,
  { body: b }: RequestInput<typeof emitEvent>,
  req: Request,
  res: Response,
  onEvent?: EventHook,
): Promise<void> {
  const name = b.name;
  const given = idempotencyKeyOf(req);
  const id = b.id ?? given;
  // `data` is what event triggers have called the payload.
  const payload = b.payload !== undefined ? b.payload : (b.data ?? null);
  const deliver = async () => {
    const delivery: Record<string, unknown> & EventDelivery = {
      ...(await ctx.engine.sendEvent({ name, payload, ...(id !== undefined ? { id } : {}) })),
    };
    if (onEvent !== undefined && delivery.accepted)
      Object.assign(delivery, await onEvent({ name, id: delivery.id, payload }));
    return delivery;
  };
  const waits = ctx.store.waits;
  if (given === undefined || waits?.getAnswer === undefined || waits.putAnswer === undefined) {
    res.status(202).json(await deliver());
    return;
  }
  // With an Idempotency-Key the first delivery's answer is remembered (as execute's keys):
  // the same request again gets it back, another request under the key is refused.
  const key = `event:${scopedKey(given, principalOf(res))}`;
  const fingerprint = requestFingerprint('POST', '/events', b);
  const answer = (first: { fingerprint: string; answer: unknown }) => {
    if (first.fingerprint !== fingerprint) throw keyReused();
    res.setHeader('Idempotent-Replayed', 'true');
    res.status(202).json(first.answer);
  };
  const first = await waits.getAnswer(key, Date.now());
  if (first !== undefined) return answer(first);
  const delivery = await deliver();
  const now = Date.now();
  const raced = await waits.putAnswer(
    key,
    { fingerprint, answer: delivery, expiresAt: now + ctx.idempotencyTtlMs },
    now,
  );
  if (raced !== undefined) return answer(raced);
  res.status(202).json(delivery);
}

const keyReused = () =>
  new HttpProblem(
    422,
    ProblemCode.IDEMPOTENCY_KEY_REUSED,
    'this Idempotency-Key was already used with a different request; use a new key for a new request',
  );

/** A key reused for another request: 422 as for execute; other conflicts stay 409. */
async function keyed<T>(key: string | undefined, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const reused = (e as { details?: { idempotencyKeyReused?: unknown } }).details?.idempotencyKeyReused;
    if (key !== undefined && hasCode(e, ErrorCode.CONFLICT) && reused === true) throw keyReused();
    throw e;
  }
}

async function signal(
  ctx: ServerContext,
  { body: b }: RequestInput<typeof signalExecution>,
  req: Request,
  res: Response,
): Promise<void> {
  const given = b?.id ?? idempotencyKeyOf(req);
  const id = given === undefined ? undefined : scopedKey(given, principalOf(res));
  const payload = b?.payload ?? null;
  const delivery = await keyed(id, () =>
    ctx.engine.signal(String(req.params.id), String(req.params.name), payload, id, {
      idempotencyTtlMs: ctx.idempotencyTtlMs,
    }),
  );
  // The id as the caller gave it (the principal scoping is the server's business).
  res.status(202).json(given === undefined ? delivery : { ...delivery, id: `${req.params.id}:${given}` });
}

async function approvals(
  ctx: ServerContext,
  { query: { limit, cursor } }: RequestInput<typeof listApprovals>,
  res: Response,
): Promise<void> {
  let page: Awaited<ReturnType<typeof approvalPage>>;
  try {
    page = await approvalPage((q) => ctx.engine.approvals(q), limit, cursor);
  } catch (e) {
    const parameter = (e as { details?: { parameter?: unknown } }).details?.parameter;
    if (!(hasCode(e, ErrorCode.VALIDATION) && parameter === 'cursor')) throw e;
    throw badRequest('the cursor is not valid', [
      { pointer: '/query/cursor', message: 'is not a cursor from this API' },
    ]);
  }
  if (page.nextCursor !== undefined) {
    const q = new URLSearchParams({ limit: String(limit), cursor: page.nextCursor });
    res.setHeader('Link', `</approvals?${q}>; rel="next"`);
  }
  res.json(page);
}

async function decide(
  ctx: ServerContext,
  { body }: Pick<RequestInput<typeof approveStep | typeof rejectStep>, 'body'>,
  req: Request,
  res: Response,
  decision: Decision['decision'],
): Promise<void> {
  const b = body ?? {};
  const { by, comment } = b;
  const executionId = String(req.params.id);
  const stepId = String(req.params.step);
  const given = idempotencyKeyOf(req);
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
