/**
 * Distributed execution on PostgreSQL: worker processes claim steps from the queue and
 * commit each with what it releases; this process starts executions through the
 * distributed engine (as an API instance does) and waits for their results.
 *
 *   node --import tsx packages/worker/bench/distributed.bench.ts
 *
 * Figures: W2 (fan of 1000) in durable steps per second, W3 (10-step diamond) in executions
 * per second one at a time and 100 in flight, with 1 and 2 worker processes, against the
 * in-process engine on SQLite on the same workloads; and the latency from a step's last
 * dependency finishing (its agent returning) to the step starting (its agent called),
 * which includes the dependency's commit and the hand-off to whichever worker runs it.
 * PostgreSQL runs with its durable defaults (fsync, synchronous_commit on).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Agent, type AgentRegistry, createEngine, type Engine } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { openPostgresStore } from '@orchestr8/store-postgres';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { createDistributedEngine } from '@orchestr8/worker';
import { conditionsArgv } from '../../core/bench/in-child.js';
import { diamond, fan, NOOP } from '../../core/bench/workloads.js';
import { startPostgres } from '../../store-postgres/test/pg-server.js';
import { spawnFixture } from '../test/processes.js';
import { cpuOf, serverCpu } from './cpu.js';
import { rawPostgresW3 } from './raw-postgres.js';

export interface DistributedBenchRow {
  workload: string;
  store: string;
  workers: number | string;
  /** W2: durable steps per second. */
  stepsPerSec?: number;
  /** W3: executions per second. */
  execPerSec?: number;
  /** Median and p95 latency from the last dependency finishing to the step starting, ms. */
  depToStartP50Ms?: number;
  depToStartP95Ms?: number;
  /** Steps per second over those of the in-process engine on SQLite, same workload, same run. */
  xSqlite?: number;
  /** Steps per second over those of one worker, same workload, same run. */
  xOneWorker?: number;
  /**
   * CPU per step, µs: for PostgreSQL the API process, the workers and the server together
   * (Linux only); for SQLite the one process. Load moves it less than steps per second.
   */
  cpuUsPerStep?: number;
}

/** W3's diamond with agents that wait `ms` (on I/O, say) before answering. */
function slowDiamond(ms: number): Record<string, unknown> {
  const doc = diamond(1000) as { steps: { input: Record<string, unknown> }[]; metadata: { id: string } };
  return {
    ...doc,
    metadata: { ...doc.metadata, id: `w3-diamond-${ms}ms` },
    steps: doc.steps.map((s) => ({ ...s, input: { ...s.input, ms } })),
  };
}

export interface DistributedBenchOptions {
  /** Worker process counts to measure (default [1, 2]). */
  workerCounts?: number[];
  /**
   * Executions in the W3 runs (default 3,000 in flight, 50 sequential). Long enough for the
   * steady state: the first few hundred also pay for PostgreSQL planning each statement per
   * connection and for tables too small to have statistics.
   */
  w3Runs?: number;
  /** Executions in the W3 run whose agents wait (default 200). */
  ioRuns?: number;
  w3Sequential?: number;
  fanWidth?: number;
  /** Steps each worker runs at once (default 16). */
  concurrency?: number;
  /** Also run the in-process engine on SQLite for comparison (default true). */
  sqlite?: boolean;
  /** Also run W3 (100 in flight) with agents that wait this long, where workers add capacity (default 20; 0: no). */
  ioMs?: number;
}

const WORKER = 'packages/worker/bench/bench-worker.ts';

function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject(doc);
  if (!r.ok || !r.workflow)
    throw new Error(`bench workflow invalid: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
  return r.workflow;
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** Runs `n` executions, `inFlight` at a time; returns the wall time in ms. */
async function drive(engine: Engine, wf: CompiledWorkflow, n: number, inFlight: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        const r = await engine.execute(wf, { inputs: { n: i } });
        if (r.status !== 'completed') throw new Error(`${wf.id}: ${r.status} ${JSON.stringify(r.error)}`);
      }
    }),
  );
  return performance.now() - t0;
}

/** The in-process engine on a SQLite file, with the no-op agent. */
async function openLocal(path: string) {
  const noop: Agent = { id: NOOP, execute: (input: unknown) => input };
  const registry: AgentRegistry = {
    get: (id) => (id === NOOP ? noop : undefined),
    has: (id) => id === NOOP,
    list: () => [noop],
  };
  const store = await openSqliteStore({ path });
  return { store, engine: createEngine({ registry, store }) };
}

/** Dependency-finished-to-start latencies (ms) of the recorded steps of `wf`. */
function latencies(file: string, wf: CompiledWorkflow): number[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const started = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [e, s, t] = line.split(' ');
    if (e && s && t) started.set(`${e} ${s}`, Number(t));
  }
  // A no-op agent finishes as it starts: its start time stands for its end.
  const out: number[] = [];
  const executions = new Set([...started.keys()].map((k) => k.split(' ')[0]!));
  for (const e of executions) {
    for (const step of wf.steps) {
      if (step.dependencies.length === 0) continue;
      const t = started.get(`${e} ${step.id}`);
      const deps = step.dependencies.map((d) => started.get(`${e} ${d}`));
      if (t === undefined || deps.some((d) => d === undefined)) continue;
      out.push(t - Math.max(...(deps as number[])));
    }
  }
  return out;
}

export async function runDistributedBench(
  options: DistributedBenchOptions = {},
): Promise<DistributedBenchRow[]> {
  const rows: DistributedBenchRow[] = [];
  const fanWidth = options.fanWidth ?? 1000;
  const w2 = compile(fan(fanWidth, 1000));
  const w3 = compile(diamond(1000));
  const w3Runs = options.w3Runs ?? 3_000;
  const ioRuns = options.ioRuns ?? 200;
  const w3Seq = options.w3Sequential ?? 50;
  const server = await startPostgres({ durable: true });
  const dir = mkdtempSync(join(tmpdir(), 'orchestr8-dist-bench-'));
  // The in-process engine on SQLite, measured on W3 (100 in flight) right after each
  // PostgreSQL run of it: on a shared machine the load moves, and a ratio holds only between
  // figures taken at about the same time.
  const local = options.sqlite === false ? undefined : await openLocal(join(dir, 'bench.db'));
  const localW3: number[] = [];
  const localW3Cpu: number[] = [];
  try {
    if (local) await drive(local.engine, w3, 20, 10);
    for (const count of options.workerCounts ?? [1, 2]) {
      const url = server.freshSchemaUrl();
      const store = await openPostgresStore({ url, poolSize: 12 });
      const times = join(dir, `times-${count}.log`);
      writeFileSync(times, '');
      const workers = await Promise.all(
        Array.from({ length: count }, () =>
          spawnFixture(
            WORKER,
            {
              ORCHESTR8_STORE: url,
              ORCHESTR8_BENCH_TIMES: times,
              WORKER_CONCURRENCY: String(options.concurrency ?? 16),
            },
            conditionsArgv(),
          ),
        ),
      );
      const registry: AgentRegistry = { get: () => undefined, has: () => false, list: () => [] };
      const engine = await createDistributedEngine({ store, registry, pollMs: 200 });
      try {
        // Warm-up: plans, statements and connections of every process.
        await drive(engine, w3, 20, 10);
        writeFileSync(times, '');
        await new Promise((r) => setTimeout(r, 300));

        // One execution takes tens of ms: the median of 9 (3 moved with the machine's load).
        const fanMs: number[] = [];
        for (let i = 0; i < 9; i++) fanMs.push(await drive(engine, w2, 1, 1));
        const w2Steps = w2.steps.length;
        await new Promise((r) => setTimeout(r, 300));
        const w2Lat = latencies(times, w2);
        rows.push({
          workload: `W2 fan ${fanWidth}`,
          store: 'postgres',
          workers: count,
          stepsPerSec: Math.round((w2Steps / quantile(fanMs, 0.5)) * 1000),
          depToStartP50Ms: quantile(w2Lat, 0.5),
          depToStartP95Ms: quantile(w2Lat, 0.95),
        });

        writeFileSync(times, '');
        const seqMs = await drive(engine, w3, w3Seq, 1);
        await new Promise((r) => setTimeout(r, 300));
        const seqLat = latencies(times, w3);
        rows.push({
          workload: `W3 diamond x${w3Seq} sequential`,
          store: 'postgres',
          workers: count,
          execPerSec: (w3Seq / seqMs) * 1000,
          depToStartP50Ms: quantile(seqLat, 0.5),
          depToStartP95Ms: quantile(seqLat, 0.95),
        });

        writeFileSync(times, '');
        const cpu = () => {
          const self = process.cpuUsage();
          return (
            (self.user + self.system) / 1e6 +
            workers.reduce((sum, w) => sum + cpuOf(w.child.pid!), 0) +
            serverCpu(join(server.dir, 'data'))
          );
        };
        const cpuBefore = cpu();
        const parMs = await drive(engine, w3, w3Runs, 100);
        const cpuUsPerStep = ((cpu() - cpuBefore) * 1e6) / (w3Runs * w3.steps.length);
        await new Promise((r) => setTimeout(r, 300));
        const parLat = latencies(times, w3);
        const parRow: DistributedBenchRow = {
          workload: `W3 diamond x${w3Runs}, 100 in flight`,
          store: 'postgres',
          workers: count,
          execPerSec: (w3Runs / parMs) * 1000,
          stepsPerSec: Math.round(((w3Runs * w3.steps.length) / parMs) * 1000),
          depToStartP50Ms: quantile(parLat, 0.5),
          depToStartP95Ms: quantile(parLat, 0.95),
          ...(process.platform === 'linux' ? { cpuUsPerStep } : {}),
        };
        rows.push(parRow);
        if (local) {
          const localCpu = process.cpuUsage();
          const localMs = await drive(local.engine, w3, w3Runs, 100);
          const used = process.cpuUsage(localCpu);
          localW3Cpu.push((used.user + used.system) / (w3Runs * w3.steps.length));
          const localSteps = ((w3Runs * w3.steps.length) / localMs) * 1000;
          localW3.push(localSteps);
          parRow.xSqlite = parRow.stepsPerSec! / localSteps;
        }
        const ioMs = options.ioMs ?? 20;
        if (ioMs > 0) {
          const io = compile(slowDiamond(ioMs));
          const ioMsTotal = await drive(engine, io, ioRuns, 100);
          rows.push({
            workload: `W3 diamond x${ioRuns}, 100 in flight, agents wait ${ioMs} ms`,
            store: 'postgres',
            workers: count,
            execPerSec: (ioRuns / ioMsTotal) * 1000,
            stepsPerSec: Math.round(((ioRuns * io.steps.length) / ioMsTotal) * 1000),
          });
        }
      } finally {
        await engine.shutdown();
        await Promise.all(workers.map((w) => w.stop()));
        // A worker's errors say why a figure is off.
        for (const w of workers) {
          const errors = w.output().trim();
          if (errors) process.stderr.write(`worker ${w.info}: ${errors.slice(0, 2000)}\n`);
        }
        await store.close();
      }
    }

    // The floor: the same rows written by one connection, 100 executions a statement.
    {
      const store = await openPostgresStore({ url: server.freshSchemaUrl(), poolSize: 2 });
      try {
        await rawPostgresW3(store, 200);
        const cpuBefore = process.cpuUsage();
        const pgBefore = serverCpu(join(server.dir, 'data'));
        const raw = await rawPostgresW3(store, w3Runs);
        const self = process.cpuUsage(cpuBefore);
        const cpuS = (self.user + self.system) / 1e6 + serverCpu(join(server.dir, 'data')) - pgBefore;
        rows.push({
          workload: `W3 diamond x${w3Runs}, 100 in flight`,
          store: RAW,
          workers: '-',
          execPerSec: (w3Runs / raw.ms) * 1000,
          stepsPerSec: Math.round((raw.steps / raw.ms) * 1000),
          ...(process.platform === 'linux' ? { cpuUsPerStep: (cpuS * 1e6) / raw.steps } : {}),
        });
      } finally {
        await store.close();
      }
    }

    if (local) {
      const { engine } = local;
      const fanMs: number[] = [];
      for (let i = 0; i < 3; i++) fanMs.push(await drive(engine, w2, 1, 1));
      const label = SQLITE;
      rows.push({
        workload: `W2 fan ${fanWidth}`,
        store: label,
        workers: '-',
        stepsPerSec: Math.round((w2.steps.length / quantile(fanMs, 0.5)) * 1000),
      });
      rows.push({
        workload: `W3 diamond x${w3Seq} sequential`,
        store: label,
        workers: '-',
        execPerSec: (w3Seq / (await drive(engine, w3, w3Seq, 1))) * 1000,
      });
      // The median of the runs taken right after each PostgreSQL run.
      const steps = quantile(localW3, 0.5);
      rows.push({
        workload: `W3 diamond x${w3Runs}, 100 in flight`,
        store: label,
        workers: '-',
        execPerSec: steps / w3.steps.length,
        stepsPerSec: Math.round(steps),
        cpuUsPerStep: quantile(localW3Cpu, 0.5),
      });
    }
  } finally {
    if (local) {
      await local.engine.shutdown();
      await local.store.close();
    }
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  addRatios(rows);
  return rows;
}

const SQLITE = 'sqlite (in-process)';
const RAW = 'postgres: raw writes, no engine';

/** Each PostgreSQL row's steps/s against SQLite in-process and against one worker, same workload. */
function addRatios(rows: DistributedBenchRow[]): void {
  for (const r of rows) {
    if (r.store === SQLITE || r.stepsPerSec === undefined) continue;
    const sqlite = rows.find((o) => o.store === SQLITE && o.workload === r.workload)?.stepsPerSec;
    if (sqlite && r.xSqlite === undefined) r.xSqlite = r.stepsPerSec / sqlite;
    const one = rows.find((o) => o.store === 'postgres' && o.workers === 1 && o.workload === r.workload);
    if (one?.stepsPerSec && r.store === 'postgres' && r.workers !== 1)
      r.xOneWorker = r.stepsPerSec / one.stepsPerSec;
  }
}

/** The targets, each a ratio within the run. */
export function distributedSummary(rows: readonly DistributedBenchRow[]): string[] {
  const w4 = rows.filter((r) => r.store === 'postgres' && /100 in flight$/.test(r.workload));
  const w2 = rows.filter((r) => r.store === 'postgres' && r.workload.startsWith('W2'));
  const f = (x: number | undefined, d = 2) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
  const sqliteCpu = rows.find((r) => r.store === SQLITE && /100 in flight$/.test(r.workload))?.cpuUsPerStep;
  const raw = rows.find((r) => r.store === RAW);
  const out: string[] = [];
  for (const r of w4) {
    out.push(
      `${r.workload}, ${r.workers} worker(s): ${r.stepsPerSec} steps/s = ${f(r.xSqlite, 3)} of SQLite in-process (target >= 0.3); ` +
        `dependency-to-start p50 ${f(r.depToStartP50Ms, 1)} ms, p95 ${f(r.depToStartP95Ms, 1)} ms (target p95 < 20 ms)` +
        (r.cpuUsPerStep !== undefined && sqliteCpu !== undefined
          ? `; CPU ${f(r.cpuUsPerStep, 0)} µs/step (API + workers + PostgreSQL) = ${f(r.cpuUsPerStep / sqliteCpu, 1)}x SQLite in-process`
          : ''),
    );
  }
  if (raw)
    out.push(
      `The same rows written by one connection, 100 executions a statement, no engine: ${raw.stepsPerSec} steps/s = ${f(raw.xSqlite, 3)} of SQLite in-process` +
        (raw.cpuUsPerStep !== undefined
          ? `; CPU ${f(raw.cpuUsPerStep, 0)} µs/step (this process + PostgreSQL): what a step's rows cost at least in this schema`
          : ''),
    );
  for (const r of [...w2, ...w4].filter((x) => x.xOneWorker !== undefined)) {
    out.push(`${r.workload}: 2 workers / 1 worker = ${f(r.xOneWorker)} (target >= 1)`);
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runDistributedBench();
  console.table(rows);
  for (const line of distributedSummary(rows)) console.log(line);
  process.exit(0);
}
