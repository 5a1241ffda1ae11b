/**
 * One structured log line per request, written once the response is sent or the client went
 * away (then `aborted: true`, without `status` when no response was started). Headers and
 * bodies are never logged: only the method, path, status, timing, the caller's principal (a
 * digest, never the key), and the ids that tie the request to an execution: `X-Request-Id`
 * (taken from the request when well-formed, else generated, and echoed), the execution id,
 * and the body's `options.correlationId`.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { principalOf } from './auth.js';
import type { ServerLogger } from './problem.js';

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;
const EXECUTION_LOCATION = /^\/executions\/([^/?]+)/;

export function requestLog(logger: ServerLogger): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    // At a level that drops request lines (serve --log-level warn), nothing more to do.
    if (logger.infoEnabled?.() === false) return next();
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      const data: Record<string, unknown> = {
        requestId,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round(Number(process.hrtime.bigint() - start) / 1e3) / 1e3,
        remoteAddress: req.socket.remoteAddress,
      };
      if (!res.writableFinished) {
        // The client went away first (mid-request, or before the response was complete).
        data.aborted = true;
        if (!res.headersSent) delete data.status;
      }
      const principal = principalOf(res);
      if (principal !== undefined) data.principal = principal;
      const location = res.getHeader('location');
      const m = typeof location === 'string' ? EXECUTION_LOCATION.exec(location) : null;
      if (m) data.executionId = decodeURIComponent(m[1]!);
      const correlationId = (req.body as { options?: { correlationId?: unknown } } | undefined)?.options
        ?.correlationId;
      if (typeof correlationId === 'string') data.correlationId = correlationId;
      logger.info('request', data);
    };
    res.once('finish', log);
    res.once('close', log);
    next();
  };
}
