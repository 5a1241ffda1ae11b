import { createEngine, type Engine, type Store } from '@orchestr8/core';
import { Bench } from 'tinybench';
import { compile, plainAgent, registry } from './setup.js';
import { chain, diamond, fan, plainSteps, runPlainDag } from './workloads.js';

export interface EngineBenchRow {
  workload: string;
  store: string;
  /** median µs per step (W1, W2) */
  usPerStep?: number;
  /** median executions per second (W3, W4) */
  execPerSec?: number;
  /** the same figure for the plain Promise DAG, and engine/plain ratio */
  plain?: number;
  ratio?: number;
}

/**
 * The median latency of `fn` in ms. `beforeEach` runs outside the timed region (a fresh engine
 * per iteration, so one workload's heap of finished executions does not bill the next). The
 * heap is collected before each workload when the process runs with --expose-gc (pnpm bench).
 */
async function median(
  name: string,
  fn: () => Promise<void>,
  timeMs: number,
  beforeEach?: () => Promise<void>,
): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(500, timeMs / 4), iterations: 5 });
  bench.add(name, fn, beforeEach ? { beforeEach } : {});
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${name}: ${r.state} ${'error' in r ? String(r.error) : ''}`);
  return r.latency.p50;
}

export interface EngineBenchOptions {
  storeName: string;
  /** A fresh store per measured iteration (memory), or a shared one (files). */
  openStore?: () => Promise<Store>;
  timeMs?: number;
  /** Print the plain-Promise ratios (measured once, in the same process). */
  plain?: boolean;
  w3Runs?: number;
}

export async function runEngineBench(options: EngineBenchOptions): Promise<EngineBenchRow[]> {
  const timeMs = options.timeMs ?? 2000;
  const rows: EngineBenchRow[] = [];
  const engineFor = async () => {
    const store = options.openStore ? await options.openStore() : undefined;
    const engine = createEngine({ registry, ...(store ? { store } : {}) });
    // Events on: one subscriber, as a live view or SSE stream would be.
    engine.events.subscribe(() => {});
    return { engine, store };
  };
  const runs = options.w3Runs ?? 2000;
  // In memory, a fresh engine (and store) per measured iteration, made outside the timed
  // region; a durable store is shared by all iterations.
  const renewer = (cur: { engine: Engine }) =>
    options.openStore
      ? undefined
      : async () => {
          await cur.engine.shutdown();
          cur.engine = (await engineFor()).engine;
        };

  const perStep = async (label: string, doc: Record<string, unknown>, steps: number) => {
    const wf = compile(doc);
    const cur = await engineFor();
    const ms = await median(
      label,
      async () => {
        const engine = cur.engine;
        const r = await engine.execute(wf);
        if (r.status !== 'completed') throw new Error(`${label}: ${r.status} ${JSON.stringify(r.error)}`);
        // Measured: the subscriber is handed the events (an execution of no-op agents never
        // yields to the event loop by itself, and undelivered events would pile up).
        await engine.events.flush();
      },
      timeMs,
      renewer(cur),
    );
    await cur.engine.shutdown();
    await cur.store?.close();
    const row: EngineBenchRow = { workload: label, store: options.storeName, usPerStep: (ms * 1000) / steps };
    if (options.plain) {
      const ps = plainSteps(doc);
      const pms = await median(
        `${label} plain`,
        async () => void (await runPlainDag(ps, plainAgent)),
        timeMs,
      );
      row.plain = (pms * 1000) / steps;
      row.ratio = row.usPerStep! / row.plain;
    }
    rows.push(row);
  };

  await perStep('W1 chain 1000', chain(1000), 1000);
  await perStep('W2 fan 1000', fan(1000), 1002);
  await perStep('W2 fan 1000 (default bound 10)', fan(1000, 10), 1002);

  const wf = compile(diamond());
  const ps = plainSteps(diamond());
  const throughput = async (label: string, inFlight: number) => {
    const cur = await engineFor();
    const ms = await median(
      label,
      async () => {
        const engine = cur.engine;
        let next = 0;
        const worker = async () => {
          while (next < runs) {
            next++;
            const r = await engine.execute(wf, { inputs: { n: next } });
            if (r.status !== 'completed') throw new Error(`${label}: ${r.status}`);
          }
        };
        await Promise.all(Array.from({ length: inFlight }, worker));
        await engine.events.flush();
      },
      timeMs * 2,
      renewer(cur),
    );
    await cur.engine.shutdown();
    await cur.store?.close();
    const row: EngineBenchRow = { workload: label, store: options.storeName, execPerSec: (runs / ms) * 1000 };
    if (options.plain) {
      const pms = await median(
        `${label} plain`,
        async () => {
          let next = 0;
          const worker = async () => {
            while (next++ < runs) await runPlainDag(ps, plainAgent);
          };
          await Promise.all(Array.from({ length: inFlight }, worker));
        },
        timeMs,
      );
      row.plain = (runs / pms) * 1000;
      row.ratio = row.execPerSec! / row.plain;
    }
    rows.push(row);
  };
  await throughput(`W3 diamond x${runs} sequential`, 1);
  await throughput(`W4 diamond x${runs}, 100 in flight`, 100);
  return rows;
}
