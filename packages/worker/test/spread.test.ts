/**
 * Steps that take long (an LLM call) spread over the workers: a worker leases no more of
 * them than it has free slots, so a second worker is not left idle while the first holds
 * steps it cannot start yet.
 */
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PgServer, startPostgres } from '../../store-postgres/test/pg-server.js';
import { createDistributedEngine, type DistributedEngine, startWorker, type Worker } from '../src/index.js';
import { agent, compile, registryOf, sleep } from './helpers.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

let store: PostgresStore;
let engine: DistributedEngine | undefined;
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 100 })));
  await engine?.shutdown();
  engine = undefined;
  await store?.close();
});

describe('slow steps', () => {
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
