/**
 * What tracing costs the engine: the W3 10-step diamond (the shape of
 * packages/core/bench/workloads.ts `diamond()`), run sequentially, with no OpenTelemetry SDK
 * (the API's no-op, which the engine skips entirely), with metrics and log observers, and
 * with an SDK registered exporting to memory through a batch processor.
 * Standalone: `node --import tsx packages/observability/bench/tracing.bench.ts`.
 */
import { pathToFileURL } from 'node:url';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { type Agent, type AgentRegistry, createEngine, type Engine } from '@orchestr8/core';
import { createLogger, createLogObserver, createMetrics, startTracing } from '@orchestr8/observability';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { Bench } from 'tinybench';

export interface TracingBenchRow {
  mode: string;
  /** median executions per second */
  execPerSec: number;
  /** relative to the first row (no SDK) */
  ratio: number;
}

export interface TracingBenchOptions {
  /** Measuring time per mode, ms. Default 2000. */
  timeMs?: number;
  /** Executions per measured iteration. Default 500. */
  runs?: number;
  /** Print one line per mode as it finishes. */
  print?: boolean;
}

const NOOP = '@bench/noop';
const noop: Agent = { id: NOOP, execute: (input: unknown) => input };
const registry: AgentRegistry = {
  get: (id) => (id === NOOP ? noop : undefined),
  has: (id) => id === NOOP,
  list: () => [noop],
};

/** W3: a -> b1..b8 -> z, each reading its upstream output. */
function diamond(): CompiledWorkflow {
  const mids = [];
  for (let i = 1; i <= 8; i++)
    mids.push({ id: `b${i}`, agent: NOOP, input: { v: '${steps.a.output.v}' }, dependencies: ['a'] });
  const r = validateWorkflowObject({
    version: '1.0.0',
    metadata: { id: 'w3-diamond', name: 'w3-diamond' },
    policies: { concurrency: { maxConcurrentSteps: 1000 } },
    steps: [
      { id: 'a', agent: NOOP, input: { v: '${inputs.n ?? 1}' } },
      ...mids,
      { id: 'z', agent: NOOP, input: { v: '${steps.b8.output.v}' }, dependencies: mids.map((m) => m.id) },
    ],
  });
  if (!r.ok || !r.workflow) throw new Error(`bench workflow invalid: ${JSON.stringify(r.diagnostics)}`);
  return r.workflow;
}

async function execPerSec(
  label: string,
  engine: Engine,
  wf: CompiledWorkflow,
  runs: number,
  timeMs: number,
  after?: () => void,
): Promise<number> {
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(500, timeMs / 4), iterations: 5 });
  bench.add(label, async () => {
    for (let n = 1; n <= runs; n++) {
      const r = await engine.execute(wf, { inputs: { n } });
      if (r.status !== 'completed') throw new Error(`${label}: ${r.status}`);
    }
    after?.();
  });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${label}: ${r.state} ${'error' in r ? String(r.error) : ''}`);
  return (runs / r.latency.p50) * 1000;
}

export async function runTracingOverheadBench(options: TracingBenchOptions = {}): Promise<TracingBenchRow[]> {
  const timeMs = options.timeMs ?? 2000;
  const runs = options.runs ?? 500;
  const wf = diamond();
  const rows: TracingBenchRow[] = [];
  const add = (mode: string, value: number) => {
    const row = { mode, execPerSec: value, ratio: rows.length === 0 ? 1 : value / rows[0]!.execPerSec };
    rows.push(row);
    if (options.print) {
      console.log(`${mode}: ${value.toFixed(0)} executions/s (${(row.ratio * 100).toFixed(0)}% of no SDK)`);
    }
  };
  const withSubscriber = (engine: Engine) => {
    // One event subscriber, as a live view or an SSE stream would be (as in the engine bench).
    engine.events.subscribe(() => {});
    return engine;
  };

  add(
    `W3 diamond x${runs} sequential, no SDK (API no-op)`,
    await execPerSec('no sdk', withSubscriber(createEngine({ registry })), wf, runs, timeMs),
  );

  const metrics = createMetrics();
  const logger = createLogger({ level: 'warn', format: 'json', destination: { write: () => {} } });
  const observed = withSubscriber(
    createEngine({ registry, observers: [metrics.observer, createLogObserver(logger)] }),
  );
  metrics.collect(observed);
  add(
    `W3 diamond x${runs} sequential, no SDK, metrics + log observers`,
    await execPerSec('observers', observed, wf, runs, timeMs),
  );

  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing({ exporter, env: {} });
  if (!tracing) throw new Error('tracing did not start');
  try {
    let spans = 0;
    const traced = withSubscriber(createEngine({ registry }));
    const value = await execPerSec('sdk', traced, wf, runs, timeMs, () => {
      spans += exporter.getFinishedSpans().length;
      exporter.reset();
    });
    await tracing.forceFlush();
    spans += exporter.getFinishedSpans().length;
    if (spans === 0) throw new Error('the SDK recorded no spans');
    add(`W3 diamond x${runs} sequential, SDK + in-memory exporter (batch)`, value);
  } finally {
    await tracing.shutdown();
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runTracingOverheadBench({ print: false }));
}
