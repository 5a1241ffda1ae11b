import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteAgent } from '../src/index.js';
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

function problem(res: import('node:http').ServerResponse, status: number, body: Record<string, unknown>) {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title: 'Error', status, ...body }));
}

describe('createRemoteAgent', () => {
  it('posts the input and the step context to /agents/<id>/execute and returns output', async () => {
    server = await startServer((req, res) => {
      const body = JSON.parse(req.body);
      sendJson(res, 200, { output: { upper: String(body.input.text).toUpperCase() } });
    });
    const remote = createRemoteAgent(`${server.url}/base/`, '@acme/upper');
    const out = await remote.execute(
      { text: 'hi' },
      contextFor({ attempt: 2, config: { mode: 'x' }, item: 'a', index: 0 }, LOOPBACK_GRANT),
    );
    expect(out).toEqual({ upper: 'HI' });
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/base/agents/%40acme%2Fupper/execute');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['idempotency-key']).toBe('exec-1:step-1');
    expect(JSON.parse(req.body)).toEqual({
      input: { text: 'hi' },
      context: {
        executionId: 'exec-1',
        stepId: 'step-1',
        attempt: 2,
        idempotencyKey: 'exec-1:step-1',
        config: { mode: 'x' },
        item: 'a',
        index: 0,
      },
    });
    expect(remote.id).toBe('@acme/upper');
    expect(remote.target!({}, {})).toBe(server.host);
  });

  it("rebuilds the service's problem as an error with its code, retryability and retryAfterMs", async () => {
    server = await startServer((req, res) =>
      req.url!.includes('busy')
        ? problem(res, 503, {
            code: 'HTTP_429',
            detail: 'upstream rate limit',
            retryable: true,
            retryAfterMs: 1500,
          })
        : problem(res, 422, { code: 'VALIDATION', detail: 'input is invalid at /text', retryable: false }),
    );
    const busy = await caught(() =>
      createRemoteAgent(server!.url, 'busy').execute({}, contextFor({}, LOOPBACK_GRANT)),
    );
    expect(busy).toMatchObject({
      code: 'HTTP_429',
      retryable: true,
      retryAfterMs: 1500,
      message: 'upstream rate limit',
    });
    const invalid = await caught(() =>
      createRemoteAgent(server!.url, 'strict').execute({}, contextFor({}, LOOPBACK_GRANT)),
    );
    expect(invalid).toMatchObject({
      code: 'VALIDATION',
      retryable: false,
      message: 'input is invalid at /text',
    });
  });

  it('falls back on the status when the error is not a problem document', async () => {
    server = await startServer((req, res) => {
      res.writeHead(req.url!.includes('gone') ? 404 : 502, {
        'content-type': 'text/html',
        'retry-after': '3',
      });
      res.end('<h1>Bad gateway</h1>');
    });
    const gateway = await caught(() =>
      createRemoteAgent(server!.url, 'a').execute({}, contextFor({}, LOOPBACK_GRANT)),
    );
    expect(gateway).toMatchObject({ code: 'HTTP_5XX', retryable: true, retryAfterMs: 3000 });
    const gone = await caught(() =>
      createRemoteAgent(server!.url, 'gone').execute({}, contextFor({}, LOOPBACK_GRANT)),
    );
    expect(gone).toMatchObject({ code: 'AGENT_NOT_FOUND', retryable: false });
  });

  it('maps an unreachable service to a retryable NETWORK error', async () => {
    const closed = await startServer(() => {});
    const url = closed.url;
    await closed.close();
    const e = await caught(() => createRemoteAgent(url, 'a').execute({}, contextFor({}, LOOPBACK_GRANT)));
    expect(e).toMatchObject({ code: 'NETWORK', retryable: true });
  });

  it('serves agent.url steps through the engine, retrying a retryable problem', async () => {
    server = await startServer((req, res, n) =>
      n === 1
        ? problem(res, 503, { code: 'NETWORK', detail: 'agent backend unreachable', retryable: true })
        : sendJson(res, 200, { output: { echoed: JSON.parse(req.body).input } }),
    );
    const url = server.url;
    const wf = compile({
      steps: [{ id: 'remote', agent: { id: '@acme/echo', url }, input: { v: 1 } }],
      policies: {
        resilience: {
          retry: { maxAttempts: 2, baseDelayMs: 10, jitter: 'none' },
          circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 10 },
        },
      },
    });
    const { engine, clock } = testEngine([], {
      capabilities: LOOPBACK_GRANT,
      remoteAgent: (u, id) => createRemoteAgent(u, id),
    });
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    expect(r.steps.remote!.output).toEqual({ echoed: { v: 1 } });
    const opened = entries(await journal(engine, r.executionId), 'circuit.opened', 'remote');
    expect(dataOf(opened[0]).key).toBe(`@acme/echo|${server.host}`);
  });
});
