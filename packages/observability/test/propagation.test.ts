/**
 * Trace context across process boundaries: an incoming `traceparent` on
 * `POST /workflows/execute` becomes the execution span's parent, and the http agent and
 * remote agents send the attempt span's `traceparent` on.
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createRemoteAgent, httpAgent } from '@orchestr8/agents';
import { createEngine } from '@orchestr8/core';
import { createServer } from '@orchestr8/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, startTracing, type Tracing, withAgentLogger } from '../src/index.js';
import { agent, compile, registryOf } from './helpers.js';

/** A local HTTP service that records the headers of every request and answers with JSON. */
async function recorder(
  body: unknown,
): Promise<{ url: string; seen: IncomingHttpHeaders[]; server: Server }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createHttpServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const callWorkflow = (url: string) =>
  compile({
    metadata: { id: 'calls-out', name: 'calls-out' },
    steps: [{ id: 'call', agent: '@orchestr8/http', input: { url: `${url}/ping` } }],
  });

/** The recorder listens on loopback, which agents reach only when the operator allows it. */
const LOOPBACK = { egress: { allow: ['127.0.0.1'] } };

describe('without an SDK', () => {
  it('sends no traceparent (the API is a no-op)', async () => {
    const svc = await recorder({ ok: true });
    try {
      const engine = createEngine({ registry: registryOf(httpAgent), capabilities: LOOPBACK });
      expect((await engine.execute(callWorkflow(svc.url))).status).toBe('completed');
      expect(svc.seen[0]!.traceparent).toBeUndefined();
    } finally {
      svc.server.close();
    }
  });
});

describe('with an SDK', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = (await startTracing({ exporter, processor: 'simple', env: {} }))!;
  });
  afterAll(() => tracing.shutdown());

  const spanNamed = (name: string): ReadableSpan => {
    const s = exporter.getFinishedSpans().find((x) => x.name === name);
    if (!s) throw new Error(`no span "${name}" in ${exporter.getFinishedSpans().map((x) => x.name)}`);
    return s;
  };

  it('POST /workflows/execute continues an incoming traceparent: the execution span is its child', async () => {
    exporter.reset();
    const registry = registryOf(agent('@t/echo', (input) => input));
    const engine = createEngine({ registry });
    const listener = await createServer({ engine, registry }).listen(0);
    try {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const parentId = 'b7ad6b7169203331';
      const res = await fetch(`${listener.url}/workflows/execute?wait=10`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parentId}-01` },
        body: JSON.stringify({
          workflow: {
            version: '1.0.0',
            metadata: { id: 'traced-in' },
            steps: [{ id: 'a', agent: '@t/echo', input: { v: 1 } }],
          },
        }),
      });
      expect(res.status).toBe(200);
      const root = spanNamed('workflow traced-in');
      expect(root.spanContext().traceId).toBe(traceId);
      expect(root.parentSpanContext?.spanId).toBe(parentId);
      expect(root.parentSpanContext?.isRemote).toBe(true);
      expect(spanNamed('step a').parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    } finally {
      await Promise.all([listener.close({ graceMs: 100 }), engine.shutdown({ graceMs: 100 })]);
    }
  });

  it('without a traceparent the execution starts a new trace', async () => {
    exporter.reset();
    const registry = registryOf(agent('@t/echo', (input) => input));
    const engine = createEngine({ registry });
    const listener = await createServer({ engine, registry }).listen(0);
    try {
      const res = await fetch(`${listener.url}/workflows/execute?wait=10`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          workflow: { version: '1.0.0', metadata: { id: 'fresh' }, steps: [{ id: 'a', agent: '@t/echo' }] },
        }),
      });
      expect(res.status).toBe(200);
      expect(spanNamed('workflow fresh').parentSpanContext).toBeUndefined();
    } finally {
      await Promise.all([listener.close({ graceMs: 100 }), engine.shutdown({ graceMs: 100 })]);
    }
  });

  it("the http agent sends its attempt span's traceparent", async () => {
    exporter.reset();
    const svc = await recorder({ ok: true });
    try {
      const engine = createEngine({ registry: registryOf(httpAgent), capabilities: LOOPBACK });
      expect((await engine.execute(callWorkflow(svc.url))).status).toBe('completed');
      const root = spanNamed('workflow calls-out');
      const attempt = spanNamed('attempt call #1');
      expect(svc.seen[0]!.traceparent).toBe(
        `00-${root.spanContext().traceId}-${attempt.spanContext().spanId}-01`,
      );
    } finally {
      svc.server.close();
    }
  });

  it("remote agents send their attempt span's traceparent", async () => {
    exporter.reset();
    const svc = await recorder({ output: { upper: 'HI' } });
    try {
      const engine = createEngine({
        registry: registryOf(),
        capabilities: LOOPBACK,
        remoteAgent: (url, id) => createRemoteAgent(url, id),
      });
      const wf = compile({
        metadata: { id: 'remote-call', name: 'remote-call' },
        steps: [{ id: 'up', agent: { id: '@acme/upper', url: svc.url }, input: { text: 'hi' } }],
      });
      const result = await engine.execute(wf);
      expect(result.status, JSON.stringify(result.error)).toBe('completed');
      const root = spanNamed('workflow remote-call');
      const attempt = spanNamed('attempt up #1');
      expect(svc.seen[0]!.traceparent).toBe(
        `00-${root.spanContext().traceId}-${attempt.spanContext().spanId}-01`,
      );
    } finally {
      svc.server.close();
    }
  });

  it("agents' log lines carry the trace and span ids of their attempt", async () => {
    exporter.reset();
    const chunks: string[] = [];
    const logger = createLogger({ destination: { write: (s: string) => void chunks.push(s) } });
    const talker = agent('@t/talk', (_input, ctx) => {
      ctx.logger.info('hello from the agent');
      return {};
    });
    const engine = createEngine({ registry: withAgentLogger(registryOf(talker), logger) });
    const wf = compile({
      metadata: { id: 'talks', name: 'talks' },
      steps: [{ id: 't', agent: '@t/talk', input: {} }],
    });
    expect((await engine.execute(wf)).status).toBe('completed');
    const line = JSON.parse(chunks.find((c) => c.includes('hello from the agent'))!) as Record<string, any>;
    const attempt = spanNamed('attempt t #1');
    expect(line.trace_id).toBe(attempt.spanContext().traceId);
    expect(line.span_id).toBe(attempt.spanContext().spanId);
    expect(line.stepId).toBe('t');
  });
});
