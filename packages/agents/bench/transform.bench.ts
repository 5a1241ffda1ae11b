/**
 * Cost of one `@orchestr8/transform` step: evaluated in the isolation pool (a worker process,
 * data and result crossing by structured clone / JSON) against the previous in-process
 * evaluation, which is kept here only for comparison. Each sample runs BATCH steps, one after
 * another or all at once; figures are µs per step (median sample / BATCH, and the median
 * absolute deviation as the noise).
 * Run alone: `node --import tsx packages/agents/bench/transform.bench.ts`.
 */
import { pathToFileURL } from 'node:url';
import { closeIsolation, transformAgent } from '@orchestr8/agents';
import jsonata from 'jsonata';
import { Bench } from 'tinybench';
import { contextFor } from '../test/helpers.js';

const BATCH = 8;

export interface TransformBenchRow {
  name: string;
  medianUs: number;
  madUs: number;
}

const ctx = contextFor({ executionId: 'bench', stepId: 'transform' });

function orders(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    customer: `c${i % 17}`,
    total: (i * 37) % 250,
  }));
}

const WORKLOADS = {
  'small (3 orders, filter + sum)': {
    expression: '{ "ids": orders[total >= $min].id, "revenue": $sum(orders.total) }',
    data: { orders: orders(3) },
    bindings: { min: 40 },
  },
  'report (500 orders, filter + sum + group by)': {
    expression:
      '{ "bigOrders": orders[total >= $min].id, "revenue": $sum(orders.total), "byCustomer": orders{ customer: $sum(total) } }',
    data: { orders: orders(500) },
    bindings: { min: 200 },
  },
};

/** The evaluation as it ran before the pool: compiled per step, on the caller's event loop. */
async function inProcess(input: { expression: string; data: unknown; bindings: Record<string, unknown> }) {
  const expr = jsonata(input.expression, { timeout: 1000, stack: 300 } as never);
  expr.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, () => {
    if (ctx.signal.aborted) throw new Error('aborted');
  });
  const value = await expr.evaluate(input.data, input.bindings);
  return { result: JSON.parse(JSON.stringify(value ?? null)) as unknown };
}

/** In-process with the pool's compile cache: what is left of the difference is the crossing. */
const compiled = new Map<string, jsonata.Expression>();
async function inProcessCompiledOnce(input: {
  expression: string;
  data: unknown;
  bindings: Record<string, unknown>;
}) {
  let expr = compiled.get(input.expression);
  if (!expr) {
    expr = jsonata(input.expression);
    compiled.set(input.expression, expr);
  }
  const value = await expr.evaluate(input.data, input.bindings);
  return { result: JSON.parse(JSON.stringify(value ?? null)) as unknown };
}

const inPool = (input: { expression: string; data: unknown; bindings: Record<string, unknown> }) =>
  transformAgent.execute(input, ctx);

export async function runTransformBench(opts: { timeMs?: number } = {}): Promise<TransformBenchRow[]> {
  const bench = new Bench({ time: opts.timeMs ?? 2000, warmupTime: 500 });
  for (const [label, input] of Object.entries(WORKLOADS)) {
    const ways = [
      ['in-process (before)', inProcess],
      ['in-process, compiled once', inProcessCompiledOnce],
      ['isolation pool', inPool],
    ] as const;
    for (const [way, fn] of ways) {
      bench.add(`${label} · ${way} · sequential`, async () => {
        for (let i = 0; i < BATCH; i++) await fn(input);
      });
      bench.add(`${label} · ${way} · ${BATCH} at once`, async () => {
        await Promise.all(Array.from({ length: BATCH }, () => fn(input)));
      });
    }
  }
  // Start the workers before measuring (the first step of a process pays ~0.1-0.4 s for it).
  await Promise.all(Array.from({ length: 4 }, () => inPool(WORKLOADS['small (3 orders, filter + sum)'])));
  try {
    await bench.run();
  } finally {
    await closeIsolation();
  }
  return bench.tasks.map((task) => {
    const r = task.result;
    const done = r.state === 'completed' || r.state === 'aborted-with-statistics';
    return {
      name: task.name,
      medianUs: done ? Math.round(((r.latency.p50 ?? Number.NaN) * 1000) / BATCH) : Number.NaN,
      madUs: done ? Math.round((r.latency.mad * 1000) / BATCH) : Number.NaN,
    };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await runTransformBench());
}
