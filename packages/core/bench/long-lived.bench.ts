/**
 * The engine as users embed it: one engine for the life of the process (createEngine once,
 * default options, its own memory store, one event subscriber), many executions. Each figure
 * is printed beside async.auto and a hand-written Promise DAG measured in the same run, each
 * library in processes of its own, alternated (see measureLibrary).
 */
import { readFileSync } from 'node:fs';
import { createEngine, createMemoryStore, type Engine } from '@orchestr8/core';
import asyncLib from 'async';
import { Bench } from 'tinybench';
import { eventContractRunner } from './event-floor.js';
import { childSide, inChild } from './in-child.js';
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
  /** W3/W4: the orchestr8 process's peak resident memory after W3 and W4 (median of the rounds). */
  'peak RSS MB'?: number;
}

/**
 * The engine as an embedding program holds it: defaults, and a subscriber (a live view, SSE).
 * `keep`: how many finished executions its memory store keeps (the default keeps 1,000), to
 * show what that retention costs.
 */
export function longLivedEngine(keep?: number): Engine {
  const engine = createEngine({
    registry,
    ...(keep === undefined ? {} : { store: createMemoryStore({ maxFinishedExecutions: keep }) }),
  });
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
  /** Processes per library, alternated (default 3); each ratio is the median of the rounds' ratios. */
  rounds?: number;
  /** Executions in the accumulation run, and the size of the blocks compared (default 100,000 / 10,000). */
  accumulate?: number;
  block?: number;
}

export type Library =
  | 'orchestr8'
  | 'orchestr8, keeping none'
  | 'orchestr8, keeping 100'
  | 'orchestr8, young generation 64 MB'
  | 'async.auto'
  | 'async.auto + events'
  | 'raw Promise DAG';
const LIBRARIES: readonly Library[] = [
  'orchestr8',
  'orchestr8, keeping none',
  'orchestr8, keeping 100',
  'orchestr8, young generation 64 MB',
  'async.auto',
  'async.auto + events',
  'raw Promise DAG',
];
/** Libraries measured on W3/W4 only. */
const W3_W4_ONLY: ReadonlySet<Library> = new Set([
  'orchestr8, keeping none',
  'orchestr8, keeping 100',
  'orchestr8, young generation 64 MB',
  'async.auto + events',
]);
/** The memory store's retention per orchestr8 library (undefined: the default). */
const KEEP: Partial<Record<Library, number>> = {
  'orchestr8, keeping none': 0,
  'orchestr8, keeping 100': 100,
};
/**
 * Node flags per library. The defaults otherwise, with V8's young generation given up to 64 MB
 * per semi-space (default 16): what finished executions the store keeps then mostly dies in
 * it instead of being copied and promoted, at the cost of memory (see `rssMb`).
 */
const FLAGS: Partial<Record<Library, string[]>> = {
  'orchestr8, young generation 64 MB': ['--max-semi-space-size=64'],
};
type Timing = { wall: number; cpu: number };
/**
 * This process's own peak resident memory, in MB. Not `resourceUsage().maxRSS`: on Linux a
 * child started from a larger parent reports the parent's peak until it exceeds it.
 */
function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}
/**
 * One library's medians in one process: W1/W2 ms per execution, W3/W4 ms per `runs` executions
 * (W1/W2 absent for the libraries in W3_W4_ONLY).
 */
export type LibraryTimings = Record<'W3' | 'W4', Timing> &
  Partial<Record<'W1' | 'W2', Timing>> & {
    /** The process's own peak resident memory after W3 and W4 (before W1/W2), in MB (see peakRssMb). */
    rssMb: number;
  };

/**
 * One library's four workloads, in this process: W3 and W4 first (the 10-step DAGs the
 * target is about), then the 1,000-step W1 and W2. orchestr8 runs them all on one
 * long-lived engine. Each library gets a process of its own (see runLongLivedBench): in a
 * shared process, one library's earlier workloads (a 1,000-key task object for async.auto)
 * leave V8's inline caches megamorphic and slow down whatever runs after them, a handicap
 * that fell on the baselines and flattered the ratio (async.auto's W3 at ~40k/s in a shared
 * process, ~110-140k/s alone).
 */
export async function measureLibrary(
  library: Library,
  timeMs: number,
  runs: number,
): Promise<LibraryTimings> {
  const engine = library.startsWith('orchestr8') ? longLivedEngine(KEEP[library]) : undefined;
  // async.auto doing what the event contract asks (event-floor.ts); its bus is flushed like the engine's.
  let floorBus: { flush(): Promise<void> } | undefined;
  const runner = (doc: Record<string, unknown>): ((n: number) => Promise<void>) => {
    if (library === 'async.auto + events') {
      const { run, bus } = eventContractRunner(plainSteps(doc), String((doc.metadata as { id: string }).id));
      floorBus = bus;
      return run;
    }
    if (engine) {
      const wf = compile(doc);
      // W3/W4 pass an input per execution (n > 0); W1/W2 declare none.
      return async (n) => {
        const r = await engine.execute(wf, n > 0 ? { inputs: { n } } : {});
        if (r.status !== 'completed') throw new Error(`${wf.id}: ${r.status} ${JSON.stringify(r.error)}`);
      };
    }
    const ps = plainSteps(doc);
    if (library === 'async.auto') {
      const tasks = asyncAutoTasks(ps);
      return async () => void (await runAuto(tasks));
    }
    return async () => void (await runPlainDag(ps, plainAgent));
  };
  const inFlightRuns = async (inFlight: number, one: (n: number) => Promise<void>) => {
    let next = 0;
    const worker = async () => {
      while (next < runs) await one(++next);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  };
  // Each measured call ends when the subscriber has had every event of its executions.
  const measure = (label: string, fn: () => Promise<void>) =>
    median(
      label,
      async () => {
        await fn();
        await engine?.events.flush();
        await floorBus?.flush();
      },
      timeMs,
    );
  const w = runner(diamond());
  const W3 = await measure('W3', () => inFlightRuns(1, w));
  const W4 = await measure('W4', () => inFlightRuns(100, w));
  const rssMb = peakRssMb();
  if (W3_W4_ONLY.has(library)) {
    await engine?.close();
    return { W3, W4, rssMb };
  }
  const w1 = runner(chain(1000));
  const W1 = await measure('W1', () => w1(0));
  const w2 = runner(fan(1000));
  const W2 = await measure('W2', () => w2(0));
  await engine?.close();
  return { W1, W2, W3, W4, rssMb };
}

/** measureLibrary in a child process of its own (this file under tsx, as `pnpm bench` runs). */
const measureInChild = (library: Library, timeMs: number, runs: number) =>
  inChild<LibraryTimings>(
    import.meta.url,
    ['--measure-library', library, String(timeMs), String(runs)],
    `measuring ${library}`,
    FLAGS[library],
  );

export async function runLongLivedBench(options: LongLivedOptions = {}): Promise<LongLivedRow[]> {
  const timeMs = options.timeMs ?? 2000;
  const runs = options.runs ?? 2000;
  const rounds = options.rounds ?? 3;
  // Rounds alternate the libraries, so all see the same machine; a ratio per round, then medians.
  const results: Record<Library, LibraryTimings[]> = {
    orchestr8: [],
    'orchestr8, keeping none': [],
    'orchestr8, keeping 100': [],
    'orchestr8, young generation 64 MB': [],
    'async.auto': [],
    'async.auto + events': [],
    'raw Promise DAG': [],
  };
  for (let r = 0; r < rounds; r++)
    for (const library of LIBRARIES) results[library].push(await measureInChild(library, timeMs, runs));
  // The median; of an even count, the mean of the two middle values (2 rounds with --quick).
  const mid = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const h = sorted.length >> 1;
    return sorted.length % 2 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
  };
  const of = (library: Library, k: 'W1' | 'W2' | 'W3' | 'W4', f: 'wall' | 'cpu') =>
    results[library].map((t) => t[k]![f]);
  const rows: LongLivedRow[] = [];
  const perStep = (label: string, k: 'W1' | 'W2', steps: number) => {
    const us = (library: Library) => (mid(of(library, k, 'wall')) * 1000) / steps;
    const perRound = (f: 'wall' | 'cpu') =>
      mid(of('orchestr8', k, f).map((x, i) => x / of('raw Promise DAG', k, f)[i]!));
    rows.push({
      workload: label,
      unit: 'µs/step',
      orchestr8: us('orchestr8'),
      'async.auto': us('async.auto'),
      'raw Promise DAG': us('raw Promise DAG'),
      ratio: perRound('wall'),
      'cpu ratio': perRound('cpu'),
      target: '< 15 (× raw Promise DAG)',
    });
  };
  const throughput = (
    label: string,
    k: 'W3' | 'W4',
    engine: Library = 'orchestr8',
    target = '>= 1 (× async.auto)',
  ) => {
    const perSec = (library: Library) => (runs / mid(of(library, k, 'wall'))) * 1000;
    const perRound = (f: 'wall' | 'cpu') =>
      mid(of('async.auto', k, f).map((x, i) => x / of(engine, k, f)[i]!));
    rows.push({
      workload: label,
      unit: 'executions/s',
      orchestr8: perSec(engine),
      'async.auto': perSec('async.auto'),
      'raw Promise DAG': perSec('raw Promise DAG'),
      ratio: perRound('wall'),
      'cpu ratio': perRound('cpu'),
      target,
      'peak RSS MB': mid(results[engine].map((t) => t.rssMb)),
    });
  };
  perStep('W1 chain of 1,000', 'W1', 1000);
  perStep('W2 fan of 1,000 (unbounded)', 'W2', 1002);
  throughput('W3 10-step DAG, sequential', 'W3');
  throughput('W4 10-step DAG, 100 in flight', 'W4');
  // Not the default: what the memory store's retention of finished executions costs.
  const none = ', memory store keeping no finished execution';
  throughput(`W3 10-step DAG, sequential${none}`, 'W3', 'orchestr8, keeping none');
  throughput(`W4 10-step DAG, 100 in flight${none}`, 'W4', 'orchestr8, keeping none');
  const hundred = ', memory store keeping the 100 most recent finished executions';
  throughput(`W3 10-step DAG, sequential${hundred}`, 'W3', 'orchestr8, keeping 100');
  throughput(`W4 10-step DAG, 100 in flight${hundred}`, 'W4', 'orchestr8, keeping 100');
  // Not the default: the same defaults with a larger young generation (a Node flag).
  const young = ', defaults, node --max-semi-space-size=64';
  throughput(`W3 10-step DAG, sequential${young}`, 'W3', 'orchestr8, young generation 64 MB');
  throughput(`W4 10-step DAG, 100 in flight${young}`, 'W4', 'orchestr8, young generation 64 MB');
  // Not an engine: async.auto plus the 22 journal entries, kept and published (event-floor.ts):
  // what only the event contract costs, written plainly.
  const floor = ', async.auto + only the event contract, written plainly (22 entries kept and published)';
  const reference = 'none (a reference)';
  throughput(`W3 10-step DAG, sequential${floor}`, 'W3', 'async.auto + events', reference);
  throughput(`W4 10-step DAG, 100 in flight${floor}`, 'W4', 'async.auto + events', reference);
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

// The child side of measureInChild.
await childSide('--measure-library', ([library, timeMs, runs]) =>
  measureLibrary(library as Library, Number(timeMs), Number(runs)),
);
