/**
 * `runIsolated`: how a user agent runs CPU-bound code in the isolation pool.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineAgent } from '@orchestr8/agent-base';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  closeIsolation,
  configureIsolation,
  RUN_ISOLATED_DEFAULT_TIMEOUT_MS,
  runIsolated,
} from '../src/index.js';
import { caught, compile, run, testEngine } from './helpers.js';

const FIXTURE = new URL('./fixtures/isolated.mjs', import.meta.url).href;
const TYPED_FIXTURE = new URL('./fixtures/isolated-typed.ts', import.meta.url).href;
const HOST = fileURLToPath(new URL('./fixtures/isolation-host.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startHost(mode: 'spin' | 'idle', pidFile = '') {
  return spawn(process.execPath, ['--conditions=source', '--import', 'tsx', HOST, mode, FIXTURE, pidFile], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

/** The Node.js processes whose parent is `pid` (tsx's esbuild service is not one). */
function nodeChildrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const ppid = readFileSync(`/proc/${d}/stat`, 'utf8')
          .replace(/^.*\) /, '')
          .split(' ')[1];
        const argv0 = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0];
        return ppid === String(pid) && argv0 === process.execPath;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether a process is still running (a zombie, reaped by nobody in a container, is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/^\d+ \(.*\) Z/.test(stat);
}

afterEach(() => configureIsolation({}));
afterAll(() => closeIsolation());

describe('runIsolated', () => {
  it('calls the export in another process and resolves with its structured-cloned result', async () => {
    const out = await runIsolated<Record<string, any>>(FIXTURE, 'describe', { a: 1, nested: { b: [2] } });
    expect(out.seen).toEqual({ a: 1, nested: { b: [2] } });
    expect(out.at).toBeInstanceOf(Date);
    expect(out.keys).toEqual(
      new Map<string, unknown>([
        ['a', 1],
        ['nested', { b: [2] }],
      ]),
    );
    expect(out.pid).not.toBe(process.pid);
  });

  it('loads a TypeScript module', async () => {
    expect(await runIsolated(TYPED_FIXTURE, 'countWords', { text: 'one two  three' })).toEqual({ words: 3 });
  });

  it('runs a user agent that opts in, through the engine', async () => {
    const agent = defineAgent<{ text: string }, { words: number }>({
      id: '@test/words',
      execute: (input, ctx) =>
        runIsolated(TYPED_FIXTURE, 'countWords', input, { signal: ctx.signal, timeoutMs: 5000 }),
    });
    const { engine, clock } = testEngine([agent]);
    const r = await run(
      engine,
      clock,
      compile({ steps: [{ id: 'count', agent: '@test/words', input: { text: 'a b c d' } }] }),
    );
    expect(r.status).toBe('completed');
    expect(r.steps.count!.output).toEqual({ words: 4 });
  });

  it('kills a runaway call at timeoutMs with a retryable TIMEOUT, while the event loop keeps running', async () => {
    let settled = false;
    const call = runIsolated(FIXTURE, 'spin', null, { timeoutMs: 1500 }).finally(() => {
      settled = true;
    });
    await sleep(200);
    expect(settled).toBe(false);
    const e = await caught(() => call);
    expect(e).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(await runIsolated(FIXTURE, 'describe', 'again')).toMatchObject({ seen: 'again' });
  });

  it('fails a call that exhausts the memory limit with RESOURCE_EXHAUSTED', async () => {
    await configureIsolation({ maxMemoryMb: 48 });
    const e = await caught(() => runIsolated(FIXTURE, 'hoard', null));
    expect(e).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryable: false });
    expect(await runIsolated(FIXTURE, 'describe', 1)).toMatchObject({ seen: 1 });
  });

  it('keeps the code, retryable, retryAfterMs and details of an orchestr8 error the function throws', async () => {
    const e = await caught(() => runIsolated(FIXTURE, 'rateLimited', null));
    expect(e).toMatchObject({ code: 'HTTP_429', retryable: true, retryAfterMs: 500, details: { limit: 10 } });
    expect(e.message).toBe('slow down');
  });

  it('turns anything else thrown into AGENT_FAILED, as in-process', async () => {
    const e = await caught(() => runIsolated(FIXTURE, 'broken', null));
    expect(e).toMatchObject({ code: 'AGENT_FAILED', message: 'cannot read properties of undefined' });
  });

  it('fails with AGENT_FAILED when the function ends its process', async () => {
    const e = await caught(() => runIsolated(FIXTURE, 'quit', null));
    expect(e).toMatchObject({ code: 'AGENT_FAILED', retryable: false });
    expect(e.message).toContain('code 3');
  });

  it('refuses an export that is not a function, and a URL that is not a file', async () => {
    expect(await caught(() => runIsolated(FIXTURE, 'notAFunction', null))).toMatchObject({
      code: 'VALIDATION',
    });
    expect(await caught(() => runIsolated('https://example.com/x.js', 'f', null))).toMatchObject({
      code: 'VALIDATION',
    });
  });

  it('imports the module once per worker, so module state carries over between calls', async () => {
    await configureIsolation({ maxWorkers: 1 });
    expect([await runIsolated(FIXTURE, 'count', null), await runIsolated(FIXTURE, 'count', null)]).toEqual([
      1, 2,
    ]);
  });

  it('fails with AGENT_FAILED when the result cannot be cloned', async () => {
    expect(await caught(() => runIsolated(FIXTURE, 'giveFunction', null))).toMatchObject({
      code: 'AGENT_FAILED',
    });
  });

  it('waits 30 s by default', () => {
    expect(RUN_ISOLATED_DEFAULT_TIMEOUT_MS).toBe(30_000);
  });

  it('stops a worker that stays idle for idleTimeoutMs', async () => {
    await configureIsolation({ idleTimeoutMs: 200 });
    const { pid } = await runIsolated<{ pid: number }>(FIXTURE, 'describe', null);
    expect(alive(pid)).toBe(true);
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
    expect(alive(pid)).toBe(false);
  });

  it('starts no worker in a process that runs nothing isolated', async () => {
    const host = startHost('idle');
    try {
      await new Promise((resolve) => host.stdout!.once('data', resolve));
      expect(nodeChildrenOf(host.pid!)).toEqual([]);
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const e = await caught(() => runIsolated(FIXTURE, 'describe', 1, { signal: controller.signal }));
    expect(e).toMatchObject({ code: 'CANCELLED' });
  });

  it('does not leave a worker running after its host process dies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'o8-isolation-'));
    const pidFile = join(dir, 'worker.pid');
    const host = startHost('spin', pidFile);
    try {
      for (let i = 0; i < 300 && !existsSync(pidFile); i++) await sleep(50);
      const worker = Number(readFileSync(pidFile, 'utf8'));
      expect(alive(worker)).toBe(true);
      host.kill('SIGKILL');
      for (let i = 0; i < 200 && alive(worker); i++) await sleep(50);
      expect(alive(worker)).toBe(false);
    } finally {
      host.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
