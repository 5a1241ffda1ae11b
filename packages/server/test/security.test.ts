import { connect } from 'node:net';
import { createMemoryStore, type Store } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { createServer } from '../src/index.js';
import { oneStep, post, problemOf, registry, startServer } from './helpers.js';

/** Sends raw bytes and returns the raw response (for requests fetch refuses to send). */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      data += d;
    });
    socket.on('end', () => resolve(data));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('binding', () => {
  it('refuses to listen on a non-loopback address without API keys', async () => {
    const { createEngine } = await import('@orchestr8/core');
    const reg = registry();
    const server = createServer({ engine: createEngine({ registry: reg }), registry: reg });
    await expect(server.listen(0, '0.0.0.0')).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(server.listen(0, '::')).rejects.toThrow(/API keys/);
  });

  it('listens on a non-loopback address when API keys are set', async () => {
    const t = await startServer({ apiKeys: ['secret-key'], host: '0.0.0.0' });
    try {
      expect(t.listener.host).toBe('0.0.0.0');
      const port = t.listener.port;
      expect((await fetch(`http://127.0.0.1:${port}/executions`)).status).toBe(401);
    } finally {
      await t.stop();
    }
  });
});

describe('API keys', () => {
  it('requires a key on every route but health and the API description', async () => {
    const t = await startServer({ apiKeys: ['k1', 'k2'] });
    try {
      const res = await fetch(`${t.url}/executions`);
      const p = await problemOf(res);
      expect(p.status).toBe(401);
      expect(p.code).toBe('UNAUTHORIZED');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(
        (await problemOf(await fetch(`${t.url}/executions`, { headers: { authorization: 'Bearer wrong' } })))
          .status,
      ).toBe(401);
      expect(
        (await problemOf(await post(`${t.url}/workflows/execute`, { workflow: oneStep() }))).status,
      ).toBe(401);
      expect((await fetch(`${t.url}/executions`, { headers: { authorization: 'Bearer k2' } })).status).toBe(
        200,
      );
      expect((await fetch(`${t.url}/executions`, { headers: { 'x-api-key': 'k1' } })).status).toBe(200);
      for (const open of ['/healthz', '/readyz', '/openapi.json'])
        expect((await fetch(`${t.url}${open}`)).status).toBe(200);
      // Unknown paths do not reveal what exists without a key.
      expect((await fetch(`${t.url}/nowhere`)).status).toBe(401);
    } finally {
      await t.stop();
    }
  });
});

describe('CORS', () => {
  it('is off unless configured', async () => {
    const t = await startServer();
    try {
      const res = await fetch(`${t.url}/executions`, { headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await t.stop();
    }
  });

  it('allows configured origins only, and answers their preflight', async () => {
    const t = await startServer({ cors: { origins: ['https://app.example'] } });
    try {
      const ok = await fetch(`${t.url}/executions`, { headers: { origin: 'https://app.example' } });
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
      const other = await fetch(`${t.url}/executions`, { headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(`${t.url}/workflows/execute`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'idempotency-key',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Idempotency-Key/);
    } finally {
      await t.stop();
    }
  });
});

describe('hostile and broken requests', () => {
  it('answers malformed HTTP with a problem, not a bare error', async () => {
    const t = await startServer();
    try {
      const response = await raw(t.url, 'GET /executions HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n');
      expect(response).toMatch(/^HTTP\/1\.1 400/);
      expect(response).toContain('application/problem+json');
      expect(response).toContain('"code":"BAD_REQUEST"');
      const garbage = await raw(t.url, 'NOT HTTP AT ALL\r\n\r\n');
      expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    } finally {
      await t.stop();
    }
  });

  it('answers an oversized request line or headers with 431 and a problem that says so', async () => {
    const t = await startServer();
    const bodyOf = (response: string) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
    try {
      const line = await raw(t.url, `GET /executions/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(line).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      expect(bodyOf(line)).toEqual({
        type: 'https://orchestr8.dev/problems/headers-too-large',
        title: 'Request Header Fields Too Large',
        status: 431,
        detail: 'the request line or headers exceed 16384 bytes',
        code: 'HEADERS_TOO_LARGE',
      });
      const headers = await raw(
        t.url,
        `GET /executions?x=1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      );
      expect(bodyOf(headers)).toMatchObject({ status: 431, instance: '/executions' });
      const bad = await raw(t.url, 'GET /executions HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n');
      expect(bad).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(bodyOf(bad)).toMatchObject({
        title: 'Bad Request',
        status: 400,
        code: 'BAD_REQUEST',
        detail: 'malformed HTTP request: invalid header token',
        instance: '/executions',
      });
    } finally {
      await t.stop();
    }
  });

  it('answers an unexpected failure with a 500 problem that shows no stack and no internals', async () => {
    const { createEngine } = await import('@orchestr8/core');
    const reg = registry();
    const base = createMemoryStore();
    const broken: Store = {
      ...base,
      kind: 'broken',
      listExecutions: async () => {
        throw new TypeError('cannot read properties of undefined (secret internal detail)');
      },
    };
    const errors: string[] = [];
    const server = createServer({
      engine: createEngine({ registry: reg, store: broken }),
      registry: reg,
      logger: { info: () => {}, error: (m) => errors.push(m) },
    });
    const l = await server.listen(0);
    try {
      const res = await fetch(`${l.url}/executions`);
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(text).not.toContain('secret internal detail');
      expect(text).not.toContain('TypeError');
      expect(JSON.parse(text)).toMatchObject({ code: 'INTERNAL', detail: 'internal server error' });
      expect(errors).toHaveLength(1);
    } finally {
      await l.close();
    }
  });

  it('answers a body that lies about its length, or a charset it cannot read, cleanly', async () => {
    const t = await startServer();
    try {
      const utf16 = await fetch(`${t.url}/workflows/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-16' },
        body: '{}',
      });
      expect((await problemOf(utf16)).status).toBe(415);
      const response = await raw(
        t.url,
        'POST /workflows/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n{}',
      );
      expect(response).toMatch(/^HTTP\/1\.1 413/);
      expect(response).toContain('PAYLOAD_TOO_LARGE');
    } finally {
      await t.stop();
    }
  });
});
