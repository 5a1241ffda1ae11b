import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { isLoopbackAddress, prefix64, rateLimiter } from '../src/rate-limit.js';
import { problemOf, startServer } from './helpers.js';

/** A request as a client behind a proxy on this machine sends it (its address is the proxy's loopback one). */
const proxied = { 'x-forwarded-for': '203.0.113.7' };

describe('rate limiting', () => {
  it('does not limit a loopback client by default, however many requests it sends', async () => {
    // A limit a loopback client passes many times over: 100 requests against 60 a minute, bursts of 10.
    const t = await startServer({ rateLimit: { limit: 60 } });
    try {
      const statuses = new Set<number>();
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${t.url}/executions?limit=1`);
        statuses.add(res.status);
        expect(res.headers.get('ratelimit')).toBeNull();
        await res.arrayBuffer();
      }
      expect([...statuses]).toEqual([200]);
    } finally {
      await t.stop();
    }
  });

  it('limits a client that is not on loopback: 429 RATE_LIMITED with Retry-After once its burst is spent', async () => {
    // 1 request a minute, bursts of 2: the third is refused, and one passes again in about a minute.
    const t = await startServer({ rateLimit: { limit: 1, burst: 2 } });
    try {
      const get = () => fetch(`${t.url}/executions?limit=1`, { headers: proxied });
      for (let i = 0; i < 2; i++) {
        const ok = await get();
        expect(ok.status).toBe(200);
        expect(ok.headers.get('ratelimit-policy')).toBe('1;w=60');
        expect(ok.headers.get('ratelimit')).toMatch(/^limit=1, remaining=\d+, reset=\d+$/);
        await ok.arrayBuffer();
      }
      const limited = await get();
      const p = await problemOf(limited);
      expect(p.status).toBe(429);
      expect(p.code).toBe('RATE_LIMITED');
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(30);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Health probes are never limited; a loopback client without a proxy is not either.
      expect((await fetch(`${t.url}/healthz`, { headers: proxied })).status).toBe(200);
      expect((await fetch(`${t.url}/readyz`, { headers: proxied })).status).toBe(200);
      expect((await fetch(`${t.url}/executions?limit=1`)).status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  it('the OpenAPI RateLimited response declares the headers a 429 carries: Retry-After, RateLimit, RateLimit-Policy', async () => {
    const t = await startServer({ rateLimit: { limit: 1, burst: 1 } });
    try {
      const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as {
        components: { responses: { RateLimited: { headers: Record<string, unknown> } } };
      };
      const declared = Object.keys(doc.components.responses.RateLimited.headers).map((h) => h.toLowerCase());
      await (await fetch(`${t.url}/executions?limit=1`, { headers: proxied })).arrayBuffer();
      const limited = await fetch(`${t.url}/executions?limit=1`, { headers: proxied });
      expect(limited.status).toBe(429);
      await limited.arrayBuffer();
      const sent = ['retry-after', 'ratelimit', 'ratelimit-policy'].filter((h) => limited.headers.has(h));
      expect(sent).toEqual(['retry-after', 'ratelimit', 'ratelimit-policy']);
      expect(declared.sort()).toEqual([...sent].sort());
    } finally {
      await t.stop();
    }
  });

  it('counts each API key on its own, and limits loopback clients too with loopback: true', async () => {
    const t = await startServer({ rateLimit: { limit: 3, burst: 3, loopback: true }, apiKeys: ['a', 'b'] });
    try {
      const get = (key: string) =>
        fetch(`${t.url}/executions?limit=1`, { headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 3; i++) expect((await get('a')).status).toBe(200);
      expect((await problemOf(await get('a'))).code).toBe('RATE_LIMITED');
      expect((await get('b')).status).toBe(200);
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  it("behind a proxy on this machine, clients share the proxy's bucket (the forwarded address is not trusted); API keys part them", async () => {
    const t = await startServer({ rateLimit: { limit: 1, burst: 2 } });
    try {
      const get = (client: string, key?: string) =>
        fetch(`${t.url}/executions?limit=1`, {
          headers: { 'x-forwarded-for': client, ...(key ? { authorization: `Bearer ${key}` } : {}) },
        });
      expect((await get('203.0.113.7')).status).toBe(200);
      expect((await get('198.51.100.9')).status).toBe(200);
      // A third client, never seen before: refused, its bucket is the proxy's.
      expect((await problemOf(await get('192.0.2.44'))).code).toBe('RATE_LIMITED');
    } finally {
      await t.stop();
    }
    const keyed = await startServer({ rateLimit: { limit: 1, burst: 2 }, apiKeys: ['a', 'b'] });
    try {
      const get = (key: string) =>
        fetch(`${keyed.url}/executions?limit=1`, {
          headers: { 'x-forwarded-for': '203.0.113.7', authorization: `Bearer ${key}` },
        });
      for (let i = 0; i < 2; i++) expect((await get('a')).status).toBe(200);
      expect((await problemOf(await get('a'))).code).toBe('RATE_LIMITED');
      expect((await get('b')).status).toBe(200);
    } finally {
      await keyed.stop();
    }
  });

  it('is off with rateLimit: false, for every client', async () => {
    const t = await startServer({ rateLimit: false });
    try {
      for (let i = 0; i < 30; i++) {
        const res = await fetch(`${t.url}/executions?limit=1`, { headers: proxied });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
        await res.arrayBuffer();
      }
    } finally {
      await t.stop();
    }
  });

  it('lets a client through at a sustained 100 requests a second under the default limit, and not at 200', async () => {
    // The default bucket (6000 a minute, bursts of 1000) on a fake clock, called as express calls
    // it, for a client that is not on loopback: 10 ms, then 5 ms, between requests.
    const clock = createFakeClock();
    const limiter = rateLimiter({}, clock);
    const run = async (n: number, gapMs: number) => {
      let refused = 0;
      for (let i = 0; i < n; i++) {
        await clock.advance(gapMs);
        const req = { path: '/executions', headers: {}, socket: { remoteAddress: '192.0.2.9' } };
        let status = 200;
        const res = {
          locals: {},
          headersSent: false,
          setHeader: () => res,
          status: (s: number) => {
            status = s;
            return res;
          },
          type: () => res,
          send: () => res,
        };
        let passed = false;
        limiter(req as never, res as never, () => {
          passed = true;
        });
        if (!passed) {
          expect(status).toBe(429);
          refused++;
        }
      }
      return refused;
    };
    // 15 s at 100/s, more requests than the burst: nothing refused.
    expect(await run(1500, 10)).toBe(0);
    // At 200/s the bucket drains by 100 a second: the burst of 1000 lasts 10 s (2000 requests),
    // then about half are refused.
    const refused = await run(2500, 5);
    expect(refused).toBeGreaterThan(150);
    expect(refused).toBeLessThan(350);
  });

  it('counts IPv6 clients by their /64 prefix, however the address is written', () => {
    expect(prefix64('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(prefix64('2001:DB8:0000:0001:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(prefix64('fd00::2')).toBe('fd00:0:0:0::/64');
    expect(prefix64('fd00:0:0:0:1::%eth0')).toBe('fd00:0:0:0::/64');
    expect(prefix64('2001:db8:0:2::5')).not.toBe(prefix64('2001:db8:0:1::5'));
  });

  it('knows the loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '::', undefined])
      expect(isLoopbackAddress(a)).toBe(false);
  });
});
