/**
 * A worker commits the results of steps of many executions that finish at about the same
 * time together: one statement (one transaction) per round, not one per execution.
 */
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { usePostgres } from '../../store-postgres/test/use-postgres.js';
import { createDistributedEngine, type DistributedEngine, startWorker, type Worker } from '../src/index.js';
import { agent, compile, diamond, registryOf, sleep } from './helpers.js';

const server = usePostgres();

let store: PostgresStore;
let engine: DistributedEngine;
let workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers) await w.stop({ graceMs: 100 });
  workers = [];
  await engine?.shutdown({ graceMs: 100 });
  await store?.close();
});

describe('commits', () => {
  it('of steps of many executions go together in rounds, each step once, with the right outputs', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    engine = await createDistributedEngine({
      store,
      registry: registryOf(agent('@test/work', (input: { v?: unknown }) => ({ v: input.v ?? null }))),
      worker: { concurrency: 16 },
    });
    const wf = compile(diamond('@test/work', 'rounds'));
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, n) => engine.execute(wf, { inputs: { n } })),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 'completed'));
    expect(results.map((r) => r.outputs)).toEqual(results.map((_, n) => ({ v: n })));
    const r = await store.query(
      'completions',
      "SELECT execution_id, step_id, count(*)::int AS n FROM journal WHERE type = 'step.completed' GROUP BY 1, 2",
    );
    expect(r.rows).toHaveLength(30 * 10);
    expect(r.rows.filter((row) => row.n !== 1)).toEqual([]);
    const worker = engine.worker!;
    expect(worker.stepsDone).toBe(300);
    // 300 results in fewer transactions than executions' commits one by one would take.
    expect(worker.stats().rounds).toBeLessThan(worker.stepsDone / 2);
  });

  it('of steps of one execution on two workers at once: each step once, the join once with every input, the journal in order without gaps', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    const fan = Array.from({ length: 40 }, (_, i) => `f${i + 1}`);
    // Steps short enough to commit often, long enough that one worker cannot hold them all:
    // both workers commit steps of the same executions, and their commits race.
    const work = agent('@test/work', async (input: { v?: unknown }) => {
      await sleep(2);
      return { v: input.v ?? null };
    });
    // An API instance: it starts executions, runs nothing.
    engine = await createDistributedEngine({ store, registry: registryOf(work) });
    for (const id of ['w1', 'w2'])
      workers.push(await startWorker({ store, registry: registryOf(work), id, concurrency: 4, pollMs: 50 }));
    const wf = compile({
      steps: [
        { id: 'a', agent: '@test/work', input: { v: '${inputs.n}' } },
        ...fan.map((id, i) => ({ id, agent: '@test/work', input: { v: i }, dependencies: ['a'] })),
        {
          id: 'z',
          agent: '@test/work',
          input: { v: fan.map((id) => `\${steps.${id}.output.v}`) },
          dependencies: fan,
        },
      ],
      outputs: { v: '${steps.z.output.v}', n: '${steps.a.output.v}' },
    });
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, n) => engine.execute(wf, { inputs: { n } })),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 'completed'));
    expect(results.map((r) => r.outputs)).toEqual(results.map((_, n) => ({ n, v: fan.map((_, i) => i) })));
    for (const r of results) {
      const journal = await store.readJournal(r.executionId);
      expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
      const completed = journal.filter((e) => e.type === 'step.completed').map((e) => e.stepId!);
      expect([...completed].sort()).toEqual(['a', ...fan, 'z'].sort());
      // The join started once, after every step it joins completed.
      const started = journal.filter((e) => e.type === 'step.started' && e.stepId === 'z');
      expect(started).toHaveLength(1);
      const lastFan = Math.max(
        ...journal
          .filter((e) => e.type === 'step.completed' && e.stepId !== 'z' && e.stepId !== 'a')
          .map((e) => e.seq),
      );
      expect(started[0]!.seq).toBeGreaterThan(lastFan);
      expect(journal.at(-1)!.type).toBe('execution.completed');
    }
    // Both workers ran steps of these executions.
    expect(workers.map((w) => w.stepsDone > 0)).toEqual([true, true]);
    expect(workers[0]!.stepsDone + workers[1]!.stepsDone).toBe(4 * (fan.length + 2));
    // Their commits of the same executions did race: some guards failed (another worker's
    // commit came first) and those commits were planned again; the checks above hold anyway.
    const stats = workers.map((w) => w.stats());
    expect(stats[0]!.conflicts + stats[1]!.conflicts).toBeGreaterThan(0);
  }, 60_000);
});

describe('claims', () => {
  it('are not made for every finished step once the queue was found empty (for up to shortStepMs): a chain of 30 steps on one worker takes a handful', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    const work = agent('@test/work', (input: { v?: unknown }) => ({ v: input.v ?? null }));
    // An API instance (it runs nothing) and one worker whose poll does not come during the
    // test, and whose empty claim holds for a second (shortStepMs) however slow the machine.
    engine = await createDistributedEngine({ store, registry: registryOf(work) });
    const w = await startWorker({
      store,
      registry: registryOf(work),
      id: 'w1',
      pollMs: 60_000,
      shortStepMs: 1000,
    });
    workers.push(w);
    const chain = Array.from({ length: 30 }, (_, i) => ({
      id: `s${i}`,
      agent: '@test/work',
      input: { v: i },
      ...(i > 0 ? { dependencies: [`s${i - 1}`] } : {}),
    }));
    const r = await engine.execute(compile({ steps: chain, outputs: { v: '${steps.s29.output.v}' } }));
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ v: 29 });
    expect(w.stepsDone).toBe(30);
    // Each step is released to this worker by the commit of the one before: no claim needed.
    // The first step's claim and the empty one after it; not one per finished step.
    expect(w.stats().claims).toBeLessThan(6);
  }, 60_000);
});
