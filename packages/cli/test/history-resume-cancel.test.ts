/**
 * `orchestr8 resume` and `orchestr8 cancel` through the real binary: exit codes, what they
 * print, and what they leave in the store. The executions they act on are recorded
 * in-process (`recordExecution`: fast, and a "crash" leaves exactly what a killed process
 * would); crash.test.ts kills real processes.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS,
  assertBuilt,
  type CliOptions,
  cli,
  executionIdFrom,
  readSide,
  recordExecution,
  type StepSpec,
  startCli,
  useTempRoot,
  writeWorkflow,
} from './fixtures/harness.js';

const tempDir = useTempRoot('resume');
const STACK_TRACE = /\n\s+at .+:\d+/;
const chain = (ids: [string, string, string], ms: number): StepSpec[] => [
  { id: ids[0], deps: [], ms, own: 1 },
  { id: ids[1], deps: [ids[0]], ms, own: 2 },
  { id: ids[2], deps: [ids[1]], ms, own: 3 },
];

interface Env {
  dir: string;
  db: string;
  side: string;
  store: string[];
  cli(args: string[], env?: CliOptions['env']): ReturnType<typeof cli>;
  status(id: string): Promise<string>;
}

/** A fresh store (and side file) per test. */
function setup(): Env {
  const dir = tempDir();
  const side = join(dir, 'side.log');
  const db = join(dir, 'orchestr8.db');
  const store = ['--store', `sqlite:${db}`];
  const env: Env = {
    dir,
    db,
    side,
    store,
    cli: (args, extra = {}) =>
      cli([...args, ...store], { cwd: dir, env: { ORCHESTR8_TEST_SIDE_FILE: side, ...extra } }),
    async status(id) {
      const r = await env.cli(['inspect', id, '--json']);
      return JSON.parse(r.stdout).execution.status;
    },
  };
  return env;
}

const abc = chain(['a', 'b', 'c'], 0);

describe('orchestr8 resume through the binary', () => {
  beforeAll(assertBuilt);

  it('says a finished execution never runs again, and exits with its outcome (0 completed, 1 failed)', async () => {
    const e = setup();
    const done = await recordExecution(e.db, 'abc', abc);
    const failed = await recordExecution(e.db, 'abc', abc, { failAt: 'b' });
    const [r, f] = await Promise.all([
      e.cli(['resume', done, '--agents', AGENTS]),
      e.cli(['resume', failed, '--agents', AGENTS, '--json']),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `execution ${done} is already completed; a finished execution never runs again`,
    );
    expect(r.stdout).toMatch(/^completed /);
    expect(f.code).toBe(1);
    expect(JSON.parse(f.stdout)).toMatchObject({ executionId: failed, status: 'failed' });
    expect(readSide(e.side)).toEqual([]);
  });

  it('reports an unknown id as NOT_FOUND (exit 1, no stack trace)', async () => {
    const r = await setup().cli(['resume', 'no-such-id', '--agents', AGENTS]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error NOT_FOUND: no execution "no-such-id"');
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  it('refuses to resume without the agents the workflow needs (exit 2) and leaves it untouched', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'abc', abc, { crashAt: 'b' });
    const r = await e.cli(['resume', id]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`execution ${id} (abc) needs agents that are not loaded: @test/work`);
    expect(r.stderr).toContain('nothing was resumed');
    expect(await e.status(id)).toBe('running');

    // With the agents: it finishes, without running the completed step again.
    expect(readSide(e.side)).toEqual([]);
    const ok = await e.cli(['resume', id, '--agents', AGENTS]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`resuming execution ${id} · abc@1.0.0 · 1 of 3 steps already finished`);
    expect(ok.stderr).toMatch(/✓ c\s+completed/);
    expect(ok.stdout).toMatch(/^completed /);
    const after = readSide(e.side);
    expect(after.filter((l) => l.kind === 'start').map((l) => l.stepId)).toEqual(['b', 'c']);
    expect(after.find((l) => l.stepId === 'b')?.key).toBe(`${id}:b`);
  });

  it('resumes every execution left running when no id is given; exit 1 if any fails', async () => {
    const e = setup();
    const done = await recordExecution(e.db, 'abc', abc);
    const first = await recordExecution(e.db, 'abc', abc, { crashAt: 'b' });
    const second = await recordExecution(e.db, 'xyz', chain(['x', 'y', 'z'], 0), { crashAt: 'y' });
    const r = await e.cli(['resume', '--agents', AGENTS, '--json'], { ORCHESTR8_TEST_FAIL_AT: 'c' });
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(r.stdout) as { executionId: string; status: string }[];
    expect(results.map((x) => [x.executionId, x.status])).toEqual([
      [first, 'failed'],
      [second, 'completed'],
    ]);
    expect(readSide(e.side).some((l) => l.stepId === 'a' || l.stepId === 'x')).toBe(false);
    const [nothing, finished] = await Promise.all([e.cli(['resume', '--agents', AGENTS]), e.status(done)]);
    expect(nothing.code).toBe(0);
    expect(nothing.stderr).toContain('nothing to resume');
    expect(finished).toBe('completed');
  });

  it('exits 130 when interrupted with Ctrl-C, leaving the execution cancelled', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'slow', chain(['p', 'q', 'r'], 2_000), { crashAt: 'q' });
    const resumed = startCli(['resume', id, '--agents', AGENTS, ...e.store], {
      cwd: e.dir,
      env: { ORCHESTR8_TEST_SIDE_FILE: e.side },
    });
    await expect
      .poll(() => readSide(e.side).some((l) => l.kind === 'start' && l.stepId === 'q'), {
        timeout: 30_000,
        interval: 10,
      })
      .toBe(true);
    resumed.child.kill('SIGINT');
    const r = await resumed.done;
    expect(r.code, r.stderr).toBe(130);
    expect(await e.status(id)).toBe('cancelled');
  });
});

describe('orchestr8 cancel through the binary', () => {
  beforeAll(assertBuilt);

  it('says "already completed" for a finished execution, and NOT_FOUND for an unknown one', async () => {
    const e = setup();
    const done = await recordExecution(e.db, 'abc', abc);
    const [r, json, unknown] = await Promise.all([
      e.cli(['cancel', done]),
      e.cli(['cancel', done, '--json']),
      e.cli(['cancel', 'no-such-id']),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`execution ${done} already completed; nothing to cancel\n`);
    expect(JSON.parse(json.stdout)).toEqual({ executionId: done, outcome: 'finished', status: 'completed' });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error NOT_FOUND: no execution "no-such-id"');
    expect(unknown.stderr).not.toMatch(STACK_TRACE);
  });

  it('records a request for an unfinished execution, which inspect shows until it is acted on', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'abc', abc, { crashAt: 'b' });
    const r = await e.cli(['cancel', id, '--reason', 'wrong inputs']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`cancellation requested for execution ${id}`);
    const again = await e.cli(['cancel', id, '--reason', 'second thoughts', '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ executionId: id, outcome: 'requested', status: 'running' });
    const [json, text] = await Promise.all([e.cli(['inspect', id, '--json']), e.cli(['inspect', id])]);
    expect(JSON.parse(json.stdout).cancelRequest).toMatchObject({ executionId: id, reason: 'wrong inputs' });
    expect(text.stdout).toMatch(/cancel\s+requested .+ \(wrong inputs\); not yet acted on/);
  });

  it('gives up waiting after --timeout with exit 1; --timeout needs --wait', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'abc', abc, { crashAt: 'b' });
    const [usage, r] = await Promise.all([
      e.cli(['cancel', id, '--timeout', '1s']),
      e.cli(['cancel', id, '--wait', '--timeout', '300ms']),
    ]);
    expect(usage.code).toBe(2);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`execution ${id} is still running after 300ms; the request stays recorded`);
  });

  it('cancels a crashed execution on resume when a request is pending, running none of its steps', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'abc', abc, { crashAt: 'b' });
    await e.cli(['cancel', id, '--reason', 'not needed any more']);
    const r = await e.cli(['resume', id, '--agents', AGENTS, '--json']);
    expect(readSide(e.side)).toEqual([]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'cancelled', statusReason: 'not needed any more' });
  });

  // The engine polls pendingCancels for its live runs (about once a second).
  it('stops an execution running in another process; --wait returns once it has stopped', async () => {
    const e = setup();
    // Long enough that the run cannot finish before the request lands, even on a loaded
    // machine; with cancellation working it stops within about a second of the request.
    const slow = writeWorkflow(e.dir, 'slow', chain(['p', 'q', 'r'], 5000), 1);
    const run = startCli(['run', slow, '--agents', AGENTS, ...e.store, '--quiet'], {
      cwd: e.dir,
      env: { ORCHESTR8_TEST_SIDE_FILE: e.side },
    });
    let stderr = '';
    run.child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await expect.poll(() => stderr, { timeout: 30_000, interval: 10 }).toMatch(/^execution \S+ · /m);
    const id = executionIdFrom(stderr);
    const cancel = await e.cli(['cancel', id, '--wait', '--timeout', '20s', '--reason', 'from elsewhere']);
    const ran = await run.done;
    expect(cancel.stdout).toContain(`execution ${id} cancelled`);
    expect(cancel.code).toBe(0);
    expect(ran.code).toBe(1);
    const inspected = JSON.parse((await e.cli(['inspect', id, '--json'])).stdout);
    expect(inspected.execution).toMatchObject({ status: 'cancelled', statusReason: 'from elsewhere' });
    expect(inspected.steps.map((s: { status: string }) => s.status)).toContain('cancelled');
  });
});
