import { createHash, timingSafeEqual } from 'node:crypto';
import { PROBLEM_CONTENT_TYPE, problemBody, problemInstance } from '@orchestr8/common';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Outcome } from './flow-control.js';
import type { Scheduler } from './scheduler.js';

/**
 * HTTP routes of the triggers, for the server to mount (`createServer({ routers })`):
 * - public (before API-key auth): `POST /hooks/:workflow/:name` — a signed webhook
 *   authenticates by its signature; an unsigned one needs an API key when the server has keys;
 * - behind auth: `GET /triggers`, `POST /triggers/:workflow/:name/{pause,resume,run,backfill}`.
 * `POST /events` is the server's own (it also wakes waiting executions): pass
 * `onEvent: triggerEventHook(scheduler)` to `createServer` so it starts event triggers too.
 * Bodies are read here (raw, for the signature), not by the server's JSON parser.
 */
export interface TriggerRouterOptions {
  scheduler: Scheduler;
  /** Largest body, bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** The server's API keys: an unsigned webhook must present one when there are any. */
  apiKeys?: readonly string[];
}

/** A problem answer, as the server's (the same helpers; this package does not depend on it). */
function problem(
  res: Response,
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): void {
  res
    .status(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(
      JSON.stringify(problemBody(status, code, detail, extensions, problemInstance(res.req.originalUrl))),
    );
}

function readBody(req: Request, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const digest = (k: string) => createHash('sha256').update(k).digest();

const droppedDetail: Record<Extract<Outcome, { status: 'dropped' }>['reason'], string> = {
  rate_limited: "the firing was dropped: over the trigger's rate limit",
  queue_full: "the firing was dropped: the trigger's queue is full",
  skipped: "the firing was skipped by the trigger's overlap policy",
};

export function createTriggerRouter(
  options: TriggerRouterOptions,
): { handler: RequestHandler; public?: boolean }[] {
  const { scheduler } = options;
  const limit = options.bodyLimit ?? 1024 * 1024;
  const keys = (options.apiKeys ?? []).map(digest);
  const hasKey = (req: Request) => {
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    const key = (req.headers['x-api-key'] as string | undefined) ?? auth;
    if (key === undefined) return false;
    const d = digest(key);
    let ok = false;
    for (const k of keys) if (timingSafeEqual(d, k)) ok = true;
    return ok;
  };

  const hooks = express.Router();
  hooks.post('/hooks/:workflow/:name', async (req, res, next) => {
    try {
      const body = await readBody(req, limit);
      if (body === 'too_large')
        return problem(res, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`);
      const { workflow, name } = req.params as { workflow: string; name: string };
      const info = (await scheduler.list()).find((t) => t.workflowId === workflow && t.name === name);
      if (info && !info.signed && keys.length > 0 && !hasKey(req))
        return problem(res, 401, 'UNAUTHORIZED', 'an unsigned webhook needs an API key on this server');
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') query[k] = v;
      const r = await scheduler.webhook(workflow, name, { rawBody: body, headers: req.headers, query });
      if (r.status === 404) return problem(res, 404, 'NOT_FOUND', r.reason);
      if (r.status === 401) return problem(res, 401, 'SIGNATURE_INVALID', r.reason);
      if (r.status === 503) return problem(res, 503, 'TRIGGER_UNAVAILABLE', r.reason);
      if (r.status === 200) return void res.status(200).json({ duplicate: true, deliveryId: r.deliveryId });
      if (r.status === 409) {
        res.setHeader('Retry-After', '1');
        return problem(res, 409, 'CONFLICT', r.reason, { deliveryId: r.deliveryId });
      }
      if (r.outcome.status === 'failed')
        // Nothing started (inputs or keys not rendered, or the start failed): a problem like any error.
        return problem(
          res,
          422,
          r.outcome.code ?? 'VALIDATION',
          r.outcome.error,
          r.deliveryId ? { deliveryId: r.deliveryId } : {},
        );
      const delivered = r.deliveryId ? { deliveryId: r.deliveryId } : {};
      if (r.outcome.status === 'dropped') {
        // As POST /workflows/execute over its policies.flow: a problem, with the reason kept.
        const { reason, retryAfterMs } = r.outcome;
        if (retryAfterMs !== undefined)
          res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
        return problem(res, 429, 'RATE_LIMITED', droppedDetail[reason], {
          reason,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          ...delivered,
        });
      }
      res.status(202).json({ ...r.outcome, ...delivered });
    } catch (e) {
      next(e);
    }
  });

  const api = express.Router();
  const json = async (req: Request, res: Response): Promise<unknown> => {
    const body = await readBody(req, limit);
    if (body === 'too_large') {
      problem(res, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`);
      return undefined;
    }
    if (body.length === 0) return {};
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      problem(res, 400, 'VALIDATION', 'the body is not valid JSON');
      return undefined;
    }
  };
  api.get('/triggers', async (_req, res, next) => {
    try {
      res.json({ items: await scheduler.list() });
    } catch (e) {
      next(e);
    }
  });
  const op =
    (fn: (w: string, n: string, body: Record<string, unknown>) => Promise<unknown>): RequestHandler =>
    async (req, res, next) => {
      try {
        const body = (await json(req, res)) as Record<string, unknown> | undefined;
        if (body === undefined) return;
        const { workflow, name } = req.params as { workflow: string; name: string };
        res.json((await fn(workflow, name, body)) ?? { ok: true });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'NOT_FOUND') return problem(res, 404, 'NOT_FOUND', (e as Error).message);
        if (code === 'VALIDATION') return problem(res, 422, 'VALIDATION', (e as Error).message);
        next(e);
      }
    };
  api.post(
    '/triggers/:workflow/:name/pause',
    op((w, n) => scheduler.pause(w, n)),
  );
  api.post(
    '/triggers/:workflow/:name/resume',
    op((w, n) => scheduler.resume(w, n)),
  );
  api.post(
    '/triggers/:workflow/:name/run',
    op((w, n) => scheduler.runNow(w, n)),
  );
  api.post(
    '/triggers/:workflow/:name/backfill',
    op(async (w, n, body) => {
      const from = Date.parse(String(body.from));
      const to = Date.parse(String(body.to));
      if (!Number.isFinite(from) || !Number.isFinite(to) || from > to)
        throw Object.assign(new Error('backfill needs "from" and "to" as ISO-8601 times, from <= to'), {
          code: 'VALIDATION',
        });
      const r = await scheduler.backfill(w, n, from, to);
      return { occurrences: r.map((x) => ({ time: new Date(x.time).toISOString(), ...x.outcome })) };
    }),
  );
  return [{ handler: hooks, public: true }, { handler: api }];
}

/**
 * The server's `onEvent` hook: an event `POST /events` accepted also starts the event
 * triggers it matches; their outcomes are merged into the response as `triggers`.
 */
export function triggerEventHook(
  scheduler: Scheduler,
): (event: { name: string; id: string; payload: unknown }) => Promise<Record<string, unknown>> {
  return async (e) => ({ triggers: await scheduler.emit({ name: e.name, id: e.id, data: e.payload ?? {} }) });
}
