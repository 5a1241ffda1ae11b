/**
 * Host and Origin checks: a web page must not be able to drive a local `orchestr8 serve`,
 * neither by DNS rebinding (a name it controls, pointed at 127.0.0.1) nor by a cross-site
 * request (a "simple" POST needs no preflight). Everything goes over real HTTP; the Host is
 * set with node:http because fetch does not let a caller choose it.
 */
import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { createEngine } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { createServer } from '../src/index.js';
import { gate, gated, oneStep, registry, startServer, type TestServer, waitTerminal } from './helpers.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, any>;
}

/** One request to the listener, with the Host and other headers given (the port is the listener's). */
function send(
  t: TestServer,
  o: { method?: string; path?: string; host?: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: t.listener.host,
        port: t.listener.port,
        method: o.method ?? 'GET',
        path: o.path ?? '/executions',
        headers: { ...(o.host !== undefined ? { host: o.host } : {}), ...o.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const execute = (
  t: TestServer,
  headers: Record<string, string>,
  contentType = 'application/json',
  workflow: unknown = oneStep(),
) =>
  send(t, {
    method: 'POST',
    path: '/workflows/execute',
    headers: { 'content-type': contentType, ...headers },
    body: JSON.stringify({ workflow }),
  });

async function executions(t: TestServer): Promise<number> {
  return (await t.store.listExecutions({ limit: 10 })).items.length;
}

/** Asserts a 403 problem with `code`, and returns it. */
function refused(a: Answer, code: string): Record<string, any> {
  expect(a.status, JSON.stringify(a.body)).toBe(403);
  expect(a.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(a.body).toMatchObject({ status: 403, code });
  return a.body;
}

/** This machine's name, when it resolves (it does in containers and CI; it may not on a laptop). */
const name = hostname().toLowerCase();
const resolves = await lookup(name).then(
  () => name !== 'localhost',
  () => false,
);

describe('Host', () => {
  it('answers localhost, *.localhost and IP addresses, whatever the port', async () => {
    const t = await startServer();
    try {
      for (const host of [
        'localhost',
        `localhost:${t.listener.port}`,
        'LocalHost:1',
        'localhost.',
        'console.localhost:8088',
        '127.0.0.1:9',
        '10.1.2.3',
        '[::1]:8088',
        '[::]',
      ]) {
        expect((await send(t, { host })).status, host).toBe(200);
      }
    } finally {
      await t.stop();
    }
  });

  it('refuses any other Host with 403 HOST_NOT_ALLOWED, naming the host and how to allow it, and starts nothing', async () => {
    const t = await startServer();
    try {
      const p = refused(await execute(t, { host: 'attacker.example:8088' }), 'HOST_NOT_ALLOWED');
      expect(p.detail).toContain('"attacker.example"');
      expect(p.detail).toContain('--allowed-hosts attacker.example');
      expect(p.detail).toContain('ORCHESTR8_ALLOWED_HOSTS');
      expect(p.host).toBe('attacker.example:8088');
      expect(await executions(t)).toBe(0);
      // Names that merely contain an allowed one, or numbers that are not an address literal.
      for (const host of ['localhost.attacker.example', 'notlocalhost', '127.1', '2130706433', 'a b'])
        refused(await send(t, { host }), 'HOST_NOT_ALLOWED');
    } finally {
      await t.stop();
    }
  });

  it('makes no exception for health, readiness, the API description or CORS preflights', async () => {
    const t = await startServer({ cors: { origins: '*' } });
    try {
      for (const path of ['/healthz', '/readyz', '/openapi.json', '/nowhere'])
        refused(await send(t, { host: 'rebound.example', path }), 'HOST_NOT_ALLOWED');
      const preflight = await send(t, {
        method: 'OPTIONS',
        path: '/workflows/execute',
        host: 'rebound.example',
        headers: { origin: 'http://rebound.example', 'access-control-request-method': 'POST' },
      });
      refused(preflight, 'HOST_NOT_ALLOWED');
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.stop();
    }
  });

  it('answers the names given in allowedHosts: exact, .domain (with the domain) and *.domain (subdomains only)', async () => {
    const t = await startServer({
      allowedHosts: ['orchestr8.internal', '.corp.example', '*.apps.example'],
    });
    try {
      for (const host of [
        'orchestr8.internal:8088',
        'ORCHESTR8.internal',
        'corp.example',
        'a.b.corp.example',
        'x.apps.example:443',
        'localhost',
        '127.0.0.1',
      ])
        expect((await send(t, { host })).status, host).toBe(200);
      for (const host of [
        'apps.example',
        'evilcorp.example',
        'corp.example.evil.example',
        'orchestr8.internal.evil.example',
        'sub.orchestr8.internal',
      ])
        refused(await send(t, { host }), 'HOST_NOT_ALLOWED');
    } finally {
      await t.stop();
    }
  });

  it('answers any Host when allowedHosts is "*"', async () => {
    for (const allowedHosts of [['*'], '*'] as const) {
      const t = await startServer({ allowedHosts });
      try {
        expect((await send(t, { host: 'anything.example' })).status).toBe(200);
        expect((await execute(t, { host: 'anything.example' })).status).toBe(202);
      } finally {
        await t.stop();
      }
    }
  });

  it('refuses a malformed allowedHosts entry when the server is created', () => {
    const reg = registry();
    const engine = createEngine({ registry: reg });
    for (const entry of ['http://example.com', 'example.com:8088', 'foo.*.example', 'a b'])
      expect(() => createServer({ engine, registry: reg, allowedHosts: [entry] }), entry).toThrow(
        expect.objectContaining({ code: 'VALIDATION' }),
      );
  });

  it.skipIf(!resolves)('answers the host name it listens on', async () => {
    const t = await startServer({ host: name, apiKeys: ['k'] });
    try {
      const auth = { authorization: 'Bearer k' };
      expect((await send(t, { host: `${name}:${t.listener.port}`, headers: auth })).status).toBe(200);
      refused(await send(t, { host: `other-${name}`, headers: auth }), 'HOST_NOT_ALLOWED');
    } finally {
      await t.stop();
    }
  });

  it('answers a request without a Host (HTTP/1.0): browsers always send one', async () => {
    const t = await startServer();
    try {
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect(t.listener.port, t.listener.host, () =>
          socket.write('GET /healthz HTTP/1.0\r\n\r\n'),
        );
        let data = '';
        socket.setEncoding('latin1');
        socket.on('data', (d) => {
          data += d;
        });
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });
      expect(response).toMatch(/^HTTP\/1\.[01] 200/);
    } finally {
      await t.stop();
    }
  });
});

describe('Origin', () => {
  it('refuses a cross-site form POST (no preflight needed) with 403 ORIGIN_NOT_ALLOWED: it cancels nothing', async () => {
    const t = await startServer();
    try {
      const host = `127.0.0.1:${t.listener.port}`;
      const started = await execute(t, { host }, 'application/json', gated('host-origin-cancel'));
      expect(started.status).toBe(202);
      const id = started.body.executionId as string;
      // What `<form method="post" action="http://127.0.0.1:8088/executions/ID/cancel">` sends.
      const p = refused(
        await send(t, {
          method: 'POST',
          path: `/executions/${id}/cancel`,
          host,
          headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
          body: '',
        }),
        'ORIGIN_NOT_ALLOWED',
      );
      expect(p.detail).toContain('"https://evil.example"');
      expect(p.detail).toContain('--cors-origin');
      expect(p.origin).toBe('https://evil.example');
      gate('host-origin-cancel').open();
      expect((await waitTerminal(t.url, id)).status).toBe('completed');
    } finally {
      await t.stop();
    }
  });

  it('refuses a cross-site POST that would start an execution, whatever its content type, and starts nothing', async () => {
    const t = await startServer();
    try {
      const host = `127.0.0.1:${t.listener.port}`;
      for (const type of ['text/plain', 'application/json'])
        refused(await execute(t, { host, origin: 'https://evil.example' }, type), 'ORIGIN_NOT_ALLOWED');
      // Another page on this machine is another origin too.
      refused(
        await execute(t, { host: `localhost:${t.listener.port}`, origin: 'http://localhost:3000' }),
        'ORIGIN_NOT_ALLOWED',
      );
      refused(await send(t, { host, headers: { origin: 'https://evil.example' } }), 'ORIGIN_NOT_ALLOWED');
      expect(await executions(t)).toBe(0);
    } finally {
      await t.stop();
    }
  });

  it('refuses "Origin: null" (sandboxed pages, local files), even when CORS allows any other origin', async () => {
    const t = await startServer({ cors: { origins: '*' } });
    try {
      const p = refused(
        await execute(t, { host: `127.0.0.1:${t.listener.port}`, origin: 'null' }),
        'ORIGIN_NOT_ALLOWED',
      );
      expect(p.detail).toContain('Origin: null');
      expect(await executions(t)).toBe(0);
      const other = await execute(t, { host: `127.0.0.1:${t.listener.port}`, origin: 'https://any.example' });
      expect(other.status).toBe(202);
    } finally {
      await t.stop();
    }
  });

  it("lets the server's own pages through: the Origin of the Host the request was sent to", async () => {
    const t = await startServer({ allowedHosts: ['orchestr8.example'] });
    try {
      const port = t.listener.port;
      expect(
        (await execute(t, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status,
      ).toBe(202);
      expect(
        (await execute(t, { host: `localhost:${port}`, origin: `http://localhost:${port}` })).status,
      ).toBe(202);
      // Default ports, and a TLS-terminating proxy that passes the Host on (the scheme is not compared).
      expect(
        (await execute(t, { host: 'orchestr8.example', origin: 'https://orchestr8.example' })).status,
      ).toBe(202);
      expect(
        (await execute(t, { host: 'orchestr8.example:80', origin: 'http://orchestr8.example' })).status,
      ).toBe(202);
      refused(
        await execute(t, { host: `127.0.0.1:${port}`, origin: `http://localhost:${port}` }),
        'ORIGIN_NOT_ALLOWED',
      );
    } finally {
      await t.stop();
    }
  });

  it('lets the configured CORS origins through, with their preflight', async () => {
    const t = await startServer({ cors: { origins: ['https://app.example'] } });
    try {
      const host = `127.0.0.1:${t.listener.port}`;
      const preflight = await send(t, {
        method: 'OPTIONS',
        path: '/workflows/execute',
        host,
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
      const ok = await execute(t, { host, origin: 'https://app.example' });
      expect(ok.status).toBe(202);
      expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
      refused(await execute(t, { host, origin: 'https://other.example' }), 'ORIGIN_NOT_ALLOWED');
    } finally {
      await t.stop();
    }
  });

  it('leaves requests without an Origin (curl, other servers) alone, whatever their method', async () => {
    const t = await startServer();
    try {
      const res = await execute(t, { host: `127.0.0.1:${t.listener.port}` });
      expect(res.status).toBe(202);
      expect(await executions(t)).toBe(1);
    } finally {
      await t.stop();
    }
  });
});
