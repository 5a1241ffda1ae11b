import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { loadWorkflow } from '@orchestr8/schema';
import { openSqliteStore, type SqliteStore } from '@orchestr8/store-sqlite';
import { replayExecution } from '@orchestr8/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli } from './fixtures/harness.js';

/** Non-deterministic on purpose: a replay must use what it returned, never call it again. */
let calls = 0;
const agents = createAgentRegistry([
  ...builtinAgents,
  defineAgent<{ max: number }, { value: number; ids: string[] }>({
    id: '@t/draw',
    execute: ({ max }) => {
      calls++;
      const value = Math.floor(Math.random() * max);
      return { value, ids: Array.from({ length: 1 + (value % 4) }, (_, i) => `item-${i}`) };
    },
  }),
]);

const V1 = `version: 1.0.0
metadata: { id: order }
steps:
  - id: draw
    agent: "@t/draw"
    input: { max: 1000 }
  - id: big
    agent: "@orchestr8/echo"
    dependencies: [draw]
    condition: { if: steps.draw.output.value >= 0 }
    input: { message: "big \${steps.draw.output.value}" }
  - id: each
    agent: "@orchestr8/echo"
    dependencies: [draw]
    forEach: { items: "\${steps.draw.output.ids}" }
    input: { message: "\${item}" }
  - id: audit
    agent: "@orchestr8/echo"
    dependencies: [big]
    input: { message: "audit" }
`;

let dir: string;
let store: SqliteStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function recorded() {
  dir = mkdtempSync(join(tmpdir(), 'o8-replay-'));
  const path = join(dir, 'o8.db');
  store = await openSqliteStore({ path });
  const engine = createEngine({ registry: agents, store });
  const loaded = loadWorkflow(V1, { filename: 'order.yaml' });
  const handle = await engine.start(loaded.workflow!, {});
  const result = await handle.result;
  expect(result.status).toBe('completed');
  await engine.close();
  const draw = result.steps.draw!.output as { value: number; ids: string[] };
  return { id: handle.id, path, draw };
}

/** An execution left waiting for an event in a SQLite store (the engine closed). */
async function waiting() {
  dir = mkdtempSync(join(tmpdir(), 'o8-replay-'));
  const path = join(dir, 'o8.db');
  const s = await openSqliteStore({ path });
  const engine = createEngine({ registry: agents, store: s });
  const doc = `version: 1.0.0
metadata: { id: held }
steps:
  - id: first
    agent: "@orchestr8/echo"
    input: { message: "one" }
  - id: paid
    wait: { event: { name: paid } }
    dependencies: [first]
  - id: ship
    agent: "@orchestr8/echo"
    dependencies: [paid]
    input: { message: "ship" }
`;
  const handle = await engine.start(loadWorkflow(doc).workflow!, {});
  await expect
    .poll(async () => (await s.getExecution(handle.id))?.status, { timeout: 15_000, interval: 20 })
    .toBe('waiting');
  await engine.close();
  await s.close();
  return { id: handle.id, path };
}

const edit = (yaml: string, from: string, to: string) => {
  expect(yaml).toContain(from);
  return loadWorkflow(yaml.replace(from, to).replace('version: 1.0.0', 'version: 1.1.0'), {
    filename: 'order.yaml',
  }).workflow!;
};

describe('replayExecution (real SQLite store)', () => {
  it('replays the recorded document with the same decisions, calling no agent', async () => {
    const { id } = await recorded();
    calls = 0;
    const report = await replayExecution({ store: store!, executionId: id, agents });
    expect(calls).toBe(0);
    expect(report).toMatchObject({
      ok: true,
      differences: [],
      stepsCompared: 4,
      replayedStatus: 'completed',
    });
    expect(report.steps.map((s) => [s.stepId, s.recorded, s.replayed])).toEqual([
      ['draw', 'completed', 'completed'],
      ['big', 'completed', 'completed'],
      ['each', 'completed', 'completed'],
      ['audit', 'completed', 'completed'],
    ]);
  });

  it('flags a step whose condition now skips it, and the steps it no longer reaches', async () => {
    const { id, draw } = await recorded();
    const v2 = edit(V1, 'steps.draw.output.value >= 0', `steps.draw.output.value > ${draw.value}`);
    const report = await replayExecution({ store: store!, executionId: id, workflow: v2 });
    expect(report.ok).toBe(false);
    expect(report.replayedVersion).toBe('1.1.0');
    expect(report.differences.map((d) => [d.kind, d.stepId])).toEqual([
      ['decision', 'big'],
      ['decision', 'audit'],
    ]);
    expect(report.differences[0]!.message).toBe(
      `step "big" ran in the recorded execution but is skipped in the replay: condition if \`steps.draw.output.value > ${draw.value}\` was false`,
    );
  });

  it('flags a forEach step with another item count, a changed input, and new and removed steps', async () => {
    const { id, draw } = await recorded();
    // draw made 1 to 4 items; five now.
    const items = edit(V1, '"${steps.draw.output.ids}"', '[a, b, c, d, e]');
    const r1 = await replayExecution({ store: store!, executionId: id, workflow: items });
    expect(r1.differences.map((d) => [d.kind, d.stepId])).toEqual([['items', 'each']]);
    expect(r1.differences[0]!.message).toBe(
      `forEach step "each" had ${draw.ids.length} items; the replay has 5`,
    );

    const input = edit(
      V1,
      'message: "big ${steps.draw.output.value}"',
      'message: "large ${steps.draw.output.value}"',
    );
    const r2 = await replayExecution({ store: store!, executionId: id, workflow: input });
    expect(r2.differences).toEqual([
      {
        kind: 'inputs',
        stepId: 'big',
        message: 'step "big" resolves its input differently',
        recorded: { message: `big ${draw.value}` },
        replayed: { message: `large ${draw.value}` },
      },
    ]);

    const renamed = edit(V1, '- id: audit', '- id: audit2');
    const r3 = await replayExecution({ store: store!, executionId: id, workflow: renamed });
    expect(r3.differences.map((d) => [d.kind, d.stepId])).toEqual([
      ['new', 'audit2'],
      ['removed', 'audit'],
    ]);
  });

  it('replays a recorded failure (its error decides the branches) and a wait step from its recorded output; writes nothing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'o8-replay-'));
    store = await openSqliteStore({ path: join(dir, 'o8.db') });
    const engine = createEngine({ registry: agents, store });
    const doc = `version: 1.0.0
metadata: { id: branchy }
steps:
  - id: pause
    wait: { timer: 20ms }
  - id: charge
    agent: "@orchestr8/fail"
    dependencies: [pause]
    input: { always: true, code: HTTP_4XX, retryable: true, message: card declined }
    policies: { retry: { maxAttempts: 3, baseDelayMs: 1 } }
    onError: continue
  - id: notify
    agent: "@orchestr8/echo"
    dependencies: [charge]
    condition: { if: steps.charge.error.code == "HTTP_4XX" and steps.pause.output.firedAt != null }
    input: { message: "refused: \${steps.charge.error.message}" }
  - id: later
    agent: "@orchestr8/echo"
    dependencies: [charge]
    condition: { if: steps.charge.error.code == "HTTP_5XX" }
`;
    const handle = await engine.start(loadWorkflow(doc).workflow!, {});
    const result = await handle.result;
    await engine.close();
    expect(result.steps.charge!.status).toBe('failed');
    const before = (await store!.listExecutions({ limit: 100 })).items.length;
    const report = await replayExecution({ store: store!, executionId: handle.id });
    expect(report.differences).toEqual([]);
    expect(report.steps.map((s) => [s.stepId, s.recorded, s.replayed])).toEqual([
      ['pause', 'completed', 'completed'],
      ['charge', 'failed', 'failed'],
      ['notify', 'completed', 'completed'],
      ['later', 'skipped', 'skipped'],
    ]);
    expect((await store!.listExecutions({ limit: 100 })).items.length).toBe(before);
    // The error code decides: recorded as HTTP_4XX, a version branching on another code differs.
    const v2 = loadWorkflow(doc.replace('== "HTTP_4XX" and', '== "HTTP_5XX" and')).workflow!;
    const changed = await replayExecution({ store: store!, executionId: handle.id, workflow: v2 });
    expect(changed.differences.map((d) => [d.kind, d.stepId])).toEqual([['decision', 'notify']]);
  });

  it('refuses an execution that has not finished (CONFLICT): its waiting steps never ran', async () => {
    const { id, path } = await waiting();
    store = await openSqliteStore({ path });
    await expect(replayExecution({ store: store!, executionId: id })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `execution "${id}" is waiting: only a finished execution (completed, failed or cancelled) can be replayed`,
    });
  });

  it('a replay that ends with another status is not ok, and says why it failed (code, message, step)', async () => {
    const { id } = await recorded();
    // `audit` now runs the sleep agent with an input its schema refuses: the replay fails there.
    const v2 = edit(
      V1,
      'agent: "@orchestr8/echo"\n    dependencies: [big]\n    input: { message: "audit" }',
      'agent: "@orchestr8/sleep"\n    dependencies: [big]\n    input: { ms: -5 }',
    );
    const report = await replayExecution({ store: store!, executionId: id, workflow: v2, agents });
    expect(report.ok).toBe(false);
    expect(report.replayedStatus).toBe('failed');
    expect(report.replayedError).toMatchObject({ code: 'VALIDATION', stepId: 'audit' });
    expect(report.replayedError!.message).toMatch(/ms/);
    const status = report.differences.find((d) => d.kind === 'status')!;
    expect(status).toMatchObject({ recorded: 'completed', replayed: 'failed' });
    expect(status.message).toContain(
      'the execution ended completed; the replay ends failed (VALIDATION in step "audit": ',
    );
  });

  it('refuses an unknown execution with NOT_FOUND', async () => {
    await recorded();
    await expect(replayExecution({ store: store!, executionId: 'nope' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'no execution "nope" in the store',
    });
  });
});

describe('orchestr8 replay (built CLI, SQLite store)', () => {
  beforeAll(() => assertBuilt());

  it('exits 0 when the decisions are the same, 1 naming the step when one differs, 2 for an unknown id', async () => {
    dir = mkdtempSync(join(tmpdir(), 'o8-replay-cli-'));
    const wf = join(dir, 'flow.yaml');
    writeFileSync(
      wf,
      `version: 1.0.0
metadata: { id: flow }
inputs: { amount: { type: number } }
steps:
  - id: check
    agent: "@orchestr8/echo"
    input: { message: "amount \${inputs.amount}" }
  - id: approve
    agent: "@orchestr8/echo"
    dependencies: [check]
    condition: { if: inputs.amount < 100 }
    input: { message: "ok" }
`,
    );
    const db = `sqlite:${join(dir, 'o8.db')}`;
    const run = await cli(['run', wf, '--input', 'amount=50', '--store', db, '--json'], { cwd: dir });
    expect(run.code).toBe(0);
    const id = JSON.parse(run.stdout).executionId as string;
    const same = await cli(['replay', id, '--store', db], { cwd: dir });
    expect(same.stdout).toContain('same decisions: 2 steps compared, replay completed');
    expect(same.code).toBe(0);
    const v2 = join(dir, 'flow-v2.yaml');
    writeFileSync(
      v2,
      (await import('node:fs'))
        .readFileSync(wf, 'utf8')
        .replace('version: 1.0.0', 'version: 1.1.0')
        .replace('inputs.amount < 100', 'inputs.amount < 10'),
    );
    const differs = await cli(['replay', id, '--workflow', v2, '--store', db], { cwd: dir });
    expect(differs.stdout).toContain(`replay of ${id} against flow@1.1.0 (recorded with 1.0.0)`);
    expect(differs.stdout).toContain(
      'decision step "approve" ran in the recorded execution but is skipped in the replay: condition if `inputs.amount < 10` was false',
    );
    expect(differs.stdout).toContain('1 difference in 2 steps compared');
    expect(differs.code).toBe(1);
    const json = await cli(['replay', id, '--workflow', v2, '--store', db, '--json'], { cwd: dir });
    expect(JSON.parse(json.stdout).differences[0]).toMatchObject({ kind: 'decision', stepId: 'approve' });
    // The replay fails where the recorded run completed: not ok, exit 1, and why.
    const v3 = join(dir, 'flow-v3.yaml');
    writeFileSync(
      v3,
      (await import('node:fs'))
        .readFileSync(wf, 'utf8')
        .replace('version: 1.0.0', 'version: 1.2.0')
        .replace(
          'agent: "@orchestr8/echo"\n    dependencies: [check]',
          'agent: "@orchestr8/sleep"\n    dependencies: [check]',
        )
        .replace('input: { message: "ok" }', 'input: { ms: -5 }'),
    );
    const fails = await cli(['replay', id, '--workflow', v3, '--store', db], { cwd: dir });
    expect(fails.stdout).toContain(
      'status   the execution ended completed; the replay ends failed (VALIDATION in step "approve": ',
    );
    expect(fails.code).toBe(1);
    const failsJson = JSON.parse(
      (await cli(['replay', id, '--workflow', v3, '--store', db, '--json'], { cwd: dir })).stdout,
    );
    expect(failsJson).toMatchObject({
      ok: false,
      replayedStatus: 'failed',
      replayedError: { code: 'VALIDATION', stepId: 'approve' },
    });
    const missing = await cli(['replay', 'exec_nope', '--store', db], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error NOT_FOUND: no execution "exec_nope" in store');
  }, 120_000);

  it('refuses a waiting execution with exit 2 and says why; --json gives the error', async () => {
    const { id, path } = await waiting();
    const db = `sqlite:${path}`;
    const text = await cli(['replay', id, '--store', db], { cwd: dir });
    expect(text.code).toBe(2);
    expect(text.stdout).toBe('');
    expect(text.stderr).toContain(
      `error CONFLICT: execution "${id}" is waiting: only a finished execution (completed, failed or cancelled) can be replayed`,
    );
    const json = await cli(['replay', id, '--store', db, '--json'], { cwd: dir });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'CONFLICT' } });
  }, 120_000);
});
