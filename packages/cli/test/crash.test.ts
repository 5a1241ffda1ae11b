/**
 * Durability with a real process: `orchestr8 run` is SIGKILLed at random points, then
 * `orchestr8 resume` finishes the execution. Checked each time: the result is right, no
 * step whose completion was committed before the kill starts again, re-run steps keep
 * their idempotency key, and the database and journal are intact.
 *
 * The kill points come from a seeded random; a failing test prints the seed and what each
 * round did, and `ORCHESTR8_TEST_SEED=<seed>` replays it. A passing run prints nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalEntry, StepStateRecord } from '@orchestr8/core';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import Database from 'libsql';
import { beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  AGENTS,
  assertBuilt,
  cli,
  countFinishes,
  executionIdFrom,
  expectedResult,
  fanOut,
  layered,
  readSide,
  type StepSpec,
  seededRandom,
  sleep,
  startCli,
  testSeed,
  useTempRoot,
  writeWorkflow,
} from './fixtures/harness.js';

const seed = testSeed();
const random = seededRandom(seed);
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

/** On failure only: the seed to replay it with, and what `rounds()` says each round did. */
function explainOnFailure(rounds: () => string = () => ''): void {
  onTestFailed(() => {
    const done = rounds();
    console.info(
      `crash tests: seed ${seed} (replay with ORCHESTR8_TEST_SEED=${seed})${done ? `; ${done}` : ''}`,
    );
  });
}

const tempDir = useTempRoot('crash');

interface Snapshot {
  status: string | undefined;
  steps: StepStateRecord[];
  journal: JournalEntry[];
}

async function snapshot(db: string, id: string): Promise<Snapshot> {
  const store = await openSqliteStore({ path: db });
  try {
    const [execution, steps, journal] = await Promise.all([
      store.getExecution(id),
      store.getSteps(id),
      store.readJournal(id),
    ]);
    return { status: execution?.status, steps, journal };
  } finally {
    await store.close();
  }
}

/** PRAGMA integrity_check and foreign_key_check, on a raw connection. */
function checkIntegrity(db: string, where: string): void {
  const raw = new Database(db);
  try {
    const integrity = raw.prepare('PRAGMA integrity_check').all([]) as { integrity_check: string }[];
    expect(
      integrity.map((r) => r.integrity_check),
      `${where}: integrity_check`,
    ).toEqual(['ok']);
    expect(raw.prepare('PRAGMA foreign_key_check').all([]), `${where}: foreign_key_check`).toEqual([]);
  } finally {
    raw.close();
  }
}

interface Round {
  label: string;
  steps: StepSpec[];
  concurrency: number;
  killAfterFinishes: number;
}

interface Outcome {
  killed: boolean;
  /** Steps whose `finish` line was written but whose completion was not committed: they ran again. */
  rerunAfterFinish: string[];
  committedBeforeKill: number;
}

async function crashAndResume(round: Round): Promise<Outcome> {
  const ctx = `${round.label} (seed ${seed}, killed after ${round.killAfterFinishes} finishes)`;
  const dir = tempDir();
  const db = join(dir, 'orchestr8.db');
  const side = join(dir, 'side.log');
  const workflow = writeWorkflow(dir, `crash-${round.steps.length}`, round.steps, round.concurrency);
  const env = { ORCHESTR8_TEST_SIDE_FILE: side };
  const store = ['--store', `sqlite:${db}`];

  // 1. Run, and SIGKILL once enough steps have written their finish line.
  const run = startCli(['run', workflow, '--agents', AGENTS, ...store], { env });
  let exited = false;
  void run.done.then(() => {
    exited = true;
  });
  while (!exited && countFinishes(side) < round.killAfterFinishes) await sleep(1);
  run.child.kill('SIGKILL');
  const first = await run.done;
  const signalled = first.signal === 'SIGKILL';
  if (!signalled) expect(first.code, `${ctx}: run exited on its own\n${first.stderr}`).toBe(0);
  const id = executionIdFrom(first.stderr);

  // 2. What survived the kill.
  checkIntegrity(db, `${ctx}, after the kill`);
  const linesBefore = readSide(side);
  const before = await snapshot(db, id);
  // A kill that lands after the execution was committed completed (while the process closes
  // its store) interrupted nothing: that round finished first.
  const killed = signalled && before.status !== 'completed';
  if (killed) expect(before.status, ctx).toBe('running');
  const committed = new Set(before.steps.filter((s) => s.status === 'completed').map((s) => s.stepId));
  const finishedBefore = new Set(linesBefore.filter((l) => l.kind === 'finish').map((l) => l.stepId));
  for (const stepId of committed) {
    expect(finishedBefore.has(stepId), `${ctx}: ${stepId} is committed completed but never finished`).toBe(
      true,
    );
  }

  // 3. Resume in a new process.
  const resumed = await cli(['resume', id, '--agents', AGENTS, ...store], { env });
  expect(resumed.code, `${ctx}: resume failed\n${resumed.stderr}\n${resumed.stdout}`).toBe(0);

  // 4. The result is right and every step completed.
  const after = await snapshot(db, id);
  checkIntegrity(db, `${ctx}, after resume`);
  expect(after.status, ctx).toBe('completed');
  expect(
    after.steps.map((s) => s.status).filter((s) => s !== 'completed'),
    ctx,
  ).toEqual([]);
  const result = await resultOf(db, id);
  expect(result, ctx).toEqual(expectedResult(round.steps));

  // 5. No step committed as completed before the kill started again after it.
  const linesAfter = readSide(side).slice(linesBefore.length);
  const restartedCommitted = linesAfter.filter((l) => l.kind === 'start' && committed.has(l.stepId));
  expect(
    restartedCommitted.map((l) => l.stepId),
    `${ctx}: steps committed as completed before the kill were started again`,
  ).toEqual([]);

  // 6. Re-runs (at-least-once) keep the step's idempotency key.
  const keys = new Map<string, Set<string>>();
  for (const l of [...linesBefore, ...linesAfter]) {
    if (l.kind !== 'start') continue;
    keys.set(l.stepId, (keys.get(l.stepId) ?? new Set()).add(l.key ?? ''));
  }
  for (const [stepId, set] of keys) {
    expect([...set], `${ctx}: ${stepId} started with different idempotency keys`).toHaveLength(1);
    expect([...set][0], ctx).toBe(`${id}:${stepId}`);
  }
  for (const s of round.steps) expect(keys.has(s.id), `${ctx}: ${s.id} never started`).toBe(true);

  // 7. The journal: what was committed before the kill is kept as it was, and the resumed
  //    run continues the numbering: 1..n with no gap and no duplicate.
  const seqs = after.journal.map((e) => e.seq);
  expect(seqs, `${ctx}: journal seqs`).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  expect(
    after.journal.slice(0, before.journal.length),
    `${ctx}: journal before the kill was rewritten`,
  ).toEqual(before.journal);
  if (killed) {
    expect(after.journal[before.journal.length]?.type, ctx).toBe('execution.resumed');
  }
  const completions = new Map<string, number>();
  for (const e of after.journal) {
    if (e.type === 'step.completed' && e.stepId)
      completions.set(e.stepId, (completions.get(e.stepId) ?? 0) + 1);
  }
  for (const stepId of committed) expect(completions.get(stepId), `${ctx}: completions of ${stepId}`).toBe(1);

  const rerunAfterFinish = [...finishedBefore].filter(
    (s) => !committed.has(s) && linesAfter.some((l) => l.kind === 'start' && l.stepId === s),
  );
  return { killed, rerunAfterFinish, committedBeforeKill: committed.size };
}

async function resultOf(db: string, id: string): Promise<unknown> {
  const store = await openSqliteStore({ path: db });
  try {
    return (await store.getExecution(id))?.result;
  } finally {
    await store.close();
  }
}

describe('crash recovery through the CLI (SIGKILL, then orchestr8 resume)', () => {
  beforeAll(assertBuilt);

  it('finishes a 30-step workflow killed at five random points without re-running committed steps', async () => {
    // 6 layers of 5 steps, 20-44 ms each, 3 at a time: about half a second of work.
    const steps = layered(6, 5, (i) => 20 + ((i * 7) % 25));
    const outcomes: Outcome[] = [];
    explainOnFailure(() =>
      outcomes
        .map(
          (o, i) =>
            `round ${i + 1}: ${o.killed ? 'killed' : 'finished first'}, ${o.committedBeforeKill} committed, ` +
            `${o.rerunAfterFinish.length} finished but uncommitted, so re-ran [${o.rerunAfterFinish.join(' ')}]`,
        )
        .join('; '),
    );
    for (let r = 0; r < 5; r++) {
      const killAfterFinishes = between(1, 24);
      outcomes.push(
        await crashAndResume({ label: `30 steps, round ${r + 1}`, steps, concurrency: 3, killAfterFinishes }),
      );
    }
    // Kill points are early enough that the run cannot finish first, barring a stalled machine.
    expect(outcomes.filter((o) => o.killed).length, `seed ${seed}`).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('survives a kill while a 200-step fan-out is committing its completions', async () => {
    const steps = fanOut(200, () => between(1, 8));
    const outcomes: Outcome[] = [];
    explainOnFailure(() =>
      outcomes
        .map(
          (o, i) =>
            `round ${i + 1}: ${o.killed ? 'killed' : 'finished first'}, ${o.committedBeforeKill} committed, ` +
            `${o.rerunAfterFinish.length} finished but uncommitted, so re-ran`,
        )
        .join('; '),
    );
    for (let r = 0; r < 2; r++) {
      const killAfterFinishes = between(20, 150);
      outcomes.push(
        await crashAndResume({ label: `fan-out, round ${r + 1}`, steps, concurrency: 40, killAfterFinishes }),
      );
    }
    expect(
      outcomes.some((o) => o.killed),
      `seed ${seed}`,
    ).toBe(true);
  }, 60_000);

  // A step recorded `retrying` after attempt k failed resumes at attempt k + 1: a crash during
  // a backoff must not grant an attempt beyond maxAttempts.
  it("continues a step's retry budget across a crash instead of granting a fresh one", async () => {
    const dir = tempDir();
    const db = join(dir, 'orchestr8.db');
    const side = join(dir, 'side.log');
    const workflow = join(dir, 'flaky.json');
    writeFileSync(
      workflow,
      JSON.stringify({
        version: '1.0.0',
        metadata: { id: 'flaky', name: 'flaky' },
        steps: [
          {
            id: 'flaky',
            agent: '@test/flaky',
            input: { succeedAt: 3 },
            policies: { retry: { maxAttempts: 3, baseDelayMs: '400ms', multiplier: 1, jitter: 'none' } },
          },
        ],
      }),
    );
    const env = { ORCHESTR8_TEST_SIDE_FILE: side };
    const store = ['--store', `sqlite:${db}`];
    const run = startCli(['run', workflow, '--agents', AGENTS, ...store], { env });
    // Attempt 1 fails at once; kill during the 400 ms wait before attempt 2.
    await expect
      .poll(() => readFileSync(side, { encoding: 'utf8', flag: 'a+' }), { timeout: 30_000, interval: 2 })
      .toContain('attempt flaky 1\n');
    await sleep(150);
    run.child.kill('SIGKILL');
    const id = executionIdFrom((await run.done).stderr);
    const before = await snapshot(db, id);
    expect(before.steps[0]).toMatchObject({ stepId: 'flaky', status: 'retrying', attempts: 1 });

    const resumed = await cli(['resume', id, '--agents', AGENTS, ...store, '--json'], { env });
    const attempts = readFileSync(side, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('attempt flaky '))
      .map((l) => Number(l.slice('attempt flaky '.length)));
    // Attempt 1 failed and was recorded before the kill: the resumed run owes attempts 2 and 3 only.
    expect(attempts).toEqual([1, 2, 3]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).steps.flaky).toMatchObject({ status: 'completed', attempts: 3 });
  }, 20_000);

  it('keeps an open circuit open across a crash, so the resumed run does not call the agent', async () => {
    const dir = tempDir();
    const db = join(dir, 'orchestr8.db');
    const side = join(dir, 'side.log');
    const workflow = join(dir, 'circuit.json');
    const breaker = {
      circuitBreaker: { failureThreshold: 1, resetTimeoutMs: '10m' },
      retry: { maxAttempts: 1 },
    };
    writeFileSync(
      workflow,
      JSON.stringify({
        version: '1.0.0',
        metadata: { id: 'circuit', name: 'circuit' },
        steps: [
          { id: 'trip', agent: '@test/flaky', input: {}, onError: 'continue', policies: breaker },
          { id: 'hold', agent: '@test/work', dependencies: ['trip'], input: { own: 1, ms: 0 } },
          {
            id: 'probe',
            agent: '@test/flaky',
            dependencies: ['hold'],
            input: { succeedAt: 1 },
            onError: 'continue',
            policies: breaker,
          },
        ],
      }),
    );
    const store = ['--store', `sqlite:${db}`];
    // `hold` kills its own process as it starts: after `trip` failed and opened the circuit.
    const first = await cli(['run', workflow, '--agents', AGENTS, ...store], {
      env: { ORCHESTR8_TEST_SIDE_FILE: side, ORCHESTR8_TEST_DIE_AT: 'hold' },
    });
    expect(first.signal).toBe('SIGKILL');
    const id = executionIdFrom(first.stderr);
    const resumed = await cli(['resume', id, '--agents', AGENTS, ...store, '--json'], {
      env: { ORCHESTR8_TEST_SIDE_FILE: side },
    });
    expect(resumed.code, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result.steps.trip).toMatchObject({ status: 'failed', attempts: 1 });
    expect(result.steps.probe).toMatchObject({ status: 'failed', error: { code: 'CIRCUIT_OPEN' } });
    expect(readFileSync(side, 'utf8')).not.toContain('attempt probe');
  }, 20_000);
});
