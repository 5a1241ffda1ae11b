/**
 * End to end, with the built binary (`pnpm test` builds it first), so the worker scripts load
 * from dist/: a runaway or memory-hungry transform does not stop `orchestr8 serve` from
 * answering; `orchestr8 run` exits as soon as its workflow ends although a worker is up; and a
 * TypeScript agent module loaded with `-a` can run its code in the pool with runIsolated.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
const AGENT_MODULE = fileURLToPath(new URL('./fixtures/isolated-agent.ts', import.meta.url));
const RUNAWAY = '($f := function($x){ $f($x + 1) }; $f(0))';
const HUNGRY =
  '($f := function($a, $n){ $n = 0 ? $a : $f($append($a, $a), $n - 1) }; $count($f([1..1000], 40)))';

interface Served {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

let dir: string;
let server: Served;

function serve(env: Record<string, string>): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--store', 'memory'], {
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, exited, stderr: () => err });
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening`)));
  });
}

function transformWorkflow(id: string, expression: string, timeoutMs: number) {
  return {
    version: '1.0.0',
    metadata: { id },
    steps: [{ id: 'shape', agent: '@orchestr8/transform', input: { expression, data: {}, timeoutMs } }],
  };
}

async function start(doc: unknown): Promise<string> {
  const res = await fetch(`${server.url}/workflows/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ workflow: doc }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { executionId: string }).executionId;
}

const execution = async (id: string) =>
  (await (await fetch(`${server.url}/executions/${id}`)).json()) as Record<string, any>;

async function finished(id: string): Promise<Record<string, any>> {
  for (;;) {
    const body = await execution(id);
    if (body.status !== 'running' && body.status !== 'pending') return body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build)`);
  dir = mkdtempSync(join(tmpdir(), 'o8-transform-serve-'));
  server = await serve({ ORCHESTR8_ISOLATION_MEMORY_MB: '64' });
});

afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe('a transform in orchestr8 serve', () => {
  it('answers /healthz and runs other executions while a runaway transform is still running, then fails the step with TIMEOUT', async () => {
    const id = await start(transformWorkflow('runaway', RUNAWAY, 4000));
    expect((await execution(id)).status).toBe('running');
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    // Another execution runs to its end meanwhile.
    const other = await fetch(`${server.url}/workflows/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'wait=10' },
      body: JSON.stringify({
        workflow: {
          version: '1.0.0',
          metadata: { id: 'hello' },
          steps: [{ id: 'hi', agent: '@orchestr8/hello-world', input: { name: 'Ada' } }],
        },
      }),
    });
    expect(((await other.json()) as Record<string, any>).status).toBe('completed');
    // Both answered before the step gave up: in-process, they waited for the evaluation to end.
    expect((await execution(id)).steps.shape.status).toBe('running');
    const done = await finished(id);
    expect(done.status).toBe('failed');
    expect(done.steps.shape.error).toMatchObject({ code: 'TIMEOUT' });
  });

  it('fails a memory-hungry transform with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const done = await finished(await start(transformWorkflow('hungry', HUNGRY, 30_000)));
    expect(done.steps.shape.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryable: false });
    expect(done.steps.shape.error.message).toContain('64 MB');
    expect(server.stderr()).toContain('JavaScript heap out of memory');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const next = await finished(await start(transformWorkflow('after', '"still here"', 1000)));
    expect(next.steps.shape).toMatchObject({ status: 'completed', output: { result: 'still here' } });
  });
});

describe('orchestr8 run', () => {
  function runCli(doc: unknown, args: string[] = []) {
    const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(doc));
    // The pool's idle workers would otherwise live 30 s, past this timeout.
    return spawnSync(process.execPath, [BIN, 'run', file, '--store', 'memory', '--json', ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 15_000,
    });
  }

  it('gives a transform its result and exits when the workflow ends', () => {
    const r = runCli(transformWorkflow('sum', '$sum([1, 2, 3])', 1000));
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).steps.shape.output).toEqual({ result: 6 });
  });

  it('runs a TypeScript agent that opts in with runIsolated', () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'fib' },
      steps: [{ id: 'fib', agent: '@test/fib', input: { n: 20 } }],
    };
    const r = runCli(doc, ['-a', AGENT_MODULE]);
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).steps.fib.output).toEqual({ value: 6765 });
  });
});
