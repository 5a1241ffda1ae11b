/**
 * `orchestr8 agent serve` as a real process: health, the agent list with schemas, the
 * execute protocol (output, problem+json errors, schema checks), aborting an agent when its
 * caller disconnects, a workflow calling a served agent by URL through `orchestr8 run`, and
 * a clean stop on SIGTERM.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { assertBuilt, cli, startCli, useTempRoot } from './fixtures/harness.js';

const AGENTS = `
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
export const upper = {
  id: '@acme/upper',
  version: '1.2.0',
  description: 'Upper-cases text',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  outputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  execute: (input, ctx) => ({ text: input.text.toUpperCase(), step: ctx.stepId, attempt: ctx.attempt }),
};
export const flaky = {
  id: '@acme/flaky',
  execute() {
    const e = new Error('upstream busy');
    e.code = 'HTTP_5XX';
    throw e;
  },
};
export const hang = {
  id: '@acme/hang',
  async execute(input, ctx) {
    writeFileSync(input.file, 'started\\n');
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    appendFileSync(input.file, 'aborted\\n');
    await wait(1);
    return {};
  },
};
import { appendFileSync, writeFileSync } from 'node:fs';
`;

const tempRoot = useTempRoot('agent-serve');
let dir: string;
let url: string;
let server: ReturnType<typeof startCli>;

beforeAll(async () => {
  assertBuilt();
  dir = tempRoot();
  writeFileSync(join(dir, 'agents.mjs'), AGENTS);
  server = startCli(['agent', 'serve', 'agents.mjs', '--port', '0'], { cwd: dir, timeoutMs: 120_000 });
  let out = '';
  url = await new Promise<string>((resolve, reject) => {
    server.child.stdout!.on('data', (d: string) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+) \(3 agents: .*@acme\/upper@1\.2\.0/.exec(out);
      if (m) resolve(m[1]!);
    });
    void server.done.then((r) => reject(new Error(`agent serve exited early: ${r.stderr}`)), reject);
  });
});
afterAll(() => {
  if (server.child.exitCode === null) server.child.kill('SIGKILL');
});

const execute = (id: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${url}/agents/${encodeURIComponent(id)}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });

describe('orchestr8 agent serve', () => {
  it('answers health and lists its agents with their schemas', async () => {
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok', agents: 3 });
    const list = (await (await fetch(`${url}/agents`)).json()) as { agents: { id: string }[] };
    expect(list.agents.map((a) => a.id).sort()).toEqual(['@acme/flaky', '@acme/hang', '@acme/upper']);
    expect(list.agents.find((a) => a.id === '@acme/upper')).toMatchObject({
      version: '1.2.0',
      inputSchema: { required: ['text'] },
      outputSchema: { required: ['text'] },
    });
  });

  it('executes an agent with the caller’s context, and answers errors as problem+json', async () => {
    const ok = await execute('@acme/upper', {
      input: { text: 'hi' },
      context: { executionId: 'e1', stepId: 's1', attempt: 2, idempotencyKey: 'k', config: {} },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ output: { text: 'HI', step: 's1', attempt: 2 } });

    const invalid = await execute('@acme/upper', { input: { text: 3 } });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toBe('application/problem+json');
    expect(await invalid.json()).toMatchObject({ code: 'VALIDATION', retryable: false, status: 400 });

    const busy = await execute('@acme/flaky', { input: {} });
    expect(busy.status).toBe(503);
    expect(await busy.json()).toMatchObject({ code: 'HTTP_5XX', retryable: true, detail: 'upstream busy' });

    // The problem document every orchestr8 HTTP surface answers (RFC 9457), path as instance.
    const missing = await execute('@acme/nope', { input: {} });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(await missing.json()).toEqual({
      type: 'https://orchestr8.dev/problems/agent-not-found',
      title: 'Not Found',
      status: 404,
      detail: 'no agent "@acme/nope" here (serving: @acme/flaky, @acme/hang, @acme/upper)',
      code: 'AGENT_NOT_FOUND',
      retryable: false,
      instance: '/agents/%40acme%2Fnope/execute',
    });

    const wrongMethod = await fetch(`${url}/health?probe=1`, { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(await wrongMethod.json()).toEqual({
      type: 'https://orchestr8.dev/problems/method-not-allowed',
      title: 'Method Not Allowed',
      status: 405,
      detail: 'use GET',
      code: 'METHOD_NOT_ALLOWED',
      retryable: false,
      instance: '/health',
    });
  });

  it('aborts the agent when the caller disconnects', async () => {
    const file = join(dir, 'hang.log');
    const controller = new AbortController();
    const call = execute('@acme/hang', { input: { file } }, controller.signal).catch(() => 'aborted');
    await vi.waitFor(() => expect(existsSync(file)).toBe(true), { timeout: 15_000, interval: 10 });
    controller.abort();
    expect(await call).toBe('aborted');
    await expect
      .poll(() => readFileSync(file, 'utf8'), { timeout: 15_000, interval: 10 })
      .toBe('started\naborted\n');
  });

  it('serves a workflow step that names the agent by URL, the same as in-process', async () => {
    writeFileSync(
      join(dir, 'remote.yaml'),
      [
        'version: "1.0.0"',
        'metadata: { id: remote }',
        'steps:',
        '  - id: shout',
        `    agent: { id: "@acme/upper", url: "${url}" }`,
        '    input: { text: hello }',
        '  - id: flaky',
        `    agent: { id: "@acme/flaky", url: "${url}" }`,
        '    onError: continue',
        '    policies: { retry: { maxAttempts: 2, baseDelayMs: 1 } }',
        'outputs:',
        '  text: ${steps.shout.output.text}',
        '  flaky: ${steps.flaky.error.code ?? "none"}',
        '',
      ].join('\n'),
    );
    // The agent service runs on loopback: the operator allows it (documents cannot).
    const r = await cli(
      ['run', 'remote.yaml', '--json', '--store', 'memory', '--allow-egress', '127.0.0.1'],
      {
        cwd: dir,
      },
    );
    const result = JSON.parse(r.stdout);
    expect(result.outputs).toEqual({ text: 'HELLO', flaky: 'HTTP_5XX' });
    expect(result.steps.flaky).toMatchObject({ status: 'failed', attempts: 2 });
    expect(r.code).toBe(0);
  });

  it('stops cleanly on SIGTERM', async () => {
    server.child.kill('SIGTERM');
    const r = await server.done;
    expect(r.code).toBe(0);
  });
});
