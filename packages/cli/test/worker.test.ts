/**
 * `orchestr8 worker` / `orchestr8 workers` in child processes against a real PostgreSQL,
 * and `run` / `list` / `inspect` through the built binary with `--store postgres://`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { validateWorkflowObject } from '@orchestr8/schema';
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { createDistributedEngine, listWorkers } from '@orchestr8/worker';
import { describe, expect, it } from 'vitest';
import { usePostgres } from '../../store-postgres/test/use-postgres.js';
import { openStore } from '../src/open-store.js';
import { assertBuilt, cli, executionIdFrom, REPO, useTempRoot } from './fixtures/harness.js';

const FIXTURE = join(REPO, 'packages/cli/test/fixtures/worker-cli.ts');
// The absolute path: children run in temp directories, where `--import tsx` would not resolve.
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const tempDir = useTempRoot('worker');

const server = usePostgres();

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<number | null>;
}

/** The worker commands from source (they are not in the built binary's program yet). */
function source(args: string[], cwd: string): Run {
  const child = spawn(process.execPath, ['--conditions=source', '--import', TSX, FIXTURE, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_STORE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, done };
}

async function waitFor(fn: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function until(fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const compile = (doc: object) => {
  const r = validateWorkflowObject(doc);
  if (!r.workflow) throw new Error(JSON.stringify(r.diagnostics));
  return r.workflow;
};

describe('orchestr8 worker and orchestr8 workers', () => {
  it('runs the steps of distributed executions, by queue, lists itself, and stops on SIGTERM', async () => {
    const url = server.freshSchemaUrl();
    const cwd = tempDir();
    const worker = source(
      [
        'worker',
        '--store',
        url,
        '--concurrency',
        '3',
        '--queues',
        'default,gpu',
        '--id',
        'cli-w1',
        '--lease',
        '5s',
      ],
      cwd,
    );
    try {
      await waitFor(() => worker.stderr().includes('worker cli-w1 on'), 'the worker to start');
      expect(worker.stderr()).toContain('queues default,gpu · concurrency 3');
      const store: PostgresStore = await openPostgresStore({ url });
      const engine = await createDistributedEngine({ store, registry: createAgentRegistry(builtinAgents) });
      try {
        const result = await engine.execute(
          compile({
            version: '1.0.0',
            metadata: { id: 'cli-dist' },
            steps: [
              { id: 'a', agent: '@orchestr8/echo', input: { v: 1 } },
              {
                id: 'b',
                agent: '@orchestr8/echo',
                input: { v: '${steps.a.output.v}' },
                dependencies: ['a'],
                queue: 'gpu',
              },
            ],
            outputs: { v: '${steps.b.output.v}' },
          }),
        );
        expect(result.status).toBe('completed');
        expect(result.outputs).toEqual({ v: 1 });
        // A queue no worker serves: the step waits in it.
        const waiting = await engine.start(
          compile({
            version: '1.0.0',
            metadata: { id: 'cli-nobody' },
            steps: [{ id: 'x', agent: '@orchestr8/echo', input: {}, queue: 'tpu' }],
          }),
        );
        // Counters travel with heartbeats (a third of the lease).
        await until(async () => (await listWorkers(store)).workers[0]?.stepsDone === 2);
        const table = source(['workers', '--store', url], cwd);
        expect(await table.done, table.stderr()).toBe(0);
        expect(table.stdout()).toMatch(/^ID\s+HOST\s+PID\s+QUEUES\s+RUNNING\s+HEARTBEAT\s+STEPS/m);
        expect(table.stdout()).toMatch(/cli-w1\s+\S+\s+\d+\s+default,gpu\s+0\/3\s+\d+(\.\d)? m?s ago\s+2/);
        expect(table.stdout()).toContain('queue tpu: 1 ready, 0 running');
        const json = source(['workers', '--store', url, '--json'], cwd);
        expect(await json.done).toBe(0);
        const view = JSON.parse(json.stdout()) as {
          workers: { id: string; queues: string[]; stepsDone: number }[];
        };
        expect(view.workers).toMatchObject([{ id: 'cli-w1', queues: ['default', 'gpu'], stepsDone: 2 }]);
        expect((await store.getExecution(waiting.id))!.status).toBe('running');
      } finally {
        await engine.shutdown();
        await store.close();
      }
      worker.child.kill('SIGTERM');
      expect(await worker.done).toBe(0);
      expect(worker.stderr()).toContain('stopped after 2 step(s)');
      const after = source(['workers', '--store', url], cwd);
      expect(await after.done).toBe(0);
      expect(after.stdout()).toContain('no live workers');
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  it('refuses a store that is not PostgreSQL, with usage exit code 2', async () => {
    const cwd = tempDir();
    const w = source(['worker', '--store', 'sqlite:x.db'], cwd);
    const l = source(['workers', '--store', 'memory'], cwd);
    const c = source(['worker', '--store', server.url(), '--concurrency', '0'], cwd);
    expect(await Promise.all([w.done, l.done, c.done])).toEqual([2, 2, 2]);
    expect(w.stderr()).toMatch(/workers share a PostgreSQL store/);
    expect(l.stderr()).toMatch(/workers exist only with a PostgreSQL store/);
    expect(c.stderr()).toMatch(/--concurrency must be an integer/);
  });
});

describe('--store postgres:// for run, list and inspect', () => {
  it('opens a PostgreSQL store from a postgres:// URL', async () => {
    const store = await openStore(server.freshSchemaUrl());
    expect(store.kind).toBe('postgres');
    await store.close();
  });

  it('runs a workflow on the embedded engine with its state in PostgreSQL, then lists and inspects it', async () => {
    assertBuilt();
    const url = server.freshSchemaUrl();
    const cwd = tempDir();
    const run = await cli(
      ['run', join(REPO, 'workflows/hello-world.yaml'), '-i', 'name=Ada', '--store', url],
      { cwd },
    );
    expect(run.code, run.stderr).toBe(0);
    const id = executionIdFrom(run.stderr);
    const list = await cli(['list', '--store', url], { cwd });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toMatch(/completed\s+hello-world@1\.0\.0/);
    const inspect = await cli(['inspect', id, '--store', url, '--json'], { cwd });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ execution: { id, status: 'completed' } });
  });
});
