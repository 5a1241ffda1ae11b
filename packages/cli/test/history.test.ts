/**
 * `orchestr8 list`, `inspect`, `journal` and `prune` through the real binary, against a
 * SQLite store filled by `orchestr8 run`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalEntry } from '@orchestr8/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS,
  assertBuilt,
  cli,
  executionIdFrom,
  recordExecution,
  type StepSpec,
  startCli,
  useTempRoot,
  writeWorkflow,
} from './fixtures/harness.js';

const tempDir = useTempRoot('history');
const chain = (ms: number): StepSpec[] => [
  { id: 'a', deps: [], ms, own: 1 },
  { id: 'b', deps: ['a'], ms, own: 2 },
  { id: 'c', deps: ['b'], ms, own: 3 },
];
const STACK_TRACE = /\n\s+at .+:\d+/;

interface Fixture {
  dir: string;
  db: string;
  store: string[];
  completed: string;
  failed: string;
  crashed: string;
}

/** A store holding, oldest first: a completed, a failed and a crashed (left running) execution. */
async function fixture(): Promise<Fixture> {
  const dir = tempDir();
  const db = join(dir, 'history.db');
  const completed = await recordExecution(db, 'hist-ok', chain(0));
  const failed = await recordExecution(db, 'hist-fail', chain(0), { failAt: 'b' });
  const crashed = await recordExecution(db, 'hist-crash', chain(0), { crashAt: 'b' });
  return { dir, db, store: ['--store', `sqlite:${db}`], completed, failed, crashed };
}

describe('orchestr8 list / inspect / journal through the binary', () => {
  let f: Fixture;
  const run = (args: string[]) => cli([...args, ...f.store], { cwd: f.dir });

  beforeAll(async () => {
    assertBuilt();
    f = await fixture();
  });

  it('lists executions newest first with their status and workflow', async () => {
    const r = await run(['list']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+WORKFLOW\s+CREATED\s+DURATION\s+REASON$/);
    expect(lines[1]).toMatch(new RegExp(`^${f.crashed}\\s+running\\s+hist-crash@1\\.0\\.0`));
    expect(lines[2]).toMatch(new RegExp(`^${f.failed}\\s+failed\\s+hist-fail@1\\.0\\.0`));
    expect(lines[3]).toMatch(
      new RegExp(`^${f.completed}\\s+completed\\s+hist-ok@1\\.0\\.0.*all steps finished$`),
    );
    expect(lines[4]).toBe('3 executions');
  });

  it('filters by status (repeatable or comma-separated), by workflow, and limits', async () => {
    const ids = async (args: string[]) => {
      const r = await run(['list', '--json', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { id: string }[]).map((e) => e.id);
    };
    const [all, failed, two, repeated, ok, none, firstTwo, limited] = await Promise.all([
      ids([]),
      ids(['--status', 'failed']),
      ids(['--status', 'completed,failed']),
      ids(['-s', 'running', '-s', 'completed']),
      ids(['--workflow', 'hist-ok']),
      ids(['--workflow', 'hist-ok', '--status', 'failed']),
      ids(['--limit', '2']),
      run(['list', '--limit', '1']),
    ]);
    expect(all).toEqual([f.crashed, f.failed, f.completed]);
    expect(failed).toEqual([f.failed]);
    expect(two).toEqual([f.failed, f.completed]);
    expect(repeated).toEqual([f.crashed, f.completed]);
    expect(ok).toEqual([f.completed]);
    expect(none).toEqual([]);
    expect(firstTwo).toEqual([f.crashed, f.failed]);
    expect(limited.stdout).toContain('1 execution (more match: raise --limit)');
  });

  it('rejects an unknown status or a bad limit as usage errors (exit 2)', async () => {
    const [status, limit] = await Promise.all([
      run(['list', '--status', 'done']),
      run(['list', '--limit', '0']),
    ]);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('unknown status "done"');
    expect(limit.code).toBe(2);
  });

  it('reads the store from ORCHESTR8_STORE, and does not create a store that does not exist', async () => {
    const missing = join(f.dir, 'nothing-here.db');
    const [fromEnv, r] = await Promise.all([
      cli(['list', '--json'], { cwd: f.dir, env: { ORCHESTR8_STORE: `sqlite:${f.db}` } }),
      cli(['list', '--store', `sqlite:${missing}`], { cwd: f.dir }),
    ]);
    expect(JSON.parse(fromEnv.stdout)).toHaveLength(3);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no executions');
    expect(existsSync(missing)).toBe(false);
  });

  it('inspects a completed execution: status, steps with attempts, timings and outputs', async () => {
    const r = await run(['inspect', f.completed]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`execution ${f.completed}`);
    expect(r.stdout).toMatch(/status\s+completed · all steps finished/);
    expect(r.stdout).toMatch(/outputs\s+\{"c":\d+\}/);
    expect(r.stdout).toContain('3 steps · 3 completed');
    for (const id of ['a', 'b', 'c']) {
      expect(r.stdout).toMatch(
        new RegExp(`✓ ${id}\\s+completed\\s+1 attempt\\s+\\d\\d:\\d\\d:\\d\\d\\.\\d{3} → `),
      );
    }
    expect(r.stdout).toContain('output {"n":31}');
  });

  it('inspects a failed execution: the error, the failed step and the skipped one', async () => {
    const r = await run(['inspect', f.failed]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/status\s+failed/);
    expect(r.stdout).toMatch(/error\s+TERMINAL: step b was told to fail/);
    expect(r.stdout).toMatch(/✗ b\s+failed\s+1 attempt/);
    expect(r.stdout).toContain('error TERMINAL: step b was told to fail');
    expect(r.stdout).toMatch(/⊘ c\s+cancelled|− c\s+skipped/);
  });

  it('inspects as JSON: the record, every step in document order, pending ones included', async () => {
    const [doneOut, crashedOut] = await Promise.all([
      run(['inspect', f.completed, '--json']),
      run(['inspect', f.crashed, '--json']),
    ]);
    const done = JSON.parse(doneOut.stdout);
    expect(done.execution).toMatchObject({ id: f.completed, status: 'completed', workflowId: 'hist-ok' });
    expect(done.steps.map((s: { stepId: string }) => s.stepId)).toEqual(['a', 'b', 'c']);
    expect(done.steps[0]).toMatchObject({ status: 'completed', attempts: 1, output: { n: 31 } });
    expect(typeof done.steps[0].startedAt).toBe('number');
    const crashed = JSON.parse(crashedOut.stdout);
    expect(crashed.execution.status).toBe('running');
    expect(crashed.steps.map((s: { status: string }) => s.status)).toEqual([
      'completed',
      expect.stringMatching(/^(running|pending)$/),
      'pending',
    ]);
    expect(crashed.cancelRequest).toBeUndefined();
  });

  it('reports an unknown id as NOT_FOUND with exit 1 and no stack trace, in text and JSON', async () => {
    const [r, json] = await Promise.all([
      run(['inspect', 'no-such-id']),
      run(['inspect', 'no-such-id', '--json']),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error NOT_FOUND: no execution "no-such-id"');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('prints the journal as NDJSON and as a JSON array, entries in seq order', async () => {
    const [nd, json, after] = await Promise.all([
      run(['journal', f.completed, '--ndjson']),
      run(['journal', f.completed, '--json']),
      run(['journal', f.completed, '--ndjson', '--after', '3']),
    ]);
    expect(nd.code, nd.stderr).toBe(0);
    const entries = nd.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as JournalEntry);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    expect(entries[0]!.type).toBe('execution.started');
    expect(entries.at(-1)!.type).toBe('execution.completed');
    expect(entries.filter((e) => e.type === 'step.completed').map((e) => e.stepId)).toEqual(['a', 'b', 'c']);
    expect(JSON.parse(json.stdout)).toEqual(entries);
    expect(
      after.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq)[0],
    ).toBe(4);
  });

  it('prints the journal for a person: one line per entry', async () => {
    const [r, both] = await Promise.all([
      run(['journal', f.failed]),
      run(['journal', f.failed, '--json', '--ndjson']),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/#1\s+\d\d:\d\d:\d\d\.\d{3}\s+\+\d+(\.\d)? m?s\s+execution\.started/);
    expect(r.stdout).toMatch(/step\.failed\s+b\s+attempt 1\s+error=TERMINAL: step b was told to fail/);
    expect(r.stdout).toContain('execution.failed');
    expect(both.code).toBe(2);
  });

  it('follows a running execution and stops by itself when it finishes', async () => {
    // Its own store: the other tests count what is in the shared one.
    const dir = tempDir();
    const store = ['--store', `sqlite:${join(dir, 'follow.db')}`];
    const slow = writeWorkflow(dir, 'hist-slow', chain(150), 1);
    const running = startCli(['run', slow, '--agents', AGENTS, ...store, '--quiet'], { cwd: dir });
    let stderr = '';
    running.child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await expect.poll(() => stderr, { timeout: 30_000, interval: 10 }).toMatch(/^execution \S+ · /m);
    const id = executionIdFrom(stderr);
    const follow = await cli(['journal', id, '--follow', '--ndjson', ...store], {
      cwd: dir,
      timeoutMs: 15_000,
    });
    const ran = await running.done;
    expect(ran.code).toBe(0);
    expect(follow.code, follow.stderr).toBe(0);
    const entries = follow.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as JournalEntry);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    expect(entries.at(-1)!.type).toBe('execution.completed');
    expect(entries.filter((e) => e.type === 'step.completed')).toHaveLength(3);
    // Following a finished execution prints it all and returns at once.
    const again = await cli(['journal', id, '--follow', '--json', ...store], { cwd: dir });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(entries);
  });
});

describe('orchestr8 prune through the binary', () => {
  beforeAll(assertBuilt);

  it('removes finished executions older than the cutoff with their journals, and keeps running ones', async () => {
    const f = await fixture();
    const run = (args: string[]) => cli([...args, ...f.store], { cwd: f.dir });
    const none = await run(['prune', '--older-than', '7d']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toMatch(/^pruned 0 executions finished before .+ and 0 expired idempotency keys\n$/);

    const json = await run(['prune', '--older-than', '0s', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ executions: 2, idempotencyKeys: 0 });
    const left = JSON.parse((await run(['list', '--json'])).stdout) as { id: string }[];
    expect(left.map((e) => e.id)).toEqual([f.crashed]);
    const journal = await run(['journal', f.completed]);
    expect(journal.code).toBe(1);
    expect(journal.stderr).toContain('NOT_FOUND');

    const again = await run(['prune', '--older-than', '1m']);
    expect(again.stdout).toMatch(/^pruned 0 executions/);
  });

  it('rejects a malformed or missing duration as a usage error (exit 2)', async () => {
    const dir = tempDir();
    const store = ['--store', `sqlite:${join(dir, 'p.db')}`];
    const bad = ['7x', '-1d'];
    const [missing, ...results] = await Promise.all([
      cli(['prune', ...store], { cwd: dir }),
      ...bad.map((b) => cli(['prune', '--older-than', b, ...store], { cwd: dir })),
    ]);
    for (const [i, r] of results.entries()) {
      expect(r.code, bad[i]).toBe(2);
      expect(r.stderr).toContain('--older-than');
    }
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--older-than <duration>'");
  });
});
