/**
 * Executions: start one (`POST /workflows/execute`), list, read, read the journal, cancel.
 */
import { type Context, context, propagation, trace } from '@opentelemetry/api';
import { ErrorCode, hasCode } from '@orchestr8/common';
import {
  type ExecutionHandle,
  type ExecutionRecord,
  type ExecutionResult,
  type ExecutionStatus,
  type StartOptions,
  TERMINAL_EXECUTION_STATUSES,
} from '@orchestr8/core';
import type { Request, Response } from 'express';
import { principalOf } from '../auth.js';
import type { RouteDef, ServerContext } from '../context.js';
import type { RequestInput } from '../contracts/contract.js';
import {
  cancelExecution,
  execute as executeContract,
  getExecution,
  getJournal,
  listExecutions,
  timeOf,
} from '../contracts/executions.js';
import { route } from '../contracts/route.js';
import { badRequest, sendJson, sendTagged, waitMs } from '../http.js';
import { idempotencyKeyOf, requestFingerprint, scopedKey } from '../idempotency.js';
import { HttpProblem, ProblemCode } from '../problem.js';
import { redactorForExecution, redactorForWorkflow } from '../redacted-views.js';
import { refuseReservedId } from '../workflow-resolver.js';
import { executionLinks } from './execution-view.js';

/** Requests are parsed by their contracts (contracts/executions.ts) before these handlers run. */
export function executionRoutes(ctx: ServerContext): RouteDef[] {
  return [
    route(executeContract, (input, req, res) => execute(ctx, input, req, res)),
    route(listExecutions, (input, _req, res) => list(ctx, input, res)),
    route(getExecution, (_input, req, res) => get(ctx, req, res)),
    route(getJournal, (input, req, res) => journal(ctx, input, req, res)),
    route(cancelExecution, (input, req, res) => cancel(ctx, input, req, res)),
  ];
}

function isTerminal(status: string): boolean {
  return TERMINAL_EXECUTION_STATUSES.has(status as ExecutionStatus);
}

/** The result once the execution is terminal, or undefined after `ms` (or on shutdown). */
function waitForResult(
  ctx: ServerContext,
  handle: ExecutionHandle,
  ms: number,
): Promise<ExecutionResult | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ExecutionResult | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ctx.lifecycle.waiters.delete(release);
      resolve(r);
    };
    const release = () => done(undefined);
    const timer = setTimeout(release, ms);
    ctx.lifecycle.waiters.add(release);
    handle.result.then((r) => done(isTerminal(r.status) ? r : undefined), release);
  });
}

/**
 * A W3C `traceparent` (and `tracestate`) makes the execution's span a child of the caller's,
 * through the globally registered propagator (none, and so nothing, without an SDK). When
 * an HTTP instrumentation already made a server span for the request, that span is active
 * and is the parent instead.
 */
function incomingTraceContext(req: Request): Context | undefined {
  if (req.headers.traceparent === undefined) return undefined;
  const active = context.active();
  if (trace.getSpan(active) !== undefined) return undefined;
  return propagation.extract(active, req.headers);
}

async function execute(
  ctx: ServerContext,
  { body, query }: RequestInput<typeof executeContract>,
  req: Request,
  res: Response,
): Promise<void> {
  const key = idempotencyKeyOf(req);
  const wait = waitMs(req, ctx.maxWaitSeconds, query.wait);
  const resolved =
    body.workflow !== undefined
      ? ctx.resolver.inline(body.workflow)
      : await ctx.resolver.registered(body.workflowId!, body.version);
  // An inline document is registered as it starts: not under an id that names a route.
  if (body.workflow !== undefined) refuseReservedId(resolved.workflow.id);
  const opts: StartOptions = { inputs: body.inputs ?? {} };
  const traceContext = incomingTraceContext(req);
  if (traceContext !== undefined) opts.traceContext = traceContext;
  if (key !== undefined) {
    opts.idempotencyKey = scopedKey(key, principalOf(res));
    opts.fingerprint = requestFingerprint('POST', '/workflows/execute', body);
    opts.idempotencyTtlMs = ctx.idempotencyTtlMs;
  }
  if (body.options?.correlationId !== undefined) opts.correlationId = body.options.correlationId;
  if (body.options?.maxConcurrentSteps !== undefined)
    opts.maxConcurrentSteps = body.options.maxConcurrentSteps;
  let handle: ExecutionHandle;
  const start = async () => {
    await ctx.startTurn();
    return ctx.engine.start(resolved.workflow, opts);
  };
  try {
    if (ctx.executeGate) {
      // policies.flow: may wait for a slot of its key (a client that leaves starts nothing), or refuse.
      const left = new AbortController();
      const onClose = () => left.abort();
      res.once('close', onClose);
      const gated = await ctx
        .executeGate({ workflow: resolved.workflow, inputs: opts.inputs, signal: left.signal }, start)
        .finally(() => res.off('close', onClose));
      if ('refused' in gated)
        throw new HttpProblem(
          429,
          ProblemCode.RATE_LIMITED,
          gated.detail,
          { reason: gated.refused },
          {
            'Retry-After': String(Math.max(1, Math.ceil((gated.retryAfterMs ?? 1000) / 1000))),
          },
        );
      handle = gated;
    } else handle = await start();
    // An inline document may have registered a new version of its workflow.
    if (body.workflow !== undefined) ctx.resolver.invalidate(resolved.workflow.id);
  } catch (e) {
    if (key !== undefined && hasCode(e, ErrorCode.CONFLICT)) {
      throw new HttpProblem(
        422,
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was already used with a different request; use a new key for a new request',
      );
    }
    if (hasCode(e, ErrorCode.VALIDATION)) {
      const details = (e as { details?: unknown }).details;
      throw new HttpProblem(
        422,
        ProblemCode.VALIDATION,
        "the inputs do not match the workflow's inputs schema",
        {
          errors: Array.isArray(details) ? details : [],
        },
      );
    }
    throw e;
  }
  res.setHeader('Location', `/executions/${encodeURIComponent(handle.id)}`);
  if (!handle.created) res.setHeader('Idempotent-Replayed', 'true');
  // Results carry step outputs, which the store keeps whole: shown redacted.
  const redactor = handle.created
    ? redactorForWorkflow(resolved.workflow)
    : await redactorForExecution(ctx, handle.id);
  if (wait > 0) {
    res.setHeader('Preference-Applied', `wait=${Math.round(wait / 1000)}`);
    const result = await waitForResult(ctx, handle, wait);
    if (result) {
      sendJson(res, 200, redactor.redact(result));
      return;
    }
  }
  const current = await ctx.engine.getResult(handle.id);
  res.status(202).json(current ? redactor.redact(current) : { executionId: handle.id, status: 'queued' });
}

/** The summary of an execution in a list. */
export function summary(r: ExecutionRecord): Record<string, unknown> {
  const s: Record<string, unknown> = {
    executionId: r.id,
    workflowId: r.workflowId,
    workflowVersion: r.workflowVersion,
    status: r.status,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  if (r.statusReason !== undefined) s.statusReason = r.statusReason;
  if (r.correlationId !== undefined) s.correlationId = r.correlationId;
  if (r.startedAt !== undefined) s.startedAt = r.startedAt;
  if (r.finishedAt !== undefined) s.finishedAt = r.finishedAt;
  if (r.error !== undefined) s.error = r.error;
  return s;
}

async function list(
  ctx: ServerContext,
  { query }: RequestInput<typeof listExecutions>,
  res: Response,
): Promise<void> {
  const statuses = query.status;
  const workflowId = query.workflowId ?? query.workflow;
  // What started it: `?trigger=<name>` (trigger:<name>@<time> or #<id>), `?correlationId=<prefix>`.
  const { trigger, correlationId, limit, cursor, idPrefix, parentExecutionId } = query;
  const correlationIdPrefix =
    trigger !== undefined ? [`trigger:${trigger}@`, `trigger:${trigger}#`] : correlationId;
  // Created in [since, until), and the search by id prefix.
  const since = query.since === undefined ? undefined : timeOf(query.since);
  const until = query.until === undefined ? undefined : timeOf(query.until);
  let page: Awaited<ReturnType<typeof ctx.store.listExecutions>>;
  try {
    page = await ctx.store.listExecutions({
      limit,
      ...(statuses && statuses.length > 0 ? { status: statuses as ExecutionStatus[] } : {}),
      ...(workflowId !== undefined ? { workflowId } : {}),
      ...(correlationIdPrefix !== undefined ? { correlationIdPrefix } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(idPrefix !== undefined ? { idPrefix } : {}),
      ...(parentExecutionId !== undefined ? { parentExecutionId } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
    });
  } catch (e) {
    if (hasCode(e, ErrorCode.VALIDATION))
      throw badRequest('the cursor is not valid', [
        { pointer: '/query/cursor', message: 'is not a cursor from this API' },
      ]);
    throw e;
  }
  const out: Record<string, unknown> = { items: page.items.map(summary) };
  if (page.nextCursor !== undefined) {
    out.nextCursor = page.nextCursor;
    const q = new URLSearchParams();
    if (statuses && statuses.length > 0) q.set('status', statuses.join(','));
    if (workflowId !== undefined) q.set('workflowId', workflowId);
    if (trigger !== undefined) q.set('trigger', trigger);
    else if (correlationId !== undefined) q.set('correlationId', correlationId);
    if (since !== undefined) q.set('since', String(since));
    if (until !== undefined) q.set('until', String(until));
    if (idPrefix !== undefined) q.set('idPrefix', idPrefix);
    if (parentExecutionId !== undefined) q.set('parentExecutionId', parentExecutionId);
    q.set('limit', String(limit));
    q.set('cursor', page.nextCursor);
    res.setHeader('Link', `</executions?${q}>; rel="next"`);
  }
  res.json(out);
}

async function get(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  const result = await ctx.engine.getResult(id);
  if (!result) throw new HttpProblem(404, ProblemCode.NOT_FOUND, `no execution "${id}"`);
  const record = await ctx.store.getExecution(id);
  const view = record === undefined ? result : { ...result, ...(await executionLinks(ctx, record)) };
  // Redacted before the ETag is computed: the tag of a body with secrets would be a hash of them.
  sendTagged(req, res, (await redactorForExecution(ctx, id)).redact(view));
}

async function journal(
  ctx: ServerContext,
  { query }: RequestInput<typeof getJournal>,
  req: Request,
  res: Response,
): Promise<void> {
  const id = String(req.params.id);
  const after = query.cursor ?? query.after ?? 0;
  const limit = query.limit;
  if (!ctx.engine.isRunning(id) && !(await ctx.store.getExecution(id))) {
    throw new HttpProblem(404, ProblemCode.NOT_FOUND, `no execution "${id}"`);
  }
  const redactor = await redactorForExecution(ctx, id);
  const entries = await ctx.store.readJournal(id, { afterSeq: after, limit });
  if (entries.length === limit) {
    const next = entries[entries.length - 1]!.seq;
    res.setHeader(
      'Link',
      `</executions/${encodeURIComponent(id)}/journal?cursor=${next}&limit=${limit}>; rel="next"`,
    );
  }
  res.type('application/x-ndjson');
  // Entries are redacted when written; again here, for rows written by older versions,
  // which let secrets in keys and deep values through.
  res.send(entries.map((e) => `${JSON.stringify(redactor.redact(e))}\n`).join(''));
}

async function cancel(
  ctx: ServerContext,
  { body }: RequestInput<typeof cancelExecution>,
  req: Request,
  res: Response,
): Promise<void> {
  const id = String(req.params.id);
  const reason = body?.reason ?? 'cancelled over HTTP';
  const current = await ctx.engine.getResult(id);
  if (!current) throw new HttpProblem(404, ProblemCode.NOT_FOUND, `no execution "${id}"`);
  const redactor = await redactorForExecution(ctx, id);
  if (isTerminal(current.status)) {
    throw new HttpProblem(
      409,
      ProblemCode.EXECUTION_FINISHED,
      `execution "${id}" already finished (${current.status})`,
      {
        executionStatus: current.status,
      },
    );
  }
  const requestedAt = Date.now();
  let delivery: 'in-process' | 'recorded' = 'in-process';
  if (!ctx.engine.cancel(id, { reason })) {
    delivery = 'recorded';
    // Run by another process on the same store, or left running and not resumed yet: record
    // the request durably; whichever engine runs (or resumes) it stops it.
    const outcome = await ctx.store.requestCancel(id, reason, requestedAt);
    if (outcome === 'not_found') throw new HttpProblem(404, ProblemCode.NOT_FOUND, `no execution "${id}"`);
    if (outcome === 'finished') {
      const now = await ctx.engine.getResult(id);
      throw new HttpProblem(
        409,
        ProblemCode.EXECUTION_FINISHED,
        `execution "${id}" already finished (${now?.status})`,
        {
          executionStatus: now?.status,
        },
      );
    }
  }
  res.setHeader('Location', `/executions/${encodeURIComponent(id)}`);
  // `status` stays what is true now (usually still running, through the grace period);
  // `cancelRequested` and `cancelRequest` say the request was taken and who acts on it.
  const execution = (await ctx.engine.getResult(id)) ?? current;
  res.status(202).json(
    redactor.redact({
      ...execution,
      cancelRequested: true,
      cancelRequest: { reason, requestedAt, delivery },
    }),
  );
}
