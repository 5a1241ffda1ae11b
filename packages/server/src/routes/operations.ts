/**
 * Operations on a finished execution (docs-site/concepts/operations.md):
 * `POST /executions/:id/retry` runs a failed or cancelled execution again in place;
 * `POST /executions/:id/rerun` starts a new execution from one of its steps (or, with
 * `dryRun`, only shows the plan). Both honour `Idempotency-Key` as `/workflows/execute` does.
 * `POST /executions/:id/resume` resumes one a stopped process left running.
 */
import { ErrorCode, hasCode } from '@orchestr8/common';
import { type OperationKey, type RerunPlan, TERMINAL_EXECUTION_STATUSES } from '@orchestr8/core';
import type { Request, Response } from 'express';
import { principalOf } from '../auth.js';
import type { RouteDef, ServerContext } from '../context.js';
import type { RequestInput } from '../contracts/contract.js';
import { rerunExecution, resumeExecution, retryExecution } from '../contracts/operations.js';
import { route } from '../contracts/route.js';
import { idempotencyKeyOf, requestFingerprint, scopedKey } from '../idempotency.js';
import { HttpProblem, ProblemCode } from '../problem.js';

/** Requests are parsed by their contracts (contracts/operations.ts) before these handlers run. */
export function operationRoutes(ctx: ServerContext): RouteDef[] {
  return [
    route(retryExecution, (input, req, res) => retry(ctx, input, req, res)),
    route(rerunExecution, (input, req, res) => rerun(ctx, input, req, res)),
    route(resumeExecution, (_input, req, res) => resume(ctx, req, res)),
  ];
}

/**
 * Resumes an execution left running (or queued) by a process that stopped, in this server,
 * as `orchestr8 resume <id>` does. Asked again while it runs here, it answers the same
 * execution (`resumed: false`). Only for executions whose process is gone: a store cannot
 * tell that a live process still runs one, and two processes would run its steps twice.
 */
async function resume(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  const before = await ctx.engine.getResult(id);
  if (!before) throw new HttpProblem(404, ProblemCode.NOT_FOUND, `no execution "${id}"`);
  if (TERMINAL_EXECUTION_STATUSES.has(before.status)) {
    throw new HttpProblem(
      409,
      ProblemCode.EXECUTION_FINISHED,
      `execution "${id}" already finished (${before.status})`,
      {
        executionStatus: before.status,
      },
    );
  }
  if (before.status === 'waiting') {
    throw new HttpProblem(
      409,
      ProblemCode.CONFLICT,
      `execution "${id}" waits: it resumes when a wait of its ends`,
      {
        executionStatus: before.status,
      },
    );
  }
  const running = ctx.engine.isRunning(id);
  let handle: Awaited<ReturnType<typeof ctx.engine.resume>>;
  try {
    handle = await ctx.engine.resume(id);
  } catch (e) {
    throw problemOf(e, id, false, ProblemCode.EXECUTION_FINISHED);
  }
  res.setHeader('Location', `/executions/${encodeURIComponent(id)}`);
  const now = await ctx.engine.getResult(id);
  res.status(202).json({ executionId: handle.id, status: now?.status ?? before.status, resumed: !running });
}

/** The engine's idempotency options for a request with an `Idempotency-Key`. */
function keyOf(ctx: ServerContext, req: Request, res: Response, path: string, body: unknown): OperationKey {
  const key = idempotencyKeyOf(req);
  if (key === undefined) return {};
  return {
    idempotencyKey: scopedKey(key, principalOf(res)),
    fingerprint: requestFingerprint('POST', path, body),
    idempotencyTtlMs: ctx.idempotencyTtlMs,
  };
}

/** Engine errors as problems: 404, 409 with a stable code, 422 naming the field, 422 for a reused key. */
function problemOf(e: unknown, id: string, keyed: boolean, conflictCode: string): unknown {
  if (hasCode(e, ErrorCode.NOT_FOUND))
    return new HttpProblem(404, ProblemCode.NOT_FOUND, (e as Error).message);
  if (hasCode(e, ErrorCode.CONFLICT)) {
    const details = (e as { details?: { status?: string; reason?: string } }).details;
    if (keyed && details?.reason === undefined) {
      return new HttpProblem(
        422,
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was already used with a different request; use a new key for a new request',
      );
    }
    return new HttpProblem(409, conflictCode, (e as Error).message, {
      executionId: id,
      executionStatus: details?.status,
    });
  }
  if (hasCode(e, ErrorCode.VALIDATION)) {
    const details = (e as { details?: unknown }).details;
    const message = (e as Error).message;
    // A `fromStep` that is no step (or a fallback): the engine names it and the workflow's steps.
    const step = details as { fromStep?: unknown; steps?: unknown } | undefined;
    const fromStep =
      !Array.isArray(details) && typeof step?.fromStep === 'string'
        ? [
            {
              code: 'E_UNKNOWN_STEP',
              severity: 'error',
              pointer: '/fromStep',
              message,
              ...(Array.isArray(step.steps) ? { hint: `one of: ${step.steps.join(', ')}` } : {}),
            },
          ]
        : undefined;
    return new HttpProblem(422, ProblemCode.VALIDATION, message, {
      errors: Array.isArray(details) ? details : (fromStep ?? []),
    });
  }
  return e;
}

async function retry(
  ctx: ServerContext,
  { body }: RequestInput<typeof retryExecution>,
  req: Request,
  res: Response,
): Promise<void> {
  const id = String(req.params.id);
  const reason = body?.reason ?? 'retried over HTTP';
  const key = keyOf(ctx, req, res, `/executions/${id}/retry`, body ?? null);
  let handle: Awaited<ReturnType<typeof ctx.engine.retry>>;
  try {
    handle = await ctx.engine.retry(id, { ...key, reason });
  } catch (e) {
    throw problemOf(e, id, key.idempotencyKey !== undefined, ProblemCode.EXECUTION_NOT_RETRYABLE);
  }
  res.setHeader('Location', `/executions/${encodeURIComponent(id)}`);
  if (!handle.created) res.setHeader('Idempotent-Replayed', 'true');
  const current = await ctx.engine.getResult(id);
  res.status(202).json({ executionId: id, status: current?.status ?? 'queued', retried: handle.retried });
}

async function rerun(
  ctx: ServerContext,
  { body }: RequestInput<typeof rerunExecution>,
  req: Request,
  res: Response,
): Promise<void> {
  const id = String(req.params.id);
  const options = {
    fromStep: body.fromStep,
    ...(body.inputs !== undefined ? { inputs: body.inputs } : {}),
  };
  if (body.dryRun === true) {
    let plan: RerunPlan;
    try {
      plan = await ctx.engine.planRerun(id, options);
    } catch (e) {
      throw problemOf(e, id, false, ProblemCode.EXECUTION_NOT_FINISHED);
    }
    res.status(200).json({ plan });
    return;
  }
  const key = keyOf(ctx, req, res, `/executions/${id}/rerun`, body);
  let started: Awaited<ReturnType<typeof ctx.engine.rerun>>;
  try {
    await ctx.startTurn();
    started = await ctx.engine.rerun(id, { ...options, ...key });
  } catch (e) {
    throw problemOf(e, id, key.idempotencyKey !== undefined, ProblemCode.EXECUTION_NOT_FINISHED);
  }
  const newId = started.handle.id;
  res.setHeader('Location', `/executions/${encodeURIComponent(newId)}`);
  if (!started.handle.created) res.setHeader('Idempotent-Replayed', 'true');
  res
    .status(202)
    .json({ executionId: newId, rerunOf: { executionId: id, fromStep: body.fromStep }, plan: started.plan });
}
