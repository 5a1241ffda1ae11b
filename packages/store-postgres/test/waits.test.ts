/**
 * Waits of in-process engines (`orchestr8 serve` on PostgreSQL without workers): several
 * engines on one database, as several serve instances. A waiting execution is only rows in
 * the database; whichever engine wins the claim of a wake resumes it, once.
 */
import { type Agent, createEngine, type Engine, type JournalEntry } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { afterEach, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../src/index.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

const calls = new Map<string, number>();
const after: Agent = {
  id: 'after',
  execute: (_input, ctx) => {
    calls.set(ctx.executionId, (calls.get(ctx.executionId) ?? 0) + 1);
    return { ok: true };
  },
};
const registry = {
  get: (id: string) => (id === 'after' ? after : undefined),
  has: (id: string) => id === 'after',
  list: () => [after],
};

let stores: PostgresStore[] = [];
let engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.map((e) => e.close({ graceMs: 100 })));
  await Promise.all(stores.map((s) => s.close()));
  engines = [];
  stores = [];
  calls.clear();
});

async function instances(n: number): Promise<{ engines: Engine[]; store: PostgresStore }> {
  const url = server.freshSchemaUrl();
  for (let i = 0; i < n; i++) {
    const store = await openPostgresStore({ url });
    stores.push(store);
    engines.push(createEngine({ store, registry, waitPollMs: 200 }));
  }
  return { engines, store: stores[0]! };
}

function compile(doc: Record<string, unknown>) {
  const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'w', name: 'w' }, ...doc });
  if (!r.workflow) throw new Error(JSON.stringify(r.diagnostics));
  return r.workflow;
}

async function until<T>(fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const woken = (j: JournalEntry[], step: string) =>
  j.filter((e) => e.type === 'step.woken' && e.stepId === step);

async function finished(store: PostgresStore, id: string) {
  return until(async () => {
    const e = await store.getExecution(id);
    return e && ['completed', 'failed', 'cancelled'].includes(e.status) ? e : undefined;
  });
}

it('a timer of a waiting execution fires once with three engines on the store', async () => {
  // Three engines look for due waits; the first starts the executions.
  const {
    engines: [a],
    store,
  } = await instances(3);
  const wf = compile({
    steps: [
      { id: 't', wait: { timer: '1s' } },
      { id: 'b', agent: 'after', input: {}, dependencies: ['t'] },
    ],
  });
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await a!.start(wf)).id);
  await until(async () => (await store.listExecutions({ status: 'waiting' })).items.length === 5);
  for (const id of ids) {
    expect((await finished(store, id)).status).toBe('completed');
    expect(woken(await store.readJournal(id), 't')).toHaveLength(1);
    expect(calls.get(id)).toBe(1);
  }
  expect(await store.waits.listWaits()).toEqual([]);
});

it('an event sent to two engines at once wakes each waiting execution once; approvals go through any engine', async () => {
  const {
    engines: [a, b],
    store,
  } = await instances(2);
  const wf = compile({
    inputs: { type: 'object', properties: { k: { type: 'string' } } },
    steps: [
      { id: 'e', wait: { event: { name: 'paid', match: 'event.payload.k == inputs.k' } } },
      { id: 'ok', dependencies: ['e'], wait: { approval: { title: 'Ship ${inputs.k}?' } } },
      { id: 'b', agent: 'after', input: {}, dependencies: ['ok'] },
    ],
  });
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push((await a!.start(wf, { inputs: { k: `k${i}` } })).id);
  await until(async () => (await store.listExecutions({ status: 'waiting' })).items.length === 6);
  const deliveries = await Promise.all(
    ids.flatMap((_, i) =>
      [a!, b!].map((e) => e.sendEvent({ name: 'paid', id: `p${i}`, payload: { k: `k${i}` } })),
    ),
  );
  expect(deliveries.filter((d) => d.accepted)).toHaveLength(6);
  expect(deliveries.reduce((n, d) => n + d.woken, 0)).toBe(6);
  await until(async () => (await b!.approvals()).length === 6);
  for (const [i, id] of ids.entries())
    await (i % 2 ? a! : b!).decide(id, 'ok', { decision: 'approve', by: 'ann' });
  for (const id of ids) {
    expect((await finished(store, id)).status).toBe('completed');
    const j = await store.readJournal(id);
    expect(woken(j, 'e')).toHaveLength(1);
    expect(calls.get(id)).toBe(1);
  }
});
