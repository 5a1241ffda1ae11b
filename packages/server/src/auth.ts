/**
 * API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>`. Keys are compared as
 * sha256 digests with a constant-time comparison, so neither a key's length nor its
 * prefix leaks through timing. A request's principal is a short digest of its key: it
 * scopes idempotency keys and rate limits, and never reveals the key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { RequestHandler } from 'express';
import { HttpProblem, ProblemCode } from './problem.js';

/** The caller's principal, set by the auth middleware when API keys are on. */
export function principalOf(res: { locals: Record<string, unknown> }): string | undefined {
  const p = res.locals.principal;
  return typeof p === 'string' ? p : undefined;
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/** `ORCHESTR8_API_KEYS`-style lists: comma-separated, blanks ignored. */
export function parseApiKeys(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

function presentedKey(
  authorization: string | undefined,
  apiKeyHeader: string | string[] | undefined,
): string | undefined {
  if (typeof apiKeyHeader === 'string' && apiKeyHeader.length > 0) return apiKeyHeader;
  if (authorization) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (m) return m[1];
  }
  return undefined;
}

/** Paths that never need a key: liveness and readiness probes, and the API description. */
const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/openapi.json']);

export function apiKeyAuth(keys: readonly string[]): RequestHandler {
  const digests = keys.map((k) => ({
    digest: digest(k),
    principal: digest(`principal:${k}`).toString('hex').slice(0, 16),
  }));
  return (req, res, next) => {
    if (PUBLIC_PATHS.has(req.path)) return next();
    const key = presentedKey(req.headers.authorization, req.headers['x-api-key']);
    if (key !== undefined) {
      const d = digest(key);
      let principal: string | undefined;
      // Compare against every key (no early exit) so timing does not tell which one matched.
      for (const k of digests) if (timingSafeEqual(d, k.digest)) principal = k.principal;
      if (principal !== undefined) {
        res.locals.principal = principal;
        return next();
      }
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="orchestr8"');
    next(
      new HttpProblem(
        401,
        ProblemCode.UNAUTHORIZED,
        key === undefined
          ? 'an API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"'
          : 'the API key is not valid',
      ),
    );
  };
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}
