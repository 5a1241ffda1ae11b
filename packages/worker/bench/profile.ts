/**
 * Where the time of distributed W3 (100 in flight) goes: CPU seconds per process (this API
 * process, each worker, PostgreSQL's backends), PostgreSQL's statements by total time
 * (pg_stat_statements), and optionally a CPU profile of each worker.
 *
 *   node --import tsx packages/worker/bench/profile.ts [--workers=1] [--runs=600] [--cpu-prof=DIR]
 *
 * Open the .cpuprofile files in Chrome DevTools (Performance) or speedscope.
 *
 * More detail, by environment variable: O8_PROFILE_TABLES=1 prints row counts written per
 * table (inserts, updates, HOT updates, deletes); O8_PROFILE_WAITS=1 samples what the
 * active backends wait on (CPU, WAL sync, locks) every 5 ms; O8_PROFILE_SQL runs SQL on the
 * fresh schema before the workers start (e.g. to try a storage setting); O8_PROFILE_SETTINGS
 * adds server settings, `;`-separated (e.g. auto_explain's, with logging_collector=on and a
 * log_directory the postgres user can write).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentRegistry, Engine } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { openPostgresStore } from '@orchestr8/store-postgres';
import { createDistributedEngine } from '@orchestr8/worker';
import { conditionsArgv } from '../../core/bench/in-child.js';
import { diamond, fan } from '../../core/bench/workloads.js';
import { startPostgres } from '../../store-postgres/test/pg-server.js';
import { spawnFixture } from '../test/processes.js';
import { cpuOf, serverCpu } from './cpu.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const workerCount = Number(arg('workers') ?? 1);
const runs = Number(arg('runs') ?? 600);
const profDir = arg('cpu-prof');
/** `fan`: W2, one execution of 300 parallel steps at a time (one execution's commits contend). */
const workload = arg('workload') ?? 'diamond';

function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject(doc);
  if (!r.ok || !r.workflow) throw new Error('invalid');
  return r.workflow;
}

const now = () => performance.timeOrigin + performance.now();
/** Per execution: when start was called, when it returned, when the result came. */
const marks = new Map<string, [number, number, number]>();
async function drive(engine: Engine, wf: CompiledWorkflow, n: number, inFlight: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        const a = now();
        const h = await engine.start(wf, { inputs: { n: i } });
        const b = now();
        const r = await h.result;
        marks.set(h.id, [a, b, now()]);
        if (r.status !== 'completed') throw new Error(`${r.status} ${JSON.stringify(r.error)}`);
      }
    }),
  );
  return performance.now() - t0;
}

const server = await startPostgres({
  durable: true,
  settings: [
    'shared_preload_libraries=pg_stat_statements',
    'pg_stat_statements.track=all',
    'pg_stat_statements.track_planning=on',
    // e.g. O8_PROFILE_SETTINGS='shared_preload_libraries=pg_stat_statements,auto_explain;auto_explain.log_min_duration=5'
    ...(process.env.O8_PROFILE_SETTINGS?.split(';') ?? []),
  ],
});
const dir = mkdtempSync(join(tmpdir(), 'o8-profile-'));
const url = server.freshSchemaUrl();
const store = await openPostgresStore({ url, poolSize: 12 });
const admin = {
  query: (text: string) => store.query('profile', text),
  end: async () => {},
};
await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public');
if (process.env.O8_PROFILE_SQL) await admin.query(process.env.O8_PROFILE_SQL);
if (profDir) process.env.ORCHESTR8_CHILD_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${profDir}`;
const times = join(dir, 'times.log');
writeFileSync(times, '');
const workers = await Promise.all(
  Array.from({ length: workerCount }, () =>
    spawnFixture(
      'packages/worker/bench/bench-worker.ts',
      {
        ORCHESTR8_STORE: url,
        ORCHESTR8_BENCH_TIMES: times,
        WORKER_CONCURRENCY: process.env.WC ?? '16',
        ORCHESTR8_BENCH_STATS: '1',
      },
      conditionsArgv(),
    ),
  ),
);
const registry: AgentRegistry = { get: () => undefined, has: () => false, list: () => [] };
const engine = await createDistributedEngine({ store, registry, pollMs: 200 });
const w3 = compile(diamond(1000));
await drive(engine, w3, 50, 20);
await admin.query('SELECT public.pg_stat_statements_reset(), pg_stat_reset()');
marks.clear();
await new Promise((r) => setTimeout(r, 300));
writeFileSync(times, '');
const before = {
  self: process.cpuUsage(),
  workers: workers.map((w) => cpuOf(w.child.pid!)),
  pg: serverCpu(join(server.dir, 'data')),
};
const measured = workload === 'fan' ? compile(fan(300, 1000)) : w3;
const inFlight = workload === 'fan' ? 1 : 100;
// O8_PROFILE_WAITS=1: what PostgreSQL's active backends wait on, sampled every 5 ms.
const waits = new Map<string, number>();
let sampling = !!process.env.O8_PROFILE_WAITS;
const sampler = (async () => {
  while (sampling) {
    const r = await admin.query(
      `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, left(regexp_replace(query, '\\s+', ' ', 'g'), 40) AS q
       FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    );
    for (const row of r.rows) {
      const k = `${row.w} ${row.q}`;
      waits.set(k, (waits.get(k) ?? 0) + 1);
    }
    await new Promise((res) => setTimeout(res, 5));
  }
})();
const ms = await drive(engine, measured, runs, inFlight);
sampling = false;
await sampler;
if (waits.size > 0) console.table([...waits].sort((a, b) => b[1] - a[1]).slice(0, 15));
const after = {
  self: process.cpuUsage(before.self),
  workers: workers.map((w) => cpuOf(w.child.pid!)),
  pg: serverCpu(join(server.dir, 'data')),
};
const steps = runs * measured.steps.length;
console.log(
  `${workload === 'fan' ? 'W2 fan 300' : 'W3'} x${runs}, ${inFlight} in flight, ${workerCount} worker(s): ${((runs / ms) * 1000).toFixed(0)} exec/s, ${((steps / ms) * 1000).toFixed(0)} steps/s, wall ${(ms / 1000).toFixed(2)} s`,
);
const per = (s: number) => `${s.toFixed(2)} s (${((s * 1e6) / steps).toFixed(0)} µs/step)`;
console.log(`CPU  api process: ${per((after.self.user + after.self.system) / 1e6)}`);
for (let i = 0; i < workers.length; i++) {
  console.log(`CPU  worker ${i + 1}: ${per(after.workers[i]! - before.workers[i]!)}`);
}
console.log(`CPU  postgres (this server's processes): ${per(after.pg - before.pg)}`);
await new Promise((r) => setTimeout(r, 300));
{
  const started = new Map<string, number>();
  for (const line of readFileSync(times, 'utf8').split('\n')) {
    const [e, st, t] = line.split(' ');
    if (e && st && t) started.set(`${e} ${st}`, Number(t));
  }
  const q = (xs: number[], f: number) => [...xs].sort((x, y) => x - y)[Math.floor(f * xs.length)] ?? NaN;
  const phases: Record<string, number[]> = {
    start: [],
    toA: [],
    aToB: [],
    bToZ: [],
    zToResult: [],
    total: [],
  };
  for (const [id, [a, b, c]] of marks) {
    const ta = started.get(`${id} a`);
    const tb = Math.max(...[1, 2, 3, 4, 5, 6, 7, 8].map((k) => started.get(`${id} b${k}`) ?? NaN));
    const tz = started.get(`${id} z`);
    if (ta === undefined || tz === undefined || Number.isNaN(tb)) continue;
    phases.start!.push(b - a);
    phases.toA!.push(ta - b);
    phases.aToB!.push(tb - ta);
    phases.bToZ!.push(tz - tb);
    phases.zToResult!.push(c - tz);
    phases.total!.push(c - a);
  }
  for (const [k, xs] of Object.entries(phases))
    console.log(
      `phase ${k}: p50 ${q(xs, 0.5).toFixed(1)} ms, p95 ${q(xs, 0.95).toFixed(1)} ms (n=${xs.length})`,
    );
}
const top = await admin.query(
  `SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(total_plan_time::numeric, 1) AS plan_ms, plans, round(mean_exec_time::numeric, 3) AS mean_ms,
     rows, wal_records, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
   FROM public.pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 25`,
);
console.table(top.rows);
if (process.env.O8_PROFILE_TABLES) {
  const tables = await admin.query(
    `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname`,
  );
  console.table(tables.rows);
  const indexes = await admin.query(
    `SELECT relname, indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes ORDER BY relname, indexrelname`,
  );
  console.table(indexes.rows);
}
const wal = await admin.query('SELECT wal_records, wal_bytes, wal_sync, wal_write FROM pg_stat_wal');
console.log('pg_stat_wal (since start):', wal.rows[0]);
await engine.shutdown();
await Promise.all(workers.map((w) => w.stop()));
for (const w of workers) process.stderr.write(w.output());
await store.close();
await admin.end();
await server.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
