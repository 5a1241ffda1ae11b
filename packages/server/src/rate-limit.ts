/**
 * Per-client rate limiting: a token bucket per client (its API key when keys are on, else
 * its IP address), in memory, per process. A client may send `limit` requests a minute,
 * sustained, and bursts of up to `burst` at once; over that it gets 429 with `Retry-After`
 * (seconds until a request would pass) and the draft-7 `RateLimit` headers.
 *
 * Loopback clients are not limited by default: they are on this machine, a local service
 * calling its engine in a loop is the common case, and a fixed budget only turned them away.
 * A loopback request that carries `Forwarded` or `X-Forwarded-For` came through a proxy on
 * this machine and is limited like any other client (with the proxy's address as its key).
 * Health probes are never limited.
 */
import type { Clock } from '@orchestr8/common';
import type { Request, RequestHandler } from 'express';
import { principalOf } from './auth.js';
import { ProblemCode, sendProblem } from './problem.js';

export interface RateLimitOptions {
  /** Requests a minute per client, sustained. Default 6000 (100 a second). */
  limit?: number;
  /** Requests a client may send at once after a quiet spell. Default a sixth of `limit` (10 s of it), at least 1. */
  burst?: number;
  /** Limit loopback clients too. Default false. */
  loopback?: boolean;
  /** The period `limit` is counted over, in ms. Default 60,000. */
  windowMs?: number;
}

const EXEMPT = new Set(['/healthz', '/readyz']);
/** Buckets kept before full (idle) ones are dropped. */
const SWEEP_AT = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms: addresses only this machine can use. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (address.startsWith('127.')) return true;
  if (address === '::1') return true;
  return address.startsWith('::ffff:127.');
}

/** The client a request counts against, or undefined when it is not limited. */
function clientOf(req: Request, limitLoopback: boolean, principal: string | undefined): string | undefined {
  const address = req.socket.remoteAddress;
  if (
    !limitLoopback &&
    isLoopbackAddress(address) &&
    req.headers.forwarded === undefined &&
    req.headers['x-forwarded-for'] === undefined
  )
    return undefined;
  if (principal !== undefined) return `key:${principal}`;
  // IPv6 clients by their /64: one host usually holds a whole prefix.
  if (address?.includes(':') && !address.startsWith('::ffff:')) return `ip:${prefix64(address)}`;
  return `ip:${address ?? ''}`;
}

/** The /64 prefix of an IPv6 address, in one spelling (`2001:db8::1` and `2001:DB8:0:0::2` alike). */
export function prefix64(address: string): string {
  const bare = address.split('%')[0]!.toLowerCase();
  const [head, tail] = bare.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export function rateLimiter(
  options: RateLimitOptions = {},
  clock: Pick<Clock, 'now'> = { now: Date.now },
): RequestHandler {
  const windowMs = options.windowMs ?? 60_000;
  const limit = options.limit ?? 6000;
  const burst = Math.max(1, Math.floor(options.burst ?? limit / 6));
  const perMs = limit / windowMs;
  const limitLoopback = options.loopback ?? false;
  const policy = `${limit};w=${Math.round(windowMs / 1000)}`;
  const buckets = new Map<string, Bucket>();

  const sweep = (now: number) => {
    for (const [key, b] of buckets) if (b.tokens + (now - b.at) * perMs >= burst) buckets.delete(key);
  };

  return (req, res, next) => {
    const client = EXEMPT.has(req.path) ? undefined : clientOf(req, limitLoopback, principalOf(res));
    if (client === undefined) return next();
    const now = clock.now();
    let bucket = buckets.get(client);
    if (bucket === undefined) {
      if (buckets.size >= SWEEP_AT) sweep(now);
      bucket = { tokens: burst, at: now };
      buckets.set(client, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
      bucket.at = now;
    }
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const remaining = Math.floor(bucket.tokens);
    const untilFull = Math.ceil((burst - bucket.tokens) / perMs / 1000);
    res.setHeader('RateLimit-Policy', policy);
    res.setHeader('RateLimit', `limit=${limit}, remaining=${remaining}, reset=${untilFull}`);
    if (allowed) return next();
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
    res.setHeader('Retry-After', String(retryAfter));
    sendProblem(
      res,
      429,
      ProblemCode.RATE_LIMITED,
      'too many requests from this client; retry after the time in Retry-After',
    );
  };
}
