/**
 * Executions: start one (`POST /workflows/execute`), list, read, read the journal, cancel.
 */
import { type Context, context, propagation, trace } from '@opentelemetry/api';
import { ErrorCode, hasCode } from '@orchestr8/common';
import {
  type ExecutionHandle,
  type ExecutionRecord,
  type ExecutionResult,
  ExecutionStatus,
  type StartOptions,
  TERMINAL_EXECUTION_STATUSES,
} from '@orchestr8/core';
import type { Request, Response } from 'express';
import { principalOf } from '../auth.js';
import type { RouteDef, ServerContext } from '../context.js';
import { badRequest, checkDepth, queryInt, queryList, queryString, sendTagged, waitMs } from '../http.js';
import { parseIdempotencyKey, requestFingerprint, scopedKey } from '../idempotency.js';
import { HttpProblem, ProblemCode } from '../problem.js';
import { redactorForExecution, redactorForWorkflow } from '../redacted-views.js';
import { executionLinks, queryTime } from './execution-view.js';

const MAX_BODY_DEPTH = 128;
const EXECUTE_KEYS = new Set(['workflow', 'workflowId', 'version', 'inputs', 'options']);
const OPTION_KEYS = new Set(['correlationId', 'maxConcurrentSteps']);
const STATUSES = new Set<string>(Object.values(ExecutionStatus));

export function executionRoutes(ctx: ServerContext): RouteDef[] {
  return [
    { method: 'post', path: '/workflows/execute', handler: (req, res) => execute(ctx, req, res) },
    { method: 'get', path: '/executions', handler: (req, res) => list(ctx, req, res) },
    { method: 'get', path: '/executions/:id', handler: (req, res) => get(ctx, req, res) },
    { method: 'get', path: '/executions/:id/journal', handler: (req, res) => journal(ctx, req, res) },
    { method: 'post', path: '/executions/:id/cancel', handler: (req, res) => cancel(ctx, req, res) },
  ];
}

interface ExecuteBody {
  workflow?: unknown;
  workflowId?: string;
  version?: string;
  inputs?: unknown;
  options?: { correlationId?: string; maxConcurrentSteps?: number };
}

/** Checks the envelope; the document and the inputs are checked by the schema package and the engine. */
function parseExecuteBody(body: unknown): ExecuteBody {
  if (body === undefined)
    throw badRequest('a JSON body is required: {"workflow": {...}} or {"workflowId": "..."}');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('the body must be a JSON object', [{ pointer: '', message: 'must be an object' }]);
  }
  checkDepth(body, MAX_BODY_DEPTH);
  const b = body as Record<string, unknown>;
  const errors: { pointer: string; message: string }[] = [];
  for (const k of Object.keys(b))
    if (!EXECUTE_KEYS.has(k)) errors.push({ pointer: `/${k}`, message: `unknown field "${k}"` });
  const hasDoc = b.workflow !== undefined;
  const hasId = b.workflowId !== undefined;
  if (hasDoc === hasId)
    errors.push({ pointer: '', message: 'give exactly one of "workflow" (a document) and "workflowId"' });
  if (
    hasDoc &&
    (typeof b.workflow !== 'object' || b.workflow === null || Array.isArray(b.workflow)) &&
    typeof b.workflow !== 'string'
  ) {
    errors.push({
      pointer: '/workflow',
      message: 'must be a workflow document (an object, or YAML/JSON text)',
    });
  }
  if (hasId && (typeof b.workflowId !== 'string' || b.workflowId === ''))
    errors.push({ pointer: '/workflowId', message: 'must be a non-empty string' });
  if (b.version !== undefined) {
    if (typeof b.version !== 'string' || b.version === '')
      errors.push({ pointer: '/version', message: 'must be a non-empty string' });
    else if (!hasId) errors.push({ pointer: '/version', message: '"version" goes with "workflowId"' });
  }
  if (
    b.inputs !== undefined &&
    (typeof b.inputs !== 'object' || b.inputs === null || Array.isArray(b.inputs))
  ) {
    errors.push({ pointer: '/inputs', message: 'must be an object' });
  }
  const o = b.options;
  if (o !== undefined) {
    if (typeof o !== 'object' || o === null || Array.isArray(o))
      errors.push({ pointer: '/options', message: 'must be an object' });
    else {
      const opts = o as Record<string, unknown>;
      for (const k of Object.keys(opts))
        if (!OPTION_KEYS.has(k)) errors.push({ pointer: `/options/${k}`, message: `unknown option "${k}"` });
      if (
        opts.correlationId !== undefined &&
        (typeof opts.correlationId !== 'string' || opts.correlationId.length > 255)
      ) {
        errors.push({
          pointer: '/options/correlationId',
          message: 'must be a string of at most 255 characters',
        });
      }
      const m = opts.maxConcurrentSteps;
      if (m !== undefined && (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > 10_000)) {
        errors.push({
          pointer: '/options/maxConcurrentSteps',
          message: 'must be an integer from 1 to 10000',
        });
      }
    }
  }
  if (errors.length > 0) throw badRequest(errors[0]!.message, errors);
  return b as ExecuteBody;
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

async function execute(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const key = parseIdempotencyKey(req.headers['idempotency-key']);
  const wait = waitMs(req, ctx.maxWaitSeconds);
  const body = parseExecuteBody(req.body);
  const resolved =
    body.workflow !== undefined
      ? ctx.resolver.inline(body.workflow)
      : await ctx.resolver.registered(body.workflowId!, body.version);
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
      res.on('close', () => left.abort());
      const gated = await ctx.executeGate(
        { workflow: resolved.workflow, inputs: opts.inputs, signal: left.signal },
        start,
      );
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
      res.status(200).json(redactor.redact(result));
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

async function list(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const statuses = queryList(req, 'status');
  for (const s of statuses ?? []) {
    if (!STATUSES.has(s)) {
      throw badRequest(`unknown status "${s}"`, [
        { pointer: '/query/status', message: `must be one of ${[...STATUSES].join(', ')}` },
      ]);
    }
  }
  const workflowId = queryString(req, 'workflowId') ?? queryString(req, 'workflow');
  // What started it: `?trigger=<name>` (trigger:<name>@<time> or #<id>), `?correlationId=<prefix>`.
  const trigger = queryString(req, 'trigger');
  const correlationId = queryString(req, 'correlationId');
  const correlationIdPrefix =
    trigger !== undefined ? [`trigger:${trigger}@`, `trigger:${trigger}#`] : correlationId;
  const limit = queryInt(req, 'limit', 1, 1000) ?? 50;
  const cursor = queryString(req, 'cursor');
  // Created in [since, until), and the search by id prefix.
  const since = queryTime(req, 'since');
  const until = queryTime(req, 'until');
  const idPrefix = queryString(req, 'idPrefix');
  const parentExecutionId = queryString(req, 'parentExecutionId');
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

async function journal(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  const after =
    queryInt(req, 'cursor', 0, Number.MAX_SAFE_INTEGER) ??
    queryInt(req, 'after', 0, Number.MAX_SAFE_INTEGER) ??
    0;
  const limit = queryInt(req, 'limit', 1, 10_000) ?? 1000;
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

async function cancel(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  const body: unknown = req.body;
  let reason = 'cancelled over HTTP';
  if (body !== undefined) {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('the body must be a JSON object');
    const r = (body as { reason?: unknown }).reason;
    if (r !== undefined) {
      if (typeof r !== 'string' || r.length > 1000) {
        throw badRequest('"reason" must be a string of at most 1000 characters', [
          { pointer: '/reason', message: 'must be a short string' },
        ]);
      }
      reason = r;
    }
  }
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
