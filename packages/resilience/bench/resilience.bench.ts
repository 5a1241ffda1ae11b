/**
 * Overhead of `execute` per call, on the success path (the engine's hot path). Each sample
 * awaits BATCH sequential calls; medianNs is the median sample divided by BATCH.
 * Run alone: `node --import tsx packages/resilience/bench/resilience.bench.ts`.
 */
import { pathToFileURL } from 'node:url';
import { DEFAULT_RETRYABLE_CODES } from '@orchestr8/common';
import { type AttemptContext, createResilience, type ResilienceOptions } from '@orchestr8/resilience';
import { Bench } from 'tinybench';

const BATCH = 100;

export interface ResilienceBenchRow {
  name: string;
  medianNs: number;
}

export async function runResilienceBench(opts: { timeMs?: number } = {}): Promise<ResilienceBenchRow[]> {
  const resilience = createResilience();
  const retry = {
    maxAttempts: 3,
    baseDelayMs: 100,
    maxDelayMs: 10_000,
    multiplier: 2,
    jitter: 'full',
    retryOn: DEFAULT_RETRYABLE_CODES,
  } as const;
  const circuitBreaker = { key: 'bench|dependency', failureThreshold: 5, resetTimeoutMs: 60_000 };
  const outer = new AbortController().signal;
  const all = { retry, timeoutMs: 30_000, circuitBreaker };
  const value = { ok: true };
  const fn = async (_ctx: AttemptContext) => value;
  const readsSignal = async (ctx: AttemptContext) => (ctx.signal.aborted ? undefined : value);
  const cases: [string, ResilienceOptions, (ctx: AttemptContext) => Promise<unknown>][] = [
    ['no policies', {}, fn],
    ['retry only', { retry }, fn],
    ['retry + timeout', { retry, timeoutMs: 30_000 }, fn],
    ['retry + circuitBreaker + timeout', all, fn],
    // What the engine does: an execution signal, and (below) an attempt that reads ctx.signal,
    // which under a timeout creates an AbortSignal (~2 us in Node 20).
    ['all three + outer signal', { ...all, signal: outer }, fn],
    ['all three + outer signal, attempt reads ctx.signal', { ...all, signal: outer }, readsSignal],
  ];
  const bench = new Bench({ time: opts.timeMs ?? 1000, warmupTime: 200 });
  bench.add('direct call (baseline)', async () => {
    const ctx = { attempt: 1, signal: outer };
    for (let i = 0; i < BATCH; i++) await fn(ctx);
  });
  for (const [name, options, attempt] of cases) {
    bench.add(name, async () => {
      for (let i = 0; i < BATCH; i++) await resilience.execute(attempt, options);
    });
  }
  await bench.run();
  return bench.tasks.map((task) => {
    const r = task.result;
    const p50 = r.state === 'completed' || r.state === 'aborted-with-statistics' ? r.latency.p50 : Number.NaN;
    return { name: task.name, medianNs: Math.round(((p50 ?? Number.NaN) * 1e6) / BATCH) };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await runResilienceBench());
}
