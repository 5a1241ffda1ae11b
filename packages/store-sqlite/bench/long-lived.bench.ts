/**
 * One long-lived engine on the SQLite store, as users run it: a real file, default options
 * (WAL, synchronous=NORMAL), an event subscriber, many executions. Beside it, in the same run:
 * - raw SQLite: the same driver writing the rows an execution needs (1 execution row, then per
 *   step 1 step row and 3 journal entries) in batched transactions, no engine: what SQLite
 *   itself allows on this machine;
 * - async.auto running the same DAGs with no store at all.
 *
 *   node --expose-gc --import tsx packages/store-sqlite/bench/long-lived.bench.ts [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Agent, type AgentRegistry, createEngine } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { auto } from 'async';
import Database from 'libsql';
import { diamond, fan, NOOP } from '../../core/bench/workloads.js';
import { EXECUTION_COLUMNS, JOURNAL_COLUMNS, STEP_COLUMNS } from '../src/rows.js';

export interface LongLivedRow {
  figure: string;
  /** executions/s (W3, W4, raw) or µs per step (W2) */
  value: number;
  unit: string;
  /** Speed relative to raw SQLite writing the same rows (1 = as fast as SQLite allows here). */
  speedVsRawSqlite?: number;
  /** Speed relative to async.auto running the same DAG with no store. */
  speedVsAsyncAuto?: number;
}

export interface LongLivedOptions {
  quick?: boolean;
}

const noop: Agent = { id: NOOP, execute: (input: unknown) => input };
const registry: AgentRegistry = {
  get: (id) => (id === NOOP ? noop : undefined),
  has: (id) => id === NOOP,
  list: () => [noop],
};

function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject(doc);
  if (!r.ok || !r.workflow) throw new Error(`bench workflow invalid: ${JSON.stringify(r.diagnostics)}`);
  return r.workflow;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs `round` `rounds` times (after one warm-up round) and returns the median duration in ms. */
async function timed(rounds: number, round: () => Promise<void> | void): Promise<number> {
  await round();
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    await round();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** `count` executions with `inFlight` at a time; returns executions per second. */
async function throughput(
  rounds: number,
  count: number,
  inFlight: number,
  one: (n: number) => Promise<void>,
): Promise<number> {
  const ms = await timed(rounds, async () => {
    let next = 0;
    const worker = async () => {
      while (next < count) await one(next++);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  });
  return (count / ms) * 1000;
}

const OUTPUT = { v: 1 };

/**
 * The rows of `executions` executions of a `steps`-step workflow written with no engine, `perTx`
 * executions per transaction, through the same driver and settings as the store (prepared
 * statements, the journal entries of a step in one INSERT, ids that sort by creation like the
 * engine's). Returns the median executions per second over `rounds` rounds.
 */
function rawWrites(
  db: Database.Database,
  runs: { executions: number; steps: number; perTx: number; rounds: number },
  next: { n: number },
): number {
  const ph = (cols: string) =>
    cols
      .split(',')
      .map(() => '?')
      .join(', ');
  const insertExecution = db.prepare(
    `INSERT INTO executions (${EXECUTION_COLUMNS}) VALUES (${ph(EXECUTION_COLUMNS)})`,
  );
  const insertStep = db.prepare(`INSERT INTO steps (${STEP_COLUMNS}) VALUES (${ph(STEP_COLUMNS)})`);
  const row = `(${ph(JOURNAL_COLUMNS)})`;
  const insertJournal = db.prepare(`INSERT INTO journal (${JOURNAL_COLUMNS}) VALUES ${row}, ${row}, ${row}`);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const output = JSON.stringify(OUTPUT);
  const TYPES = ['step.started', 'step.attempt', 'step.completed'];
  const oneExecution = () => {
    const id = `raw-${String(next.n++).padStart(12, '0')}`;
    const now = Date.now();
    insertExecution.run([
      id,
      'raw',
      '1.0.0',
      'h',
      'completed',
      '{"n":1}',
      output,
      null,
      null,
      null,
      null,
      null,
      'all steps finished',
      now,
      now,
      now,
      now,
    ]);
    let seq = 0;
    for (let s = 0; s < runs.steps; s++) {
      const stepId = `s${s}`;
      insertStep.run([id, stepId, 'completed', 1, output, null, now, now, null, null, `${id}:${stepId}`]);
      const params: (string | number | null)[] = [];
      for (let k = 0; k < 3; k++) {
        params.push(id, ++seq, now, seq * 0.01, TYPES[k]!, stepId, 1, k === 2 ? output : null);
      }
      insertJournal.run(params);
    }
  };
  const ms: number[] = [];
  for (let r = 0; r <= runs.rounds; r++) {
    const t0 = performance.now();
    for (let done = 0; done < runs.executions; ) {
      begin.run([]);
      for (let i = 0; i < runs.perTx && done < runs.executions; i++, done++) oneExecution();
      commit.run([]);
    }
    // Round 0 warms up.
    if (r > 0) ms.push(performance.now() - t0);
  }
  return (runs.executions / median(ms)) * 1000;
}

/** async.auto over the same DAG shape, each task a resolved no-op. */
function asyncAutoRun(doc: Record<string, unknown>): () => Promise<void> {
  const steps = doc.steps as { id: string; dependencies?: string[] }[];
  const tasks: Record<string, unknown> = {};
  for (const s of steps) {
    const deps = s.dependencies ?? [];
    const fn = async (results?: Record<string, unknown>) => (results ? results[deps[0]!] : OUTPUT);
    tasks[s.id] = deps.length === 0 ? async () => fn() : [...deps, fn];
  }
  return () => auto(tasks as Parameters<typeof auto>[0]) as unknown as Promise<void>;
}

export async function runLongLivedSqliteBench(options: LongLivedOptions = {}): Promise<LongLivedRow[]> {
  const quick = options.quick ?? false;
  const rounds = quick ? 3 : 5;
  const w3Count = quick ? 300 : 1000;
  const w4Count = quick ? 1000 : 2000;
  const fanRounds = quick ? 5 : 10;
  const dir = mkdtempSync(join(tmpdir(), 'o8-sqlite-long-'));
  const rows: LongLivedRow[] = [];
  try {
    // Baselines first: raw writes on their own file, same schema and pragmas as the store.
    const rawStore = await openSqliteStore({ path: join(dir, 'raw.db') });
    await rawStore.close();
    const db = new Database(join(dir, 'raw.db'));
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    const next = { n: 0 };
    const rawOne = rawWrites(db, { executions: w3Count, steps: 10, perTx: 1, rounds }, next);
    const rawHundred = rawWrites(db, { executions: w4Count, steps: 10, perTx: 100, rounds }, next);
    const rawFan = rawWrites(db, { executions: fanRounds, steps: 1002, perTx: 1, rounds }, next);
    db.close();
    const rawFanUs = 1e6 / rawFan / 1002;

    const diamondAuto = asyncAutoRun(diamond());
    const autoW3 = await throughput(rounds, w3Count * 4, 1, diamondAuto);
    const autoW4 = await throughput(rounds, w4Count * 4, 100, diamondAuto);
    const fanAuto = asyncAutoRun(fan(1000));
    const autoFanUs =
      ((await timed(rounds, async () => {
        for (let i = 0; i < fanRounds; i++) await fanAuto();
      })) *
        1000) /
      fanRounds /
      1002;

    // One engine, one store, for the whole run.
    const store = await openSqliteStore({ path: join(dir, 'engine.db') });
    const engine = createEngine({ registry, store });
    engine.events.subscribe(() => {});
    const w3 = compile(diamond());
    const w2 = compile(fan(1000));
    const runOne = (wf: CompiledWorkflow) => async (n: number) => {
      const r = await engine.execute(wf, { inputs: { n } });
      if (r.status !== 'completed') throw new Error(`${wf.id}: ${r.status} ${JSON.stringify(r.error)}`);
    };
    const engineW3 = await throughput(rounds, w3Count, 1, runOne(w3));
    const engineW4 = await throughput(rounds, w4Count, 100, runOne(w3));
    const fanMs = await timed(rounds, async () => {
      for (let i = 0; i < fanRounds; i++) await runOne(w2)(i);
    });
    const engineFanUs = (fanMs * 1000) / fanRounds / 1002;
    await engine.close();
    await store.close();

    const r2 = (x: number) => Math.round(x * 100) / 100;
    rows.push(
      {
        figure: 'W3 10-step DAG, sequential: orchestr8 on SQLite',
        value: engineW3,
        unit: 'exec/s',
        speedVsRawSqlite: r2(engineW3 / rawOne),
        speedVsAsyncAuto: r2(engineW3 / autoW3),
      },
      {
        figure: 'W4 10-step DAG, 100 in flight: orchestr8 on SQLite',
        value: engineW4,
        unit: 'exec/s',
        speedVsRawSqlite: r2(engineW4 / rawHundred),
        speedVsAsyncAuto: r2(engineW4 / autoW4),
      },
      {
        figure: 'W2 fan of 1,000: orchestr8 on SQLite',
        value: engineFanUs,
        unit: 'µs/step',
        speedVsRawSqlite: r2(rawFanUs / engineFanUs),
        speedVsAsyncAuto: r2(autoFanUs / engineFanUs),
      },
      { figure: 'raw SQLite, 1 execution per transaction (W3 baseline)', value: rawOne, unit: 'exec/s' },
      {
        figure: 'raw SQLite, 100 executions per transaction (W4 baseline)',
        value: rawHundred,
        unit: 'exec/s',
      },
      {
        figure: 'raw SQLite, 1,002 steps in one transaction (W2 baseline)',
        value: rawFanUs,
        unit: 'µs/step',
      },
      { figure: 'async.auto W3, no store', value: autoW3, unit: 'exec/s' },
      { figure: 'async.auto W4, 100 in flight, no store', value: autoW4, unit: 'exec/s' },
      { figure: 'async.auto W2 fan of 1,000, no store', value: autoFanUs, unit: 'µs/step' },
    );
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.table(await runLongLivedSqliteBench({ quick }));
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}
