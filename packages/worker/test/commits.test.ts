/**
 * A worker commits the results of steps of many executions that finish at about the same
 * time together: one statement (one transaction) per round, not one per execution.
 */
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PgServer, startPostgres } from '../../store-postgres/test/pg-server.js';
import { createDistributedEngine, type DistributedEngine } from '../src/index.js';
import { agent, compile, diamond, registryOf } from './helpers.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

let store: PostgresStore;
let engine: DistributedEngine;
afterEach(async () => {
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
});
