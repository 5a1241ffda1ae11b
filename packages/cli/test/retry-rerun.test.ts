/**
 * `orchestr8 retry` and `orchestr8 rerun` through the real binary, in-process on a SQLite
 * store and against a running `orchestr8 serve` (--server). The executions they act on are
 * recorded in-process (`recordExecution`).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS,
  assertBuilt,
  cli,
  readSide,
  recordExecution,
  type StepSpec,
  serve,
  useTempRoot,
} from './fixtures/harness.js';

const tempDir = useTempRoot('retry-rerun');
const STACK_TRACE = /\n\s+at .+:\d+/;
const chain: StepSpec[] = [
  { id: 'a', deps: [], ms: 0, own: 1 },
  { id: 'b', deps: ['a'], ms: 0, own: 2 },
  { id: 'c', deps: ['b'], ms: 0, own: 3 },
];

function setup() {
  const dir = tempDir();
  const side = join(dir, 'side.log');
  const db = join(dir, 'orchestr8.db');
  const store = ['--store', `sqlite:${db}`];
  return {
    dir,
    db,
    side,
    store,
    run: (args: string[]) => cli([...args, ...store], { cwd: dir, env: { ORCHESTR8_TEST_SIDE_FILE: side } }),
    started: () =>
      readSide(side)
        .filter((l) => l.kind === 'start')
        .map((l) => l.stepId),
  };
}

beforeAll(() => assertBuilt());

describe('orchestr8 retry', () => {
  it('runs the failed step and what it gates again in the same execution; a completed one is refused', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'rr', chain, { failAt: 'b' });
    const r = await e.run(['retry', id, '--agents', AGENTS, '--reason', 'fixed b']);
    expect(r.stderr).toContain(`retrying execution ${id}: b, c`);
    expect(r.code).toBe(0);
    expect(e.started()).toEqual(['b', 'c']);
    const inspect = JSON.parse((await e.run(['inspect', id, '--json'])).stdout);
    expect(inspect.execution.status).toBe('completed');

    const again = await e.run(['retry', id, '--agents', AGENTS]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('error CONFLICT');
    expect(again.stderr).toContain('cannot be retried: it completed');
    expect(again.stderr).not.toMatch(STACK_TRACE);
  });

  it('says when there is no such execution', async () => {
    const e = setup();
    await recordExecution(e.db, 'rr', chain);
    const r = await e.run(['retry', 'nope', '--agents', AGENTS]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no execution "nope"');
  });
});

describe('orchestr8 rerun', () => {
  it('prints the plan of a dry run and starts nothing; then reruns, reusing upstream outputs', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'rr', chain);
    const dry = await e.run(['rerun', id, '--from', 'b', '--dry-run', '--agents', AGENTS]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would rerun execution ${id} from step b:`);
    expect(dry.stdout).toMatch(/runs again: b, c\n\s+reused:\s+a\n/);
    expect(JSON.parse((await e.run(['list', '--json'])).stdout)).toHaveLength(1);

    const r = await e.run(['rerun', id, '--from', 'b', '--agents', AGENTS]);
    expect(r.code).toBe(0);
    const newId = /new execution ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
    expect(newId).not.toBe(id);
    expect(e.started()).toEqual(['b', 'c']);
    const inspect = JSON.parse((await e.run(['inspect', newId, '--json'])).stdout);
    expect(inspect.execution).toMatchObject({ status: 'completed', correlationId: `rerun:${id}@b` });
  });

  it('refuses an unknown step with exit 2, naming the steps there are', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'rr', chain);
    const r = await e.run(['rerun', id, '--from', 'zz', '--agents', AGENTS]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no step "zz" (its steps: a, b, c)');
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });
});

describe('against a running orchestr8 serve (--server)', () => {
  it('retries and reruns there', async () => {
    const e = setup();
    const id = await recordExecution(e.db, 'rr', chain, { failAt: 'c' });
    const s = await serve(['--port', '0', ...e.store, '--agents', AGENTS], {
      cwd: e.dir,
      env: { ORCHESTR8_TEST_SIDE_FILE: e.side },
    });
    try {
      const retried = await cli(['retry', id, '--server', s.url, '--wait'], { cwd: e.dir });
      expect(retried.stderr).toContain(`retrying execution ${id}: c`);
      expect(retried.stdout).toContain(`execution ${id} completed`);
      expect(retried.code).toBe(0);
      const refused = await cli(['retry', id, '--server', s.url], { cwd: e.dir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('error EXECUTION_NOT_RETRYABLE');

      const plan = await cli(['rerun', id, '--from', 'c', '--server', s.url, '--dry-run', '--json'], {
        cwd: e.dir,
      });
      expect(plan.code).toBe(0);
      expect(JSON.parse(plan.stdout).plan).toMatchObject({ rerun: ['c'], reused: ['a', 'b'] });
      const rerun = await cli(['rerun', id, '--from', 'c', '--server', s.url, '--wait'], { cwd: e.dir });
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toMatch(/new execution [0-9a-f-]{36}\nexecution [0-9a-f-]{36} completed/);
      expect(e.started()).toEqual(['c', 'c']);
    } finally {
      await s.stop();
    }
  });
});
