/**
 * End to end: `orchestr8 run` and `orchestr8 serve` as child processes (from source, through
 * tsx) export their traces over OTLP/HTTP to a tiny local receiver when the standard
 * OTEL_* variables say so; `serve` continues an incoming traceparent and serves /metrics.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sample } from './helpers.js';

const CLI = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

let dir: string;
let receiver: Server;
let endpoint: string;
let received: Received[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'o8-otlp-'));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      received.push({ path: req.url ?? '', contentType, body: Buffer.concat(chunks) });
      res.statusCode = 200;
      if (contentType.includes('json')) {
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      } else {
        res.setHeader('content-type', 'application/x-protobuf');
        res.end();
      }
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => receiver.close(r));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  received = [];
});

/** The environment without any OTEL_* variable of the machine running the tests. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_')) env[k] = v;
  return { ...env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '', ORCHESTR8_LOG_LEVEL: '', ...extra };
}

function cli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--conditions=source', '--import', TSX, CLI, ...args], {
    cwd: dir,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Every span of every OTLP/JSON export request received, with its resource's service.name. */
function jsonSpans(): (OtlpSpan & { service: unknown })[] {
  const out: (OtlpSpan & { service: unknown })[] = [];
  for (const r of received) {
    expect(r.path).toBe('/v1/traces');
    expect(r.contentType).toMatch(/application\/json/);
    const body = JSON.parse(r.body.toString('utf8')) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: OtlpSpan[] }[];
      }[];
    };
    for (const rs of body.resourceSpans) {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
      for (const ss of rs.scopeSpans) for (const s of ss.spans) out.push({ ...s, service });
    }
  }
  return out;
}

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
}

/** Two steps, the second failing its first attempt and retried. */
const RETRYING = {
  version: '1.0.0',
  metadata: { id: 'otlp-demo' },
  steps: [
    { id: 'greet', agent: '@orchestr8/hello-world', input: { name: 'OTLP' } },
    {
      id: 'flaky',
      agent: '@orchestr8/fail',
      dependencies: ['greet'],
      input: { failTimes: 1 },
      policies: { retry: { maxAttempts: 2, baseDelayMs: 10 } },
    },
  ],
};

/** Asserts the tree execution -> steps -> attempts of `otlp-demo`, and returns the root. */
function assertTree(spans: OtlpSpan[]): OtlpSpan {
  const named = (name: string) => {
    const s = spans.find((x) => x.name === name);
    if (!s) throw new Error(`no span "${name}" among ${spans.map((x) => x.name).join(', ')}`);
    return s;
  };
  const root = named('workflow otlp-demo');
  const greet = named('step greet');
  const flaky = named('step flaky');
  for (const step of [greet, flaky]) {
    expect(step.parentSpanId).toBe(root.spanId);
    expect(step.traceId).toBe(root.traceId);
  }
  expect(named('attempt greet #1').parentSpanId).toBe(greet.spanId);
  expect(named('attempt flaky #1').parentSpanId).toBe(flaky.spanId);
  expect(named('attempt flaky #2').parentSpanId).toBe(flaky.spanId);
  expect(attr(named('attempt flaky #1'), 'orchestr8.outcome')).toBe('failed');
  expect(attr(flaky, 'orchestr8.outcome')).toBe('completed');
  expect(attr(root, 'orchestr8.workflow.id')).toBe('otlp-demo');
  return root;
}

describe('orchestr8 run with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('exports the trace tree (execution -> steps -> attempts) over OTLP/HTTP JSON, and logs warnings as JSON', async () => {
    const file = join(dir, 'retrying.json');
    writeFileSync(file, JSON.stringify(RETRYING));
    const r = await finished(
      cli(['run', file, '--store', 'memory', '--json'], {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'o8-run-test',
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { status: string }).status).toBe('completed');
    const spans = jsonSpans();
    const root = assertTree(spans);
    expect(root.parentSpanId ?? '').toBe('');
    expect(spans.every((s) => s.service === 'o8-run-test')).toBe(true);
    // `run` logs at warn and above by default, as JSON lines when stderr is not a terminal.
    const lines = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.event === 'step.retrying')).toMatchObject({ level: 'warn', stepId: 'flaky' });
    expect(lines.every((l) => l.level === 'warn' || l.level === 'error')).toBe(true);
  });

  it('sends protobuf by default, and continues TRACEPARENT from the environment', async () => {
    const file = join(dir, 'retrying.json');
    writeFileSync(file, JSON.stringify(RETRYING));
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await finished(
      cli(['run', file, '--store', 'memory', '--quiet'], {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-01`,
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(received.length).toBeGreaterThan(0);
    for (const x of received) {
      expect(x.path).toBe('/v1/traces');
      expect(x.contentType).toBe('application/x-protobuf');
    }
    const all = Buffer.concat(received.map((x) => x.body));
    expect(all.includes(Buffer.from('workflow otlp-demo'))).toBe(true);
    expect(all.includes(Buffer.from('attempt flaky #2'))).toBe(true);
    expect(all.includes(Buffer.from(traceId, 'hex'))).toBe(true);
  });

  it('exports nothing without OTEL_* variables', async () => {
    const file = join(dir, 'retrying.json');
    writeFileSync(file, JSON.stringify(RETRYING));
    const r = await finished(cli(['run', file, '--store', 'memory', '--quiet'], {}));
    expect(r.code, r.stderr).toBe(0);
    expect(received).toEqual([]);
  });
});

describe('orchestr8 serve with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('continues an incoming traceparent, serves /metrics, logs JSON lines, and exports on shutdown', async () => {
    const child = cli(['serve', '--port', '0', '--store', 'memory', '--log-format', 'json'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    });
    const done = finished(child);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      void done.then((r) => reject(new Error(`serve exited ${r.code}: ${r.stderr}`)));
    });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parentId = 'b7ad6b7169203331';
    const res = await fetch(`${url}/workflows/execute?wait=10`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${parentId}-01`,
        authorization: 'Bearer not-a-real-key',
      },
      body: JSON.stringify({ workflow: RETRYING, options: { correlationId: 'order-42' } }),
    });
    expect(res.status).toBe(200);
    const execution = (await res.json()) as { executionId: string; status: string };
    expect(execution.status).toBe('completed');

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(
      sample(metrics, 'orchestr8_executions_total', { workflow: 'otlp-demo', status: 'completed' }),
    ).toBe(1);
    expect(sample(metrics, 'orchestr8_step_retries_total', { agent: '@orchestr8/fail' })).toBe(1);
    expect(sample(metrics, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);

    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(0);

    const root = assertTree(jsonSpans());
    expect(root.traceId).toBe(traceId);
    expect(root.parentSpanId).toBe(parentId);

    const lines = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'request' && l.path === '/workflows/execute')).toMatchObject({
      level: 'info',
      method: 'POST',
      status: 200,
      executionId: execution.executionId,
      correlationId: 'order-42',
    });
    expect(lines.find((l) => l.event === 'execution.completed')).toMatchObject({
      level: 'info',
      executionId: execution.executionId,
      workflowId: 'otlp-demo',
    });
    expect(r.stderr).not.toContain('not-a-real-key');
    // neither the step's input nor its output is logged
    expect(r.stderr).not.toContain('"name":"OTLP"');
    expect(r.stderr).not.toContain('Hello, OTLP');
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
  });
});
