/**
 * CORS, off unless configured. Only listed origins (or `*`) get the CORS headers; a
 * preflight is answered here with the methods and headers the API uses.
 */
import type { RequestHandler } from 'express';

const ALLOW_HEADERS =
  'Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, Last-Event-ID, Prefer, X-API-Key';
const EXPOSE_HEADERS =
  'ETag, Location, Idempotent-Replayed, Preference-Applied, Retry-After, Link, RateLimit, RateLimit-Policy';

export function corsMiddleware(origins: readonly string[] | '*'): RequestHandler {
  const any = origins === '*' || origins.includes('*');
  const allowed = new Set(origins === '*' ? [] : origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    res.append('Vary', 'Origin');
    if (!origin || (!any && !allowed.has(origin))) return next();
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT');
      res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
