import { afterEach, describe, expect, it } from 'vitest';
import { httpAgent, parseRetryAfter } from '../src/index.js';
import {
  caught,
  compile,
  contextFor,
  dataOf,
  entries,
  journal,
  LOOPBACK_GRANT,
  run,
  sendJson,
  startServer,
  type TestServer,
  testEngine,
} from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const retry = { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 60_000, jitter: 'none' };

describe('@orchestr8/http', () => {
  it('sends method, query and headers, and returns status, headers and the parsed JSON body', async () => {
    server = await startServer((_req, res) => sendJson(res, 200, { ok: true }, { 'x-trace': 'abc' }));
    const out = await httpAgent.execute(
      {
        url: `${server.url}/items?fixed=1`,
        query: { q: 'a b', tag: ['x', 'y'], skip: null, n: 2 },
        headers: { 'X-Client': 'orchestr8', 'X-Count': 3 },
      },
      contextFor({}, LOOPBACK_GRANT),
    );
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ ok: true });
    expect(out.headers['x-trace']).toBe('abc');
    const req = server.requests[0]!;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/items?fixed=1&q=a+b&tag=x&tag=y&n=2');
    expect(req.headers['x-client']).toBe('orchestr8');
    expect(req.headers['x-count']).toBe('3');
    expect(req.headers['idempotency-key']).toBeUndefined();
  });

  it('sends a JSON body with its content-type and the step idempotency key on POST', async () => {
    server = await startServer((_req, res) => sendJson(res, 201, { id: 7 }));
    const wf = compile({
      steps: [
        {
          id: 'create',
          agent: '@orchestr8/http',
          input: { method: 'POST', url: `${server.url}/orders`, json: { sku: 'A1' } },
        },
      ],
    });
    const { engine, clock } = testEngine([httpAgent], { capabilities: LOOPBACK_GRANT });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    expect(r.steps.create!.output).toMatchObject({ status: 201, body: { id: 7 } });
    const req = server.requests[0]!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ sku: 'A1' });
    expect(req.headers['idempotency-key']).toBe(`${r.executionId}:create`);
  });

  it('sends a string body as text, returns a text response as a string, and can leave out the idempotency key', async () => {
    server = await startServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`got ${req.body}`);
    });
    const out = await httpAgent.execute(
      { method: 'post', url: server.url, body: 'hello', sendIdempotencyKey: false },
      contextFor({}, LOOPBACK_GRANT),
    );
    expect(out.body).toBe('got hello');
    expect(server.requests[0]!.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(server.requests[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('retries a 503 under the workflow retry policy and completes with the next answer', async () => {
    server = await startServer((_req, res, n) =>
      n === 1 ? sendJson(res, 503, { error: 'warming up' }) : sendJson(res, 200, { ready: true }),
    );
    const wf = compile({
      steps: [{ id: 'call', agent: '@orchestr8/http', input: { url: `${server.url}/status` } }],
      policies: { resilience: { retry } },
    });
    const { engine, clock } = testEngine([httpAgent], { capabilities: LOOPBACK_GRANT });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    expect(r.steps.call!.attempts).toBe(2);
    expect(r.steps.call!.output).toMatchObject({ status: 200, body: { ready: true } });
    const retrying = entries(await journal(engine, r.executionId), 'step.retrying', 'call');
    expect(dataOf(retrying[0]).error).toMatchObject({ code: 'HTTP_5XX', retryable: true });
  });

  it('waits as long as a 429 Retry-After asks before retrying', async () => {
    server = await startServer((_req, res, n) =>
      n === 1 ? sendJson(res, 429, { error: 'slow down' }, { 'retry-after': '7' }) : sendJson(res, 200, {}),
    );
    const wf = compile({
      steps: [{ id: 'call', agent: '@orchestr8/http', input: { url: server.url } }],
      policies: { resilience: { retry } },
    });
    const { engine, clock } = testEngine([httpAgent], { capabilities: LOOPBACK_GRANT });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    const retrying = entries(await journal(engine, r.executionId), 'step.retrying', 'call');
    expect(dataOf(retrying[0]).delayMs).toBe(7000);
    expect(dataOf(retrying[0]).error).toMatchObject({ code: 'HTTP_429', retryAfterMs: 7000 });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('fails at once on an unexpected 4xx, with the status and a body excerpt', async () => {
    server = await startServer((_req, res) => sendJson(res, 404, { error: 'no such user' }));
    const wf = compile({
      steps: [{ id: 'call', agent: '@orchestr8/http', input: { url: `${server.url}/users/9?token=abc` } }],
      policies: { resilience: { retry } },
    });
    const { engine, clock } = testEngine([httpAgent], { capabilities: LOOPBACK_GRANT });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('failed');
    const error = r.steps.call!.error!;
    expect(r.steps.call!.attempts).toBe(1);
    expect(error).toMatchObject({ code: 'HTTP_4XX', retryable: false });
    expect(error.details).toMatchObject({ status: 404, body: '{"error":"no such user"}' });
    // The query string (which may carry credentials) stays out of messages.
    expect(error.message).toContain(`${server.url}/users/9`);
    expect(error.message).not.toContain('token=abc');
  });

  it('returns a status listed in expectStatus as output instead of failing', async () => {
    server = await startServer((_req, res) => sendJson(res, 404, { error: 'gone' }));
    const out = await httpAgent.execute(
      { url: server.url, expectStatus: [200, '4xx'] },
      contextFor({}, LOOPBACK_GRANT),
    );
    expect(out).toMatchObject({ status: 404, body: { error: 'gone' } });
  });

  it('maps a refused connection to a retryable NETWORK error', async () => {
    const closed = await startServer(() => {});
    const url = closed.url;
    await closed.close();
    const e = await caught(() => httpAgent.execute({ url }, contextFor({}, LOOPBACK_GRANT)));
    expect(e).toMatchObject({ code: 'NETWORK', retryable: true });
  });

  it('refuses a response larger than maxResponseBytes, declared or streamed', async () => {
    const big = 'x'.repeat(10_000);
    server = await startServer((req, res) => {
      if (req.url === '/declared') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(big.length) });
        res.end(big);
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 10; i++) res.write(big);
        res.end();
      }
    });
    for (const path of ['/declared', '/chunked']) {
      const e = await caught(() =>
        httpAgent.execute(
          { url: `${server!.url}${path}`, maxResponseBytes: 1000 },
          contextFor({}, LOOPBACK_GRANT),
        ),
      );
      expect(e).toMatchObject({ code: 'RESPONSE_TOO_LARGE', retryable: false });
    }
    const ok = await httpAgent.execute(
      { url: `${server.url}/declared`, maxResponseBytes: 10_000 },
      contextFor({}, LOOPBACK_GRANT),
    );
    expect(ok.body).toBe(big);
  });

  it('keeps Authorization and other credential headers out of the journal but sends them', async () => {
    server = await startServer((_req, res) => sendJson(res, 200, {}));
    const wf = compile({
      steps: [
        {
          id: 'call',
          agent: '@orchestr8/http',
          input: {
            url: server.url,
            headers: {
              Authorization: 'Bearer sk-live-123',
              'x-api-key': 'k-456',
              Accept: 'application/json',
            },
          },
        },
      ],
    });
    const { engine, clock } = testEngine([httpAgent], { capabilities: LOOPBACK_GRANT });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    expect(server.requests[0]!.headers.authorization).toBe('Bearer sk-live-123');
    const started = dataOf(entries(await journal(engine, r.executionId), 'step.started', 'call')[0]);
    expect(started.input.headers).toEqual({
      Authorization: '[redacted]',
      'x-api-key': '[redacted]',
      Accept: 'application/json',
    });
    const text = JSON.stringify(await journal(engine, r.executionId));
    expect(text).not.toContain('sk-live-123');
    expect(text).not.toContain('k-456');
  });

  it('names the URL host as its circuit-breaker target', async () => {
    expect(httpAgent.target!({ url: 'https://api.example.com:8443/v1/x?y=1' }, {})).toBe(
      'api.example.com:8443',
    );
    server = await startServer((_req, res) => sendJson(res, 500, {}));
    const wf = compile({
      steps: [{ id: 'call', agent: '@orchestr8/http', input: { url: `${server.url}/a` } }],
      policies: { resilience: { retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 1 } } },
    });
    const { engine, clock } = testEngine([httpAgent], { capabilities: LOOPBACK_GRANT });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('failed');
    const opened = entries(await journal(engine, r.executionId), 'circuit.opened', 'call');
    expect(dataOf(opened[0]).key).toBe(`@orchestr8/http|${server.host}`);
  });

  it('fails with TIMEOUT when the server does not answer within timeoutMs', async () => {
    server = await startServer(() => {
      // never answers
    });
    const e = await caught(() =>
      httpAgent.execute({ url: server!.url, timeoutMs: 50 }, contextFor({}, LOOPBACK_GRANT)),
    );
    expect(e).toMatchObject({ code: 'TIMEOUT', retryable: true });
  });

  it('stops the request when the step is cancelled', async () => {
    server = await startServer(() => {
      // never answers
    });
    const controller = new AbortController();
    const pending = caught(() =>
      httpAgent.execute({ url: server!.url }, contextFor({ signal: controller.signal }, LOOPBACK_GRANT)),
    );
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 2));
    controller.abort(new Error('user cancelled'));
    expect(await pending).toMatchObject({ code: 'CANCELLED' });
  });

  it('rejects a non-http URL and a body on GET as VALIDATION', async () => {
    expect(await caught(() => httpAgent.execute({ url: 'file:///etc/passwd' }, contextFor()))).toMatchObject({
      code: 'VALIDATION',
    });
    expect(
      await caught(() => httpAgent.execute({ url: 'http://127.0.0.1:9/', json: { a: 1 } }, contextFor())),
    ).toMatchObject({ code: 'VALIDATION' });
  });
});
