/**
 * Waits on PostgreSQL with distributed workers: two workers and an API engine (no worker of
 * its own) on one database. A waiting execution holds no task; a timer, an event, a signal
 * or a decision inserts its step's task exactly once, and a worker resumes it.
 */
import { createEngine, type JournalEntry } from '@orchestr8/core';
import { openPostgresStore, type PostgresStore, TaskQueue } from '@orchestr8/store-postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { usePostgres } from '../../store-postgres/test/use-postgres.js';
import { createDistributedEngine, type DistributedEngine, startWorker, type Worker } from '../src/index.js';
import { agent, compile, registryOf, until } from './helpers.js';

const server = usePostgres();

const calls = new Map<string, number>();
const registry = registryOf(
  agent('echo', (input) => input),
  agent('after', (_input, ctx) => {
    calls.set(ctx.executionId, (calls.get(ctx.executionId) ?? 0) + 1);
    return { after: ctx.executionId };
  }),
);

let stores: PostgresStore[] = [];
let workers: Worker[] = [];
let api: DistributedEngine;
let store: PostgresStore;
let url: string;

afterEach(async () => {
  await api?.shutdown({ graceMs: 100 });
  await Promise.all(workers.map((w) => w.stop({ graceMs: 100 })));
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
  workers = [];
  calls.clear();
});

async function setup(options: { lookBackMs?: number } = {}) {
  url = server.freshSchemaUrl();
  store = await openPostgresStore({ url });
  stores.push(store);
  api = await createDistributedEngine({
    store,
    registry,
    ...(options.lookBackMs !== undefined ? { eventLookBackMs: options.lookBackMs } : {}),
  });
  for (const id of ['w1', 'w2']) {
    const s = await openPostgresStore({ url });
    stores.push(s);
    workers.push(
      await startWorker({
        store: s,
        registry,
        id,
        concurrency: 4,
        pollMs: 200,
        sweepMs: 200,
        waitPollMs: 500,
        ...(options.lookBackMs !== undefined ? { eventLookBackMs: options.lookBackMs } : {}),
      }),
    );
  }
}

const of = (entries: JournalEntry[], type: string, stepId?: string) =>
  entries.filter((e) => e.type === type && (stepId === undefined || e.stepId === stepId));

async function waitingState(id: string) {
  return until(async () => {
    const e = await store.getExecution(id);
    return e?.status === 'waiting' ? e : undefined;
  }, 20_000);
}

async function tasksOf(id: string): Promise<number> {
  const r = await store.query<{ n: number }>(
    'count',
    'SELECT count(*)::int AS n FROM tasks WHERE execution_id = $1',
    [id],
  );
  return r.rows[0]!.n;
}

describe('waits on distributed workers', () => {
  it('a timer wakes the execution exactly once; while it waits, nothing of it is queued', async () => {
    await setup();
    const wf = compile({
      steps: [
        { id: 'a', agent: 'echo', input: { v: 1 } },
        { id: 't', dependencies: ['a'], wait: { timer: '3s' } },
        { id: 'b', agent: 'after', input: {}, dependencies: ['t'] },
      ],
    });
    const h = await api.start(wf);
    const parked = await waitingState(h.id);
    expect(parked.statusReason).toBe('waiting: t');
    expect(await tasksOf(h.id)).toBe(0);
    const [w] = await store.waits.listWaits({ executionId: h.id });
    expect(w).toMatchObject({ kind: 'timer', state: 'pending', stepId: 't' });
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.t!.output).toMatchObject({ dueAt: new Date(w!.dueAt!).toISOString() });
    expect(calls.get(h.id)).toBe(1);
    const journal = await store.readJournal(h.id);
    expect(of(journal, 'step.woken', 't')).toHaveLength(1);
    expect(of(journal, 'step.completed', 't')).toHaveLength(1);
    expect(of(journal, 'execution.waiting')).toHaveLength(1);
    // The wait is consumed with the step's result, and the execution's are gone with it.
    expect(await store.waits.listWaits({ executionId: h.id })).toEqual([]);
  });

  it('an event wakes each correlated execution exactly once, also when sent twice to two API engines', async () => {
    await setup();
    const other = await createDistributedEngine({ store: stores[1]!, registry });
    try {
      const wf = compile({
        inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
        steps: [
          {
            id: 'paid',
            wait: { event: { name: 'payment', match: 'event.payload.orderId == inputs.orderId' } },
          },
          { id: 'b', agent: 'after', input: {}, dependencies: ['paid'] },
        ],
      });
      const handles = [];
      for (let i = 0; i < 10; i++) handles.push(await api.start(wf, { inputs: { orderId: `o${i}` } }));
      for (const h of handles) await waitingState(h.id);
      // Each wait is indexed under its order id: an event reads only the waits of its value.
      const keys = await store.query(
        'read keys',
        'SELECT path, value FROM wait_keys WHERE name = $1 ORDER BY value',
        ['payment'],
      );
      expect(keys.rows).toEqual(handles.map((_, i) => ({ path: 'payload.orderId', value: `"o${i}"` })));
      expect(
        (
          await store.waits.waitsForEvent('payment', {
            name: 'payment',
            id: 'x',
            payload: { orderId: 'o3' },
            receivedAt: 0,
          })
        ).map((w) => w.executionId),
      ).toEqual([handles[3]!.id]);
      const deliveries = await Promise.all(
        handles.flatMap((_, i) =>
          [api, other].map((e) =>
            e.sendEvent({ name: 'payment', id: `pay-${i}`, payload: { orderId: `o${i}` } }),
          ),
        ),
      );
      // Each id accepted once, by one of the two engines, waking its one execution.
      expect(deliveries.filter((d) => d.accepted)).toHaveLength(10);
      expect(deliveries.reduce((n, d) => n + d.woken, 0)).toBe(10);
      const results = await Promise.all(handles.map((h) => h.result));
      results.forEach((r, i) => {
        expect(r.status).toBe('completed');
        expect(r.steps.paid!.output).toMatchObject({
          name: 'payment',
          id: `pay-${i}`,
          payload: { orderId: `o${i}` },
        });
        expect(calls.get(r.executionId)).toBe(1);
      });
      for (const h of handles)
        expect(of(await store.readJournal(h.id), 'step.woken', 'paid')).toHaveLength(1);
    } finally {
      await other.shutdown({ graceMs: 100 });
    }
  });

  it('an event sent before the wait registers is taken from the inbox', async () => {
    await setup();
    const wf = compile({
      steps: [{ id: 'paid', wait: { event: { name: 'early', match: 'event.payload.k == inputs.k' } } }],
      inputs: { type: 'object', properties: { k: { type: 'string' } } },
    });
    const d = await api.sendEvent({ name: 'early', id: 'e1', payload: { k: 'x' } });
    expect(d).toMatchObject({ accepted: true, woken: 0 });
    const r = await (await api.start(wf, { inputs: { k: 'x' } })).result;
    expect(r.status).toBe('completed');
    expect(r.steps.paid!.output).toMatchObject({ id: 'e1' });
  });

  it('a signal wakes only its own execution', async () => {
    await setup();
    const wf = compile({ steps: [{ id: 'go', wait: { event: { name: 'go' } } }] });
    const a = await api.start(wf);
    const b = await api.start(wf);
    await waitingState(a.id);
    await waitingState(b.id);
    expect(await api.signal(a.id, 'go', { n: 1 })).toMatchObject({ accepted: true, woken: 1 });
    expect((await a.result).status).toBe('completed');
    expect((await store.getExecution(b.id))!.status).toBe('waiting');
  });

  it('an approval continues the execution with the form data; a rejection fails the step with REJECTED', async () => {
    await setup();
    const wf = compile({
      steps: [
        {
          id: 'ok',
          wait: {
            approval: {
              title: 'Refund ${inputs.n}?',
              form: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
              approvers: ['ann'],
            },
          },
        },
        { id: 'b', agent: 'after', input: {}, dependencies: ['ok'] },
      ],
      inputs: { type: 'object', properties: { n: { type: 'number' } } },
    });
    const yes = await api.start(wf, { inputs: { n: 1 } });
    const no = await api.start(wf, { inputs: { n: 2 } });
    await waitingState(yes.id);
    await waitingState(no.id);
    const pending = await api.approvals();
    expect(pending.map((w) => [w.executionId, w.approval?.title]).sort()).toEqual(
      [
        [yes.id, 'Refund 1?'],
        [no.id, 'Refund 2?'],
      ].sort(),
    );
    await expect(
      api.decide(yes.id, 'ok', { decision: 'approve', by: 'bob', data: { amount: 5 } }),
    ).rejects.toMatchObject({
      code: 'CAPABILITY_DENIED',
    });
    await expect(
      api.decide(yes.id, 'ok', { decision: 'approve', by: 'ann', data: { amount: 'x' } }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await api.decide(yes.id, 'ok', { decision: 'approve', by: 'ann', data: { amount: 5 } });
    await expect(
      api.decide(yes.id, 'ok', { decision: 'approve', by: 'ann', data: { amount: 6 } }),
    ).rejects.toThrow();
    await api.decide(no.id, 'ok', { decision: 'reject', by: 'ann', comment: 'too much' });
    const r = await yes.result;
    expect(r.status).toBe('completed');
    expect(r.steps.ok!.output).toMatchObject({ approved: true, by: 'ann', data: { amount: 5 } });
    expect(calls.get(yes.id)).toBe(1);
    const n = await no.result;
    expect(n.status).toBe('failed');
    expect(n.steps.ok!.error?.code).toBe('REJECTED');
    expect(calls.get(no.id)).toBeUndefined();
    expect(await api.approvals()).toEqual([]);
  });

  it('an event wait times out to its default output; a cancel stops a waiting execution and drops its wait', async () => {
    await setup();
    const wf = compile({
      steps: [
        {
          id: 'w',
          wait: { event: { name: 'never' }, timeout: '1s', onTimeout: { output: { paid: false } } },
        },
      ],
    });
    const r = await (await api.start(wf)).result;
    expect(r.status).toBe('completed');
    expect(r.steps.w!.output).toEqual({ paid: false });

    const forever = compile({ steps: [{ id: 'w', wait: { event: { name: 'never' } } }] });
    const h = await api.start(forever);
    await waitingState(h.id);
    h.cancel('no longer needed');
    const c = await h.result;
    expect(c.status).toBe('cancelled');
    expect(c.steps.w!.status).toBe('cancelled');
    expect(await store.waits.listWaits({ executionId: h.id })).toEqual([]);
  });

  it('workers carry on an execution an in-process engine left waiting, once one of its waits is woken', async () => {
    await setup();
    const wf = compile({
      policies: { timeout: { global: '10m' } },
      steps: [
        { id: 'one', wait: { event: { name: 'one' } } },
        { id: 'two', wait: { event: { name: 'two' } } },
        { id: 'b', agent: 'after', input: {}, dependencies: ['one', 'two'] },
      ],
    });
    const local = createEngine({ store, registry, wakeWaits: false });
    const h = await local.start(wf);
    await waitingState(h.id);
    await local.close();
    expect(await store.isDistributed(h.id)).toBe(false);
    // The in-process engine keeps its deadline as a wait of its own while the execution waits.
    expect((await store.waits.listWaits({ executionId: h.id })).map((w) => w.stepId).sort()).toEqual([
      '#deadline',
      'one',
      'two',
    ]);
    expect(await api.sendEvent({ name: 'one' })).toMatchObject({ woken: 1 });
    await until(async () => store.isDistributed(h.id));
    // Workers keep the deadline themselves (deadline_at): the engine's wait is gone.
    expect((await store.waits.listWaits({ executionId: h.id })).map((w) => w.stepId)).not.toContain(
      '#deadline',
    );
    await waitingState(h.id);
    expect(await api.sendEvent({ name: 'two' })).toMatchObject({ woken: 1 });
    // Followed like any execution of the workers (resume finds it theirs already).
    const r = await (await api.resume(h.id)).result;
    expect(r.status).toBe('completed');
    expect(calls.get(h.id)).toBe(1);
  });

  it('a worker fires the timer of an execution an in-process engine left waiting, and carries it on', async () => {
    await setup();
    const wf = compile({
      steps: [
        { id: 't', wait: { timer: '2s' } },
        { id: 'b', agent: 'after', input: {}, dependencies: ['t'] },
      ],
    });
    const local = createEngine({ store, registry, wakeWaits: false });
    const h = await local.start(wf);
    await waitingState(h.id);
    await local.close();
    await until(async () => (await store.getExecution(h.id))?.status === 'completed', 20_000);
    expect(await store.isDistributed(h.id)).toBe(true);
    expect(calls.get(h.id)).toBe(1);
    expect(of(await store.readJournal(h.id), 'step.woken', 't')).toHaveLength(1);
  });

  it('renders a wait from upstream outputs, and an all-of wait takes one event of each name', async () => {
    await setup();
    const wf = compile({
      steps: [
        { id: 'a', agent: 'echo', input: { at: '${inputs.at}', order: 'o-7' } },
        { id: 'u', dependencies: ['a'], wait: { until: '${steps.a.output.at}' } },
        {
          id: 'both',
          dependencies: ['u'],
          wait: {
            all: [
              { name: 'paid', match: 'event.payload.order == steps.a.output.order' },
              { name: 'shipped', match: 'event.payload.order == steps.a.output.order' },
            ],
          },
        },
        { id: 'b', agent: 'after', input: {}, dependencies: ['both'] },
      ],
      inputs: { type: 'object', properties: { at: { type: 'string' } } },
    });
    const at = new Date(Date.now() + 1500).toISOString();
    const h = await api.start(wf, { inputs: { at } });
    await until(
      async () => (await store.waits.listWaits({ executionId: h.id, kind: 'all' })).length === 1,
      20_000,
    );
    await waitingState(h.id);
    expect(await api.sendEvent({ name: 'shipped', payload: { order: 'o-8' } })).toMatchObject({ woken: 0 });
    expect(await api.sendEvent({ name: 'shipped', payload: { order: 'o-7' } })).toMatchObject({ woken: 1 });
    expect((await store.getExecution(h.id))!.status).toBe('waiting');
    expect(await api.sendEvent({ name: 'paid', payload: { order: 'o-7' } })).toMatchObject({ woken: 1 });
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.u!.output).toMatchObject({ dueAt: at });
    expect((r.steps.both!.output as { name: string }[]).map((e) => e.name)).toEqual(['paid', 'shipped']);
    expect(calls.get(h.id)).toBe(1);
  });

  it('a worker that dies after taking a woken step leaves its outcome to take again, once', async () => {
    await setup();
    const wf = compile({
      steps: [
        { id: 'e', wait: { event: { name: 'go' } } },
        { id: 'b', agent: 'after', input: {}, dependencies: ['e'] },
      ],
    });
    const h = await api.start(wf);
    await waitingState(h.id);
    await Promise.all(workers.map((w) => w.stop({ graceMs: 100 })));
    workers = [];
    expect(await api.sendEvent({ name: 'go', id: 'g1' })).toMatchObject({ woken: 1 });
    // A worker takes the woken step and dies before committing it: its lease lapses.
    const [taken] = await new TaskQueue(store).claim('dead-worker', ['default'], 1, 300);
    expect(taken).toMatchObject({ executionId: h.id, stepId: 'e' });
    const s = await openPostgresStore({ url });
    stores.push(s);
    workers.push(await startWorker({ store: s, registry, id: 'w3', pollMs: 200, sweepMs: 200 }));
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.e!.output).toMatchObject({ id: 'g1' });
    expect(of(await store.readJournal(h.id), 'step.woken', 'e')).toHaveLength(1);
    expect(calls.get(h.id)).toBe(1);
  });

  it('the global timeout stops an execution that only waits', async () => {
    await setup();
    const wf = compile({
      policies: { timeout: { global: '1s' } },
      steps: [{ id: 'w', wait: { event: { name: 'never' } } }],
    });
    const h = await api.start(wf);
    await waitingState(h.id);
    const r = await h.result;
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('TIMEOUT');
    expect(r.steps.w!.status).toBe('cancelled');
    expect(await store.waits.listWaits({ executionId: h.id })).toEqual([]);
  });
});
