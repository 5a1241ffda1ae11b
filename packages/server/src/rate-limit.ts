/**
 * Per-client rate limiting (express-rate-limit, in-memory, per process): a client is its
 * API key when keys are on, else its IP address. Over the limit: 429 with `Retry-After`
 * and the draft-7 `RateLimit` headers. Health probes are never limited.
 */
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { principalOf } from './auth.js';
import { ProblemCode, sendProblem } from './problem.js';

const EXEMPT = new Set(['/healthz', '/readyz']);

export function rateLimiter(options: { windowMs?: number; limit?: number }): RequestHandler {
  const windowMs = options.windowMs ?? 60_000;
  return rateLimit({
    windowMs,
    limit: options.limit ?? 6000,
    // draft-7 headers: draft-8's partition key costs a sha256 per request.
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skip: (req) => EXEMPT.has(req.path),
    keyGenerator: (req, res) => {
      const principal = principalOf(res);
      return principal !== undefined ? `key:${principal}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (_req, res) => {
      if (!res.getHeader('Retry-After')) res.setHeader('Retry-After', String(Math.ceil(windowMs / 1000)));
      sendProblem(
        res,
        429,
        ProblemCode.RATE_LIMITED,
        'too many requests from this client; retry after the time in Retry-After',
      );
    },
  });
}
