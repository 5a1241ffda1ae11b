/**
 * `POST /ask`: the planner over HTTP. The body `{request, run?, inputs?}` is planned with the
 * host's agents and LLM, validated and checked against the operator's capabilities as any
 * document; the answer is the plan, and with `run: true` the execution it started. Errors
 * are orchestr8 errors for the host's error handler (422 VALIDATION with the last errors,
 * 403 CAPABILITY_DENIED with the problems); a body over the limit is 413 PAYLOAD_TOO_LARGE
 * and one that is not JSON 400 INVALID_JSON, as on the server's routes; a failing LLM is a
 * 502 PLANNER_FAILED with the error's own code in `cause`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, ensureError, sendProblem, ValidationError } from '@orchestr8/common';
import type { Agent, Engine } from '@orchestr8/core';
import { type PlanPrompt, plannerAgent, planText, planWorkflow } from './planner.js';

export interface AskHandlerOptions {
  engine: Engine;
  /** The agents plans may use (the host's registry). */
  agents: () => readonly Agent[];
  /** Sends a planning prompt to the host's LLM; resolves with its JSON answer. */
  complete(prompt: PlanPrompt): Promise<unknown>;
  /** Largest request body in bytes. Default 64 KiB. */
  bodyLimit?: number;
  maxRepairs?: number;
}

type Next = (err?: unknown) => void;
const REQUEST_KEYS = new Set(['request', 'run', 'inputs']);

/** The body as JSON, or the problem to answer (status, code, detail) when it cannot be read. */
async function readJson(
  req: IncomingMessage,
  limit: number,
): Promise<{ body: unknown } | { status: number; code: string; detail: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      return {
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        detail: `the request body is larger than ${limit} bytes`,
      };
    chunks.push(chunk as Buffer);
  }
  try {
    return { body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (e) {
    return { status: 400, code: 'INVALID_JSON', detail: `the body is not JSON: ${(e as Error).message}` };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createAskHandler(
  options: AskHandlerOptions,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const limit = options.bodyLimit ?? 64 * 1024;
  return (req, res, next) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) !== '/ask') return next();
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendProblem(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed; use POST`);
    }
    void (async () => {
      const read = await readJson(req, limit);
      if (!('body' in read)) return sendProblem(res, read.status, read.code, read.detail);
      const body = read.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new ValidationError('the body must be a JSON object {"request": "..."}', {
          details: [{ pointer: '', message: 'must be an object' }],
        });
      const b = body as Record<string, unknown>;
      for (const k of Object.keys(b))
        if (!REQUEST_KEYS.has(k))
          throw new ValidationError(`unknown field "${k}"`, {
            details: [{ pointer: `/${k}`, message: `unknown field "${k}"` }],
          });
      if (typeof b.request !== 'string' || b.request.trim() === '' || b.request.length > 4000)
        throw new ValidationError('"request" must say what the workflow should do (1 to 4000 characters)', {
          details: [
            { pointer: '/request', message: 'must be a non-empty string of at most 4000 characters' },
          ],
        });
      if (b.run !== undefined && typeof b.run !== 'boolean')
        throw new ValidationError('"run" must be true or false', {
          details: [{ pointer: '/run', message: 'must be a boolean' }],
        });
      if (
        b.inputs !== undefined &&
        (typeof b.inputs !== 'object' || b.inputs === null || Array.isArray(b.inputs))
      )
        throw new ValidationError('"inputs" must be an object', {
          details: [{ pointer: '/inputs', message: 'must be an object' }],
        });
      let plan: Awaited<ReturnType<typeof planWorkflow>>;
      try {
        plan = await planWorkflow({
          request: b.request,
          agents: options.agents().map(plannerAgent),
          complete: options.complete,
          compile: (doc) => options.engine.compile(doc),
          authorize: (w) => options.engine.authorize(w),
          ...(options.maxRepairs !== undefined ? { maxRepairs: options.maxRepairs } : {}),
        });
      } catch (e) {
        const err = ensureError(e, ErrorCode.INTERNAL);
        // The request's fault: no valid plan, or a plan asking for more than the operator grants.
        if (
          err.code === ErrorCode.CAPABILITY_DENIED ||
          (err.code === ErrorCode.VALIDATION && /^no valid workflow/.test(err.message))
        )
          throw err;
        // The LLM failed (no provider or key, its endpoint refused or timed out): the host's
        // problem, not the request's, whatever the error's own code (kept in `cause`).
        return sendProblem(res, 502, 'PLANNER_FAILED', `planning failed: ${err.message}`, {
          cause: { code: err.code },
        });
      }
      const out: Record<string, unknown> = {
        plan: plan.workflow.document,
        repairs: plan.attempts.length - 1,
        text: planText(plan.workflow),
      };
      if (b.run === true) {
        const handle = await options.engine.start(plan.workflow, { inputs: b.inputs ?? {} });
        out.execution = {
          executionId: handle.id,
          status: 'running',
          location: `/executions/${encodeURIComponent(handle.id)}`,
        };
        return send(res, 202, out);
      }
      send(res, 200, out);
    })().catch(next);
  };
}
