/**
 * The engine as users embed it: one engine for the life of the process (createEngine once,
 * default options, its own memory store, one event subscriber), many executions. Each figure
 * is printed beside async.auto and a hand-written Promise DAG measured in the same run.
 */
import asyncLib from 'async';
import { Bench } from 'tinybench';
import { createEngine, type Engine } from '../src/index.js';
import { compile, plainAgent, registry } from './setup.js';
import { asyncAutoTasks, chain, diamond, fan, plainSteps, runPlainDag } from './workloads.js';

export { asyncAutoTasks };

export interface LongLivedRow {
  workload: string;
  unit: string;
  orchestr8: number;
  'async.auto': number;
  'raw Promise DAG': number;
  /** W1/W2: orchestr8 µs/step ÷ raw Promise DAG µs/step; W3/W4: orchestr8 ÷ async.auto (executions/s). */
  ratio: number;
  /** The same ratio over CPU time instead of wall time (steadier on a loaded machine). */
  'cpu ratio': number;
  target: string;
}

/** The engine as an embedding program holds it: defaults, and a subscriber (a live view, SSE). */
export function longLivedEngine(): Engine {
  const engine = createEngine({ registry });
  engine.events.subscribe(() => {});
  return engine;
}

const runAuto = (tasks: Record<string, unknown>) =>
  (asyncLib.auto as unknown as (t: Record<string, unknown>, concurrency: number) => Promise<unknown>)(
    tasks,
    Number.POSITIVE_INFINITY,
  );

/**
 * Medians of `fn`'s wall time and of the process's CPU time (user + system) per call, in ms.
 * On a shared machine the CPU time is the steadier figure: time spent waiting for a core is
 * not in it.
 */
async function median(
  name: string,
  fn: () => Promise<void>,
  timeMs: number,
): Promise<{ wall: number; cpu: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const cpu: number[] = [];
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(500, timeMs / 4), iterations: 5 });
  bench.add(name, async () => {
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${name}: ${r.state} ${'error' in r ? String(r.error) : ''}`);
  cpu.sort((a, b) => a - b);
  return { wall: r.latency.p50, cpu: cpu[cpu.length >> 1]! };
}

export interface LongLivedOptions {
  timeMs?: number;
  /** W3/W4 executions per measured iteration (default 2,000). */
  runs?: number;
  /** Executions in the accumulation run, and the size of the blocks compared (default 100,000 / 10,000). */
  accumulate?: number;
  block?: number;
}

export async function runLongLivedBench(options: LongLivedOptions = {}): Promise<LongLivedRow[]> {
  const timeMs = options.timeMs ?? 2000;
  const runs = options.runs ?? 2000;
  const rows: LongLivedRow[] = [];
  // One engine for every workload below, as a program keeps it.
  const engine = longLivedEngine();

  const perStep = async (label: string, doc: Record<string, unknown>, steps: number) => {
    const wf = compile(doc);
    const ps = plainSteps(doc);
    const tasks = asyncAutoTasks(ps);
    const ms = await median(
      label,
      async () => {
        const r = await engine.execute(wf);
        if (r.status !== 'completed') throw new Error(`${label}: ${r.status} ${JSON.stringify(r.error)}`);
        await engine.events.flush();
      },
      timeMs,
    );
    const auto = await median(`${label} async.auto`, async () => void (await runAuto(tasks)), timeMs);
    const plain = await median(
      `${label} plain`,
      async () => void (await runPlainDag(ps, plainAgent)),
      timeMs,
    );
    const us = (x: number) => (x * 1000) / steps;
    rows.push({
      workload: label,
      unit: 'µs/step',
      orchestr8: us(ms.wall),
      'async.auto': us(auto.wall),
      'raw Promise DAG': us(plain.wall),
      ratio: ms.wall / plain.wall,
      'cpu ratio': ms.cpu / plain.cpu,
      target: '< 15 (× raw Promise DAG)',
    });
  };
  await perStep('W1 chain of 1,000', chain(1000), 1000);
  await perStep('W2 fan of 1,000 (unbounded)', fan(1000), 1002);

  const wf = compile(diamond());
  const ps = plainSteps(diamond());
  const tasks = asyncAutoTasks(ps);
  const inFlightRuns = async (inFlight: number, one: (n: number) => Promise<void>) => {
    let next = 0;
    const worker = async () => {
      while (next < runs) await one(++next);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  };
  const throughput = async (label: string, inFlight: number) => {
    const ms = await median(
      label,
      async () => {
        await inFlightRuns(inFlight, async (n) => {
          const r = await engine.execute(wf, { inputs: { n } });
          if (r.status !== 'completed') throw new Error(`${label}: ${r.status}`);
        });
        await engine.events.flush();
      },
      timeMs * 2,
    );
    const auto = await median(
      `${label} async.auto`,
      () => inFlightRuns(inFlight, async () => void (await runAuto(tasks))),
      timeMs,
    );
    const plain = await median(
      `${label} plain`,
      () => inFlightRuns(inFlight, async () => void (await runPlainDag(ps, plainAgent))),
      timeMs,
    );
    const perSec = (x: number) => (runs / x) * 1000;
    rows.push({
      workload: label,
      unit: 'executions/s',
      orchestr8: perSec(ms.wall),
      'async.auto': perSec(auto.wall),
      'raw Promise DAG': perSec(plain.wall),
      ratio: auto.wall / ms.wall,
      'cpu ratio': auto.cpu / ms.cpu,
      target: '>= 1 (× async.auto)',
    });
  };
  await throughput('W3 10-step DAG, sequential', 1);
  await throughput('W4 10-step DAG, 100 in flight', 100);
  await engine.close();
  return rows;
}

/**
 * W3 executions one after another on one fresh long-lived engine: the time of each block of
 * `block` executions. The engine and its store must not slow down as executions accumulate.
 */
export async function runAccumulationBench(options: LongLivedOptions = {}): Promise<{
  executions: number;
  block: number;
  firstMs: number;
  lastMs: number;
  ratio: number;
  /** CPU time of the first and last blocks, and their ratio. */
  firstCpuMs: number;
  lastCpuMs: number;
  cpuRatio: number;
}> {
  const total = options.accumulate ?? 100_000;
  const block = options.block ?? 10_000;
  const wf = compile(diamond());
  // Warm the JIT on a throwaway engine, so the first block is not billed for compilation.
  const warm = longLivedEngine();
  for (let i = 0; i < 2000; i++) await warm.execute(wf, { inputs: { n: i } });
  await warm.close();
  (globalThis as { gc?: () => void }).gc?.();
  const engine = longLivedEngine();
  const blocks: number[] = [];
  const cpu: number[] = [];
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  for (let i = 1; i <= total; i++) {
    const r = await engine.execute(wf, { inputs: { n: i } });
    if (r.status !== 'completed') throw new Error(`accumulation: ${r.status}`);
    if (i % block === 0) {
      await engine.events.flush();
      const t1 = performance.now();
      const c = process.cpuUsage(c0);
      blocks.push(t1 - t0);
      cpu.push((c.user + c.system) / 1000);
      t0 = t1;
      c0 = process.cpuUsage();
    }
  }
  await engine.close();
  const firstMs = blocks[0]!;
  const lastMs = blocks[blocks.length - 1]!;
  const firstCpuMs = cpu[0]!;
  const lastCpuMs = cpu[cpu.length - 1]!;
  return {
    executions: total,
    block,
    firstMs,
    lastMs,
    ratio: lastMs / firstMs,
    firstCpuMs,
    lastCpuMs,
    cpuRatio: lastCpuMs / firstCpuMs,
  };
}
