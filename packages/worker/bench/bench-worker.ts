/**
 * A worker process for the distributed benchmark: a no-op agent (`@bench/noop`) that
 * records, per step, when it started and finished (wall clock, sub-millisecond) in
 * $ORCHESTR8_BENCH_TIMES, for the dependency-to-start latency. Prints READY when
 * registered; SIGTERM stops it.
 */
import { appendFileSync } from 'node:fs';
import type { Agent, AgentRegistry } from '@orchestr8/core';
import { openPostgresStore } from '@orchestr8/store-postgres';
import { startWorker } from '@orchestr8/worker';

const times = process.env.ORCHESTR8_BENCH_TIMES!;
const now = () => performance.timeOrigin + performance.now();
let buffer: string[] = [];
const flush = () => {
  if (buffer.length === 0) return;
  appendFileSync(times, buffer.join(''));
  buffer = [];
};
setInterval(flush, 100).unref();

/** Returns its input; with `ms` in it, after waiting that long (an agent waiting on I/O). */
const noop: Agent = {
  id: '@bench/noop',
  execute(input: { ms?: number }, ctx) {
    const t = now();
    buffer.push(`${ctx.executionId} ${ctx.stepId} ${t.toFixed(3)}\n`);
    if (input?.ms) return new Promise((r) => setTimeout(() => r(input), input.ms));
    return input;
  },
};
const registry: AgentRegistry = {
  get: (id) => (id === noop.id ? noop : undefined),
  has: (id) => id === noop.id,
  list: () => [noop],
};

const store = await openPostgresStore({ url: process.env.ORCHESTR8_STORE!, poolSize: 8 });
const worker = await startWorker({
  store,
  registry,
  concurrency: Number(process.env.WORKER_CONCURRENCY ?? 16),
  logger: {
    debug() {},
    info() {},
    warn() {},
    error: (m, d) => process.stderr.write(`${m} ${JSON.stringify(d ?? {})}\n`),
  },
});
process.stdout.write(`READY ${worker.id}\n`);
process.once('SIGTERM', async () => {
  await worker.stop({ graceMs: 1000 });
  if (process.env.ORCHESTR8_BENCH_STATS) process.stderr.write(`stats ${JSON.stringify(worker.stats())}\n`);
  flush();
  await store.close();
  process.exit(0);
});
