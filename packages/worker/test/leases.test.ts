/**
 * A step runs once per lease, also when leases lapse on a loaded machine: the worker that
 * holds a step extends its lease from the moment its claim returns, and never runs a step
 * it is already running a second time when the step's lapsed lease comes back to it.
 */
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { usePostgres } from '../../store-postgres/test/use-postgres.js';
import { createDistributedEngine, type DistributedEngine, startWorker, type Worker } from '../src/index.js';
import { agent, compile, registryOf, sleep, until } from './helpers.js';

const server = usePostgres();

let store: PostgresStore;
let engine: DistributedEngine | undefined;
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 100 })));
  await engine?.shutdown();
  engine = undefined;
  await store?.close();
});

/** Calls per `executionId stepId`, and the worker each ran on. */
const calls = new Map<string, string[]>();
const ran = (executionId: string, stepId: string) => calls.get(`${executionId} ${stepId}`) ?? [];

/** The store as a worker on a loaded machine sees it: reading a workflow definition takes `ms`. */
function slowDefinitions(real: PostgresStore, ms: number): PostgresStore {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'getDefinitionByHash') {
        return async (hash: string) => {
          await sleep(ms);
          return target.getDefinitionByHash(hash);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('leases', () => {
  it('are extended while a claimed step waits for its workflow to load: no other worker runs it too', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    const counting = (worker: string) =>
      agent('count', (_input, ctx) => {
        const k = `${ctx.executionId} ${ctx.stepId}`;
        calls.set(k, [...(calls.get(k) ?? []), worker]);
        return { ok: true };
      });
    // An API instance: it starts executions, runs nothing.
    engine = await createDistributedEngine({ store, registry: registryOf(counting('api')) });
    const fast = { leaseMs: 1000, heartbeatMs: 50, sweepMs: 50, pollMs: 50 };
    workers.push(
      await startWorker({
        store: slowDefinitions(store, 2500),
        registry: registryOf(counting('slow')),
        id: 'slow',
        ...fast,
      }),
    );
    const h = await engine.start(compile({ steps: [{ id: 'only', agent: 'count', input: {} }] }));
    await until(async () => {
      const r = await store.query('lease', 'SELECT lease_owner FROM tasks WHERE execution_id = $1', [h.id]);
      return r.rows[0]?.lease_owner === 'slow';
    });
    // A second worker sweeps lapsed leases every 50 ms, and would take the step if its lease lapsed.
    workers.push(await startWorker({ store, registry: registryOf(counting('other')), id: 'other', ...fast }));
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(ran(h.id, 'only')).toEqual(['slow']);
  });

  it('that lapsed before a step started keep the worker from starting it: the step runs once, elsewhere', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    const counting = (worker: string) =>
      agent('count', (_input, ctx) => {
        const k = `${ctx.executionId} ${ctx.stepId}`;
        calls.set(k, [...(calls.get(k) ?? []), worker]);
        return { ok: true };
      });
    engine = await createDistributedEngine({ store, registry: registryOf(counting('api')) });
    // Neither heartbeats nor sweeps within the test, and loading the workflow takes longer
    // than the lease: as on a machine too loaded to renew leases, the step's lease lapses
    // between its claim and its start.
    const errors: string[] = [];
    workers.push(
      await startWorker({
        store: slowDefinitions(store, 600),
        registry: registryOf(counting('A')),
        id: 'A',
        leaseMs: 300,
        heartbeatMs: 60_000,
        sweepMs: 60_000,
        pollMs: 50,
        logger: { debug() {}, info() {}, warn() {}, error: (message) => errors.push(message) },
      }),
    );
    const h = await engine.start(compile({ steps: [{ id: 'only', agent: 'count', input: {} }] }));
    await until(async () => errors.some((m) => m.includes('not started: its lease may have lapsed')));
    // A did not start it. A stops and another worker runs it.
    await workers[0]!.stop({ graceMs: 100 });
    workers.push(
      await startWorker({ store, registry: registryOf(counting('B')), id: 'B', sweepMs: 50, pollMs: 50 }),
    );
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(ran(h.id, 'only')).toEqual(['B']);
  });

  it('that lapse and come back to the worker still running the step do not make it run twice', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    let executionId = '';
    const claimsOf = async () => {
      const r = await store.query('claims', 'SELECT claims FROM tasks WHERE execution_id = $1', [
        executionId,
      ]);
      return (r.rows[0]?.claims as number | undefined) ?? 0;
    };
    const registry = registryOf(
      agent('hold', async (_input, ctx) => {
        const k = `${ctx.executionId} ${ctx.stepId}`;
        calls.set(k, [...(calls.get(k) ?? []), 'w']);
        // The first run holds on until its worker took the step's task again.
        if (calls.get(k)!.length === 1) await until(async () => (await claimsOf()) >= 2, 15_000);
        return { ok: true };
      }),
    );
    engine = await createDistributedEngine({
      store,
      registry,
      // No heartbeat within the test: only the lease lapse below moves the task.
      worker: { id: 'w', concurrency: 4, leaseMs: 30_000, heartbeatMs: 60_000, pollMs: 50, sweepMs: 50 },
    });
    const h = await engine.start(compile({ steps: [{ id: 'long', agent: 'hold', input: {} }] }));
    executionId = h.id;
    await until(async () => ran(h.id, 'long').length === 1);
    // As a sweep does once a lease lapsed (a heartbeat late on a loaded machine): the task is
    // ready again, and the same worker claims it.
    await store.query(
      'lapse',
      "UPDATE tasks SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL WHERE execution_id = $1",
      [h.id],
    );
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(await claimsOf()).toBe(0); // the task is gone: committed
    expect(ran(h.id, 'long')).toEqual(['w']);
    const journal = await store.readJournal(h.id);
    expect(journal.filter((e) => e.type === 'step.completed')).toHaveLength(1);
  });
});

describe('slow steps', () => {
  // A worker leases no more steps than it has free slots while its steps take long, so a
  // second worker is not left idle while the first holds steps it cannot start yet.
  it('run on both workers when one worker has too few slots for all of them, also once steps are known to be slow', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    const ranOn = new Map<string, string>();
    const slow = (worker: string) =>
      agent('slow', async (_input, ctx) => {
        ranOn.set(`${ctx.executionId} ${ctx.stepId}`, worker);
        await sleep(1000);
        return { ok: true };
      });
    // An API instance: it starts executions, runs nothing.
    engine = await createDistributedEngine({ store, registry: registryOf(slow('api')) });
    const options = { concurrency: 2, pollMs: 50, sweepMs: 100 };
    workers.push(await startWorker({ store, registry: registryOf(slow('w1')), id: 'w1', ...options }));
    workers.push(await startWorker({ store, registry: registryOf(slow('w2')), id: 'w2', ...options }));
    const four = compile({
      steps: ['a', 'b', 'c', 'd'].map((id) => ({ id, agent: 'slow', input: {} })),
    });
    // The second execution starts after both workers have timed slow steps.
    for (let round = 0; round < 2; round++) {
      const h = await engine.start(four);
      const r = await h.result;
      expect(r.status).toBe('completed');
      const on = ['a', 'b', 'c', 'd'].map((s) => ranOn.get(`${h.id} ${s}`));
      expect(new Set(on), `round ${round}: steps ran on ${on.join(', ')}`).toEqual(new Set(['w1', 'w2']));
    }
  }, 60_000);
});

describe('short steps', () => {
  // The counterpart of slow steps: a worker whose steps are short keeps the steps its commit
  // releases (more than its slots, as many as start soon), so an execution's steps commit on
  // one worker instead of contending with another worker's commits of the same execution.
  it('released by a commit stay on the worker that committed it, beyond twice its slots', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    const ranOn = new Map<string, string>();
    const quick = (worker: string) =>
      agent('quick', async (input: { i?: number }, ctx) => {
        ranOn.set(`${ctx.executionId} ${ctx.stepId}`, worker);
        await sleep(3);
        return { i: input.i ?? 0 };
      });
    engine = await createDistributedEngine({ store, registry: registryOf(quick('api')) });
    // 3 ms steps are short by any measure; a loaded machine (a whole test run) can stretch
    // them past the default 25 ms, which would rightly send them to the queue.
    const options = { concurrency: 2, pollMs: 50, sweepMs: 100, shortStepMs: 1000 };
    workers.push(await startWorker({ store, registry: registryOf(quick('w1')), id: 'w1', ...options }));
    workers.push(await startWorker({ store, registry: registryOf(quick('w2')), id: 'w2', ...options }));
    // A root releasing 5 steps: more than twice each worker's slots.
    const fan = ['b1', 'b2', 'b3', 'b4', 'b5'];
    const wf = compile({
      steps: [
        { id: 'a', agent: 'quick', input: {} },
        ...fan.map((id, i) => ({ id, agent: 'quick', input: { i }, dependencies: ['a'] })),
      ],
    });
    // Both workers time a few steps first: only then are their steps known to be short.
    for (let n = 0; n < 4; n++) expect((await engine.execute(wf)).status).toBe('completed');
    for (let n = 0; n < 3; n++) {
      const r = await engine.execute(wf);
      expect(r.status).toBe('completed');
      const on = ['a', ...fan].map((s) => ranOn.get(`${r.executionId} ${s}`));
      expect(new Set(on), `execution ${n}: steps ran on ${on.join(', ')}`).toEqual(new Set([on[0]]));
    }
  }, 60_000);
});

describe('shortStepMs', () => {
  it('out of range is refused before the worker starts, naming the option and the value', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    for (const bad of [0, -5, Number.NaN, 60_001]) {
      await expect(
        startWorker({ store, registry: registryOf(agent('a', async () => ({}))), shortStepMs: bad }),
      ).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringContaining(`shortStepMs`) });
    }
    const w = await startWorker({
      store,
      registry: registryOf(agent('a', async () => ({}))),
      shortStepMs: 60_000,
    });
    workers.push(w);
    expect(w.running).toBe(0);
  }, 60_000);
});

describe('held steps', () => {
  // Shortness is judged from the steps a worker ran before: a root whose released steps turn
  // out slow must not leave them waiting on one worker while another is idle. Those not
  // started within about 25 ms go back to the queue.
  it('that do not start soon go back to the queue: slow steps released after a run of short ones run on both workers', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    const ranOn = new Map<string, string>();
    const steps = (worker: string) =>
      agent('step', async (input: { ms?: number }, ctx) => {
        ranOn.set(`${ctx.executionId} ${ctx.stepId}`, worker);
        await sleep(input.ms ?? 2);
        return {};
      });
    engine = await createDistributedEngine({ store, registry: registryOf(steps('api')) });
    const options = { concurrency: 2, pollMs: 50, sweepMs: 100 };
    workers.push(await startWorker({ store, registry: registryOf(steps('w1')), id: 'w1', ...options }));
    workers.push(await startWorker({ store, registry: registryOf(steps('w2')), id: 'w2', ...options }));
    const fanOf = (width: number, ms: number) =>
      compile({
        steps: [
          { id: 'a', agent: 'step', input: {} },
          ...Array.from({ length: width }, (_, i) => ({
            id: `s${i}`,
            agent: 'step',
            input: { ms },
            dependencies: ['a'],
          })),
        ],
      });
    // Both workers time short steps first: each then holds more steps than it has slots.
    const short = fanOf(5, 2);
    const ranBy = (w: string) => [...ranOn.values()].filter((v) => v === w).length;
    for (let n = 0; n < 30 && (ranBy('w1') < 6 || ranBy('w2') < 6); n++) {
      const rs = await Promise.all([engine.execute(short), engine.execute(short)]);
      expect(rs.map((r) => r.status)).toEqual(['completed', 'completed']);
    }
    expect(
      [ranBy('w1'), ranBy('w2')].every((n) => n >= 6),
      'both workers ran short steps',
    ).toBe(true);
    // A root releasing 16 steps of 300 ms: 4 rounds of both workers' slots, about 8 steps each.
    const r = await engine.execute(fanOf(16, 300));
    expect(r.status).toBe('completed');
    const on = Array.from({ length: 16 }, (_, i) => ranOn.get(`${r.executionId} s${i}`));
    const counts = ['w1', 'w2'].map((w) => on.filter((x) => x === w).length);
    expect(counts[0]! + counts[1]!).toBe(16);
    expect(Math.min(...counts), `w1 ran ${counts[0]}, w2 ${counts[1]}`).toBeGreaterThanOrEqual(6);
    // Given back unstarted, never run twice.
    const journal = await store.readJournal(r.executionId);
    expect(journal.filter((e) => e.type === 'step.started')).toHaveLength(17);
    expect(workers[0]!.stats().givenBack + workers[1]!.stats().givenBack).toBeGreaterThan(0);
  }, 60_000);
});
