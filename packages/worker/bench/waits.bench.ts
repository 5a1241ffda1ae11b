/**
 * Waits on PostgreSQL with worker processes: N executions wait for their correlated event
 * (`match: event.payload.k == inputs.k`), then one event each wakes them. This process is
 * the API instance (the distributed engine); two worker processes run the steps.
 *
 *   node --import tsx packages/worker/bench/waits.bench.ts
 *
 * Figures: how long N executions take to start and park (`waiting`, no task left); the
 * latency from `sendEvent` being called to the step after the wait starting on a worker
 * (the wake's claim and task, the wait step's run and commit, the hand-off), one event at a
 * time; and wakes per second with 50 events in flight. PostgreSQL runs durable.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { validateWorkflowObject } from '@orchestr8/schema';
import { openPostgresStore } from '@orchestr8/store-postgres';
import { createDistributedEngine } from '@orchestr8/worker';
import { conditionsArgv } from '../../core/bench/in-child.js';
import { startPostgres } from '../../store-postgres/test/pg-server.js';
import { spawnFixture } from '../test/processes.js';

const WORKER = 'packages/worker/bench/bench-worker.ts';

export interface WaitsBenchRow {
  measure: string;
  value: number;
  unit: string;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

export async function runWaitsBench(options: { executions?: number; sequential?: number } = {}) {
  const n = options.executions ?? 1000;
  const sequential = Math.min(n, options.sequential ?? 100);
  const pg = await startPostgres({ durable: true });
  const dir = mkdtempSync(join(tmpdir(), 'orchestr8-waits-bench-'));
  const times = join(dir, 'times.log');
  const url = pg.freshSchemaUrl();
  const store = await openPostgresStore({ url });
  const engine = await createDistributedEngine({
    store,
    registry: { get: () => undefined, has: () => false, list: () => [] },
  });
  const workers = await Promise.all(
    [1, 2].map((i) =>
      spawnFixture(
        WORKER,
        {
          ORCHESTR8_STORE: url,
          ORCHESTR8_BENCH_TIMES: times,
          WORKER_ID: `bench-${i}`,
          WORKER_CONCURRENCY: '16',
        },
        conditionsArgv(),
      ),
    ),
  );
  const rows: WaitsBenchRow[] = [];
  try {
    const loaded = validateWorkflowObject({
      version: '1.0.0',
      metadata: { id: 'waits-bench', name: 'waits-bench' },
      inputs: { type: 'object', properties: { k: { type: 'string' } } },
      steps: [
        { id: 'paid', wait: { event: { name: 'paid', match: 'event.payload.k == inputs.k' } } },
        { id: 'next', agent: '@bench/noop', input: {}, dependencies: ['paid'] },
      ],
    });
    const wf = loaded.workflow!;
    const t0 = now();
    const ids: string[] = [];
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, j) =>
          engine.start(wf, { inputs: { k: `k${i + j}` } }),
        ),
      );
      ids.push(...batch.map((h) => h.id));
    }
    for (;;) {
      const r = await store.query<{ n: number }>(
        'count',
        "SELECT count(*)::int AS n FROM executions WHERE status = 'waiting'",
      );
      if (r.rows[0]!.n === n) break;
      await sleep(20);
    }
    rows.push({ measure: `start and park ${n} executions`, value: now() - t0, unit: 'ms' });

    // One event at a time: each wakes its execution, whose next step starts on a worker.
    const sent = new Map<string, number>();
    for (let i = 0; i < sequential; i++) {
      const h = await engine.resume(ids[i]!);
      sent.set(ids[i]!, now());
      await engine.sendEvent({ name: 'paid', id: `p${i}`, payload: { k: `k${i}` } });
      await h.result;
    }
    await sleep(300); // the workers flush their start times every 100 ms
    const started = new Map<string, number>();
    for (const line of readFileSync(times, 'utf8').split('\n').filter(Boolean)) {
      const [id, step, t] = line.split(' ');
      if (step === 'next') started.set(id!, Number(t));
    }
    const lat = [...sent].map(([id, t]) => (started.get(id) ?? Number.NaN) - t);
    rows.push({ measure: 'sendEvent -> next step starts, p50', value: quantile(lat, 0.5), unit: 'ms' });
    rows.push({ measure: 'sendEvent -> next step starts, p95', value: quantile(lat, 0.95), unit: 'ms' });

    // The rest, 50 events in flight.
    const rest = ids.slice(sequential);
    const t1 = now();
    let next = sequential;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < n) {
          const i = next++;
          await engine.sendEvent({ name: 'paid', id: `p${i}`, payload: { k: `k${i}` } });
        }
      }),
    );
    for (;;) {
      const r = await store.query<{ n: number }>(
        'count',
        "SELECT count(*)::int AS n FROM executions WHERE status = 'completed' AND id = ANY($1::text[])",
        [rest],
      );
      if (r.rows[0]!.n === rest.length) break;
      await sleep(20);
    }
    if (rest.length > 0)
      rows.push({
        measure: `wakes/s (${rest.length} events, 50 in flight, to completion)`,
        value: rest.length / ((now() - t1) / 1000),
        unit: '/s',
      });
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => {})));
    await engine.shutdown({ graceMs: 100 });
    await store.close();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await runWaitsBench());
}
