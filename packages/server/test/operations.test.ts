/**
 * `POST /executions/:id/retry` and `POST /executions/:id/rerun` over real HTTP on SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import { TerminalError } from '@orchestr8/common';
import { createEngine, type Engine } from '@orchestr8/core';
import { openSqliteStore, type SqliteStore } from '@orchestr8/store-sqlite';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Listener } from '../src/index.js';
import { gate, gateAgent, gated, post, problemOf, waitTerminal } from './helpers.js';

/** Fails while `broken` holds its input's `name`. */
const broken = new Set<string>();
const flaky = defineAgent<{ name: string; value?: unknown }, { name: string; value?: unknown }>({
  id: '@test/flaky',
  execute(input) {
    if (broken.has(input.name)) throw new TerminalError(`${input.name} is broken`);
    return input;
  },
});

/** Runs a one-step sub-workflow. */
const parentAgent = defineAgent<Record<string, never>, unknown>({
  id: '@test/parent',
  async execute(_input, ctx) {
    const r = await ctx.runWorkflow(
      {
        version: '1.0.0',
        metadata: { id: 'v0-child' },
        steps: [{ id: 'e', agent: '@orchestr8/echo', input: { x: 1 } }],
      },
      {},
    );
    return r.outputs;
  },
});

/** Ignores cancellation until released: an execution that takes its grace period to stop. */
const stubborns = new Map<
  string,
  { started: Promise<void>; release: () => void; reached: () => void; done: Promise<void> }
>();
function stubborn(name: string) {
  let s = stubborns.get(name);
  if (!s) {
    let reached!: () => void;
    let release!: () => void;
    const started = new Promise<void>((r) => {
      reached = r;
    });
    const done = new Promise<void>((r) => {
      release = r;
    });
    s = { started, release, reached, done };
    stubborns.set(name, s);
  }
  return s;
}
const stubbornAgent = defineAgent<{ name: string }, { name: string }>({
  id: '@test/stubborn',
  async execute(input) {
    const s = stubborn(input.name);
    s.reached();
    await s.done;
    return input;
  },
});

const pipeline = (id: string) => ({
  version: '1.0.0',
  metadata: { id },
  inputs: { type: 'object', properties: { region: { type: 'string', default: 'eu' } } },
  steps: [
    { id: 'extract', agent: '@test/flaky', input: { name: `${id}-extract`, value: '${inputs.region}' } },
    {
      id: 'load',
      agent: '@test/flaky',
      dependencies: ['extract'],
      input: { name: `${id}-load`, value: '${steps.extract.output.value}' },
    },
    { id: 'notify', agent: '@test/flaky', dependencies: ['load'], input: { name: `${id}-notify` } },
  ],
});

let dir: string;
let store: SqliteStore;
let engine: Engine;
let listener: Listener;
let url: string;
let schema: (name: string) => (value: unknown) => boolean;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'o8-operations-'));
  store = await openSqliteStore({ path: join(dir, 'orchestr8.db') });
  const registry = createAgentRegistry([...builtinAgents, gateAgent, flaky, stubbornAgent, parentAgent]);
  engine = createEngine({ registry, store });
  listener = await createServer({ engine, registry, keepAliveMs: 100 }).listen(0, '127.0.0.1');
  url = listener.url;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema((await (await fetch(`${url}/openapi.json`)).json()) as object, 'openapi.json');
  schema = (name) => ajv.getSchema(`openapi.json#/components/schemas/${name}`)!;
});
afterAll(async () => {
  await listener.close({ graceMs: 200 });
  await engine.shutdown({ graceMs: 200 });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(doc: unknown, inputs: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await post(`${url}/workflows/execute`, { workflow: doc, inputs });
  const { executionId } = (await res.json()) as { executionId: string };
  return waitTerminal(url, executionId);
}

describe('POST /executions/:id/retry', () => {
  it('runs the failed step and what it gates again in the same execution, keeping completed outputs', async () => {
    broken.add('r1-load');
    const failed = await run(pipeline('r1'));
    expect(failed.status).toBe('failed');
    broken.delete('r1-load');
    const res = await post(`${url}/executions/${failed.executionId}/retry`, undefined);
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ executionId: failed.executionId, retried: ['load', 'notify'] });
    expect(['queued', 'running', 'completed']).toContain(body.status);
    expect(schema('RetryAccepted')(body)).toBe(true);
    const done = await waitTerminal(url, failed.executionId);
    expect(done.status).toBe('completed');
    expect(done.steps.extract.finishedAt).toBe(failed.steps.extract.finishedAt);
    expect(done.steps.load.output).toEqual({ name: 'r1-load', value: 'eu' });
    const journal = await (await fetch(`${url}/executions/${failed.executionId}/journal`)).text();
    const types = journal
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).type);
    expect(types).toContain('execution.retried');
  });

  it('answers 409 EXECUTION_NOT_RETRYABLE for a completed or running execution, 404 for none', async () => {
    const done = await run(pipeline('r2'));
    const completed = await post(`${url}/executions/${done.executionId}/retry`, {});
    expect(completed.status).toBe(409);
    expect(await problemOf(completed)).toMatchObject({
      code: 'EXECUTION_NOT_RETRYABLE',
      executionStatus: 'completed',
    });
    gate('op-running');
    const started = (await (
      await post(`${url}/workflows/execute`, { workflow: gated('op-running') })
    ).json()) as {
      executionId: string;
    };
    const running = await post(`${url}/executions/${started.executionId}/retry`, {});
    expect(running.status).toBe(409);
    expect(await problemOf(running)).toMatchObject({
      code: 'EXECUTION_NOT_RETRYABLE',
      executionStatus: 'running',
    });
    gate('op-running').open();
    await waitTerminal(url, started.executionId);
    const missing = await post(`${url}/executions/nope/retry`, {});
    expect(missing.status).toBe(404);
    const bad = await post(`${url}/executions/${done.executionId}/retry`, { force: true });
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).detail).toContain('unknown field "force"');
  });

  it('with an Idempotency-Key, a repeated request is answered again instead of a 409', async () => {
    broken.add('r3-notify');
    const failed = await run(pipeline('r3'));
    broken.delete('r3-notify');
    const headers = { 'Idempotency-Key': 'retry-r3' };
    const first = await post(`${url}/executions/${failed.executionId}/retry`, {}, headers);
    expect(first.status).toBe(202);
    await waitTerminal(url, failed.executionId);
    const again = await post(`${url}/executions/${failed.executionId}/retry`, {}, headers);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { retried: string[] }).retried).toEqual(['notify']);
    const other = await post(`${url}/executions/${failed.executionId}/retry`, { reason: 'x' }, headers);
    expect(other.status).toBe(422);
    expect((await problemOf(other)).code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});

describe('POST /executions/:id/rerun', () => {
  it('a dry run answers the plan and starts nothing; changed inputs invalidate the steps that read them', async () => {
    const done = await run(pipeline('p1'));
    const before = (await (await fetch(`${url}/executions?workflow=p1`)).json()) as { items: unknown[] };
    const res = await post(`${url}/executions/${done.executionId}/rerun`, {
      fromStep: 'notify',
      inputs: { region: 'us' },
      dryRun: true,
    });
    expect(res.status).toBe(200);
    const { plan } = (await res.json()) as { plan: Record<string, unknown> };
    expect(plan).toEqual({
      rerun: ['extract', 'load', 'notify'],
      reused: [],
      changedInputs: ['region'],
      invalidated: [{ stepId: 'extract', inputs: ['region'] }],
    });
    expect(schema('RerunPlan')(plan)).toBe(true);
    const after = (await (await fetch(`${url}/executions?workflow=p1`)).json()) as { items: unknown[] };
    expect(after.items).toHaveLength(before.items.length);
  });

  it('starts a new execution that reuses upstream outputs and runs the chosen step and its downstream', async () => {
    const done = await run(pipeline('p2'));
    const res = await post(`${url}/executions/${done.executionId}/rerun`, { fromStep: 'load' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;
    expect(body.executionId).not.toBe(done.executionId);
    expect(body.rerunOf).toEqual({ executionId: done.executionId, fromStep: 'load' });
    expect(body.plan).toMatchObject({ rerun: ['load', 'notify'], reused: ['extract'] });
    expect(res.headers.get('location')).toBe(`/executions/${body.executionId}`);
    const rerun = await waitTerminal(url, body.executionId);
    expect(rerun.status).toBe('completed');
    // The reused step keeps the original's record: same output, same finish time.
    expect(rerun.steps.extract).toMatchObject({
      output: done.steps.extract.output,
      finishedAt: done.steps.extract.finishedAt,
    });
    expect(rerun.steps.load.finishedAt).toBeGreaterThanOrEqual(done.steps.load.finishedAt);
  });

  it('refuses an unknown step (422), a malformed body (400) and an execution still running (409)', async () => {
    const done = await run(pipeline('p3'));
    const unknown = await post(`${url}/executions/${done.executionId}/rerun`, { fromStep: 'nope' });
    expect(unknown.status).toBe(422);
    const unknownProblem = await problemOf(unknown);
    expect(unknownProblem.detail).toContain('no step "nope"');
    expect(unknownProblem.errors).toEqual([
      expect.objectContaining({
        code: 'E_UNKNOWN_STEP',
        pointer: '/fromStep',
        message: expect.stringContaining('no step "nope"'),
        hint: 'one of: extract, load, notify',
      }),
    ]);
    const badInputs = await post(`${url}/executions/${done.executionId}/rerun`, {
      fromStep: 'load',
      inputs: { region: 7 },
    });
    expect(badInputs.status).toBe(422);
    const malformed = await post(`${url}/executions/${done.executionId}/rerun`, { from: 'load' });
    expect(malformed.status).toBe(400);
    expect((await problemOf(malformed)).errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      '/from',
      '/fromStep',
    ]);
    gate('op-rerun-running');
    const started = (await (
      await post(`${url}/workflows/execute`, { workflow: gated('op-rerun-running') })
    ).json()) as { executionId: string };
    const running = await post(`${url}/executions/${started.executionId}/rerun`, { fromStep: 'second' });
    expect(running.status).toBe(409);
    expect((await problemOf(running)).code).toBe('EXECUTION_NOT_FINISHED');
    gate('op-rerun-running').open();
    await waitTerminal(url, started.executionId);
  });
});

describe('what the console reads', () => {
  it('GET /executions/:id links a parent and its sub-workflow executions, both ways', async () => {
    const done = await run({
      version: '1.0.0',
      metadata: { id: 'v0' },
      steps: [{ id: 'call', agent: '@test/parent', input: {} }],
    });
    expect(done.status).toBe('completed');
    expect(done.children).toHaveLength(1);
    const child = done.children[0];
    expect(child).toMatchObject({ stepId: 'call', workflowId: 'v0-child', status: 'completed' });
    const view = (await (await fetch(`${url}/executions/${child.executionId}`)).json()) as Record<
      string,
      any
    >;
    expect(view.parent).toEqual({ executionId: done.executionId, stepId: 'call' });
    const listed = (await (
      await fetch(`${url}/executions?parentExecutionId=${done.executionId}`)
    ).json()) as {
      items: { executionId: string }[];
    };
    expect(listed.items.map((e) => e.executionId)).toEqual([child.executionId]);
    expect(schema('Execution')(done)).toBe(true);
  });

  it('GET /executions/:id links a rerun and its original, with inputs and creation time', async () => {
    const done = await run(pipeline('v1'), { region: 'ap' });
    const started = (await (
      await post(`${url}/executions/${done.executionId}/rerun`, { fromStep: 'notify' })
    ).json()) as { executionId: string };
    await waitTerminal(url, started.executionId);
    const rerun = (await (await fetch(`${url}/executions/${started.executionId}`)).json()) as Record<
      string,
      any
    >;
    expect(rerun.rerunOf).toEqual({ executionId: done.executionId, fromStep: 'notify' });
    expect(rerun.inputs).toEqual({ region: 'ap' });
    expect(typeof rerun.createdAt).toBe('number');
    const original = (await (await fetch(`${url}/executions/${done.executionId}`)).json()) as Record<
      string,
      any
    >;
    expect(original.reruns).toEqual([
      {
        executionId: started.executionId,
        fromStep: 'notify',
        status: 'completed',
        createdAt: rerun.createdAt,
      },
    ]);
    expect(original.rerunOf).toBeUndefined();
    expect(schema('Execution')(original)).toBe(true);
  });

  it('GET /executions filters by creation time and id prefix, pages with a cursor, and refuses a bad time', async () => {
    // One before the window.
    await run(pipeline('v2'));
    const b = await run(pipeline('v2'));
    const c = await run(pipeline('v2'));
    const created = async (id: string) =>
      ((await (await fetch(`${url}/executions/${id}`)).json()) as { createdAt: number }).createdAt;
    const list = async (q: string) =>
      (
        (await (await fetch(`${url}/executions?workflow=v2&${q}`)).json()) as {
          items: { executionId: string }[];
        }
      ).items.map((e) => e.executionId);
    const tb = await created(b.executionId);
    expect(await list(`since=${tb}`)).toEqual([c.executionId, b.executionId]);
    expect(await list(`until=${new Date(tb).toISOString()}`)).not.toContain(b.executionId);
    expect(await list(`idPrefix=${b.executionId.slice(0, 13)}`)).toEqual([b.executionId]);
    const page = await fetch(`${url}/executions?workflow=v2&since=0&limit=1`);
    expect(page.headers.get('link')).toContain('since=0');
    const bad = await fetch(`${url}/executions?since=yesterday`);
    expect(bad.status).toBe(400);
    expect((await problemOf(bad)).detail).toContain(
      '"since" must be epoch milliseconds or an ISO-8601 date-time',
    );
  });
});

/** Reads an execution's event stream to its end: [id, event type] of each frame. */
async function readStream(id: string, lastEventId?: string): Promise<[string, string][]> {
  const res = await fetch(`${url}/executions/${id}/events`, {
    headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return text
    .split('\n\n')
    .map((frame) => {
      const idLine = /^id: (.*)$/m.exec(frame);
      const event = /^event: (.*)$/m.exec(frame);
      return idLine && event ? ([idLine[1]!, event[1]!] as [string, string]) : undefined;
    })
    .filter((f): f is [string, string] => f !== undefined);
}

describe('the event stream of a retried execution', () => {
  it('goes on past the first run’s terminal event, and resumes there with Last-Event-ID', async () => {
    broken.add('s1-load');
    const failed = await run(pipeline('s1'));
    const firstRun = await readStream(failed.executionId);
    expect(firstRun.at(-1)![1]).toBe('execution.failed');
    broken.delete('s1-load');
    expect((await post(`${url}/executions/${failed.executionId}/retry`, {})).status).toBe(202);
    await waitTerminal(url, failed.executionId);
    // Resumed after the first run's last event: the retry and the second run, nothing twice.
    const resumed = await readStream(failed.executionId, firstRun.at(-1)![0]);
    expect(resumed[0]).toEqual([String(Number(firstRun.at(-1)![0]) + 1), 'execution.retried']);
    expect(resumed.at(-1)![1]).toBe('execution.completed');
    // From the start: both runs, in order.
    const whole = await readStream(failed.executionId);
    expect(whole.map((f) => f[0])).toEqual([...firstRun, ...resumed].map((f) => f[0]));
  });
});

describe('POST /executions/:id/resume', () => {
  it('resumes an execution a stopped process left running; asked again, answers the same; 409 once finished', async () => {
    // Another "process" on the same store starts it and stops without finishing it.
    const registry = createAgentRegistry([...builtinAgents, gateAgent]);
    const other = createEngine({ registry, store });
    gate('op-resume');
    const left = await other.start(engine.compile(gated('op-resume', 'resumable')));
    await other.shutdown({ graceMs: 0 });
    expect((await store.getExecution(left.id))?.status).toBe('running');

    const first = await post(`${url}/executions/${left.id}/resume`, undefined);
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ executionId: left.id, status: 'running', resumed: true });
    const again = await post(`${url}/executions/${left.id}/resume`, undefined);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ executionId: left.id, resumed: false });
    gate('op-resume').open();
    expect((await waitTerminal(url, left.id)).status).toBe('completed');
    const journal = (await (await fetch(`${url}/executions/${left.id}/journal`)).text())
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(journal.filter((t) => t === 'execution.resumed')).toHaveLength(1);
    const late = await post(`${url}/executions/${left.id}/resume`, undefined);
    expect(late.status).toBe(409);
    expect((await problemOf(late)).code).toBe('EXECUTION_FINISHED');
    expect((await post(`${url}/executions/nope/resume`, undefined)).status).toBe(404);
  });
});

describe('POST /executions/:id/resume of a waiting execution', () => {
  it('is refused: it resumes when a wait of its ends', async () => {
    const now = Date.now();
    await store.createExecution({
      id: 'op-waiting',
      workflowId: 'w',
      workflowVersion: '1.0.0',
      definitionHash: 'h',
      status: 'waiting',
      inputs: {},
      createdAt: now,
      updatedAt: now,
    });
    const res = await post(`${url}/executions/op-waiting/resume`, undefined);
    expect(res.status).toBe(409);
    expect(await problemOf(res)).toMatchObject({ code: 'CONFLICT', executionStatus: 'waiting' });
  });
});

describe('cancel, asked twice', () => {
  it('is accepted again while the execution stops, changes nothing, and answers 409 once it has finished', async () => {
    const held = stubborn('op-cancel-twice');
    const started = (await (
      await post(`${url}/workflows/execute`, {
        workflow: {
          version: '1.0.0',
          metadata: { id: 'cancel-twice' },
          steps: [{ id: 'slow', agent: '@test/stubborn', input: { name: 'op-cancel-twice' } }],
        },
      })
    ).json()) as { executionId: string };
    await held.started;
    const first = await post(`${url}/executions/${started.executionId}/cancel`, { reason: 'one' });
    const second = await post(`${url}/executions/${started.executionId}/cancel`, { reason: 'two' });
    expect([first.status, second.status]).toEqual([202, 202]);
    held.release();
    expect((await waitTerminal(url, started.executionId)).status).toBe('cancelled');
    const journal = (await (await fetch(`${url}/executions/${started.executionId}/journal`)).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; data?: { reason?: string } });
    const cancelling = journal.filter((e) => e.type === 'execution.cancelling');
    expect(cancelling).toHaveLength(1);
    expect(cancelling[0]!.data?.reason).toBe('one');
    const late = await post(`${url}/executions/${started.executionId}/cancel`, {});
    expect(late.status).toBe(409);
    expect((await problemOf(late)).code).toBe('EXECUTION_FINISHED');
  });
});
