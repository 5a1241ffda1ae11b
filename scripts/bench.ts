/**
 * `pnpm bench`: every benchmark, printed as tables. Figures are medians (tinybench p50).
 * `pnpm bench [--quick] [--only=engine,schema,transform,...]` builds the packages, then runs
 * `node --expose-gc --import tsx scripts/bench.ts`: tsx loads the bench files, and the packages
 * load from their builds (dist), the code users run. Add `--conditions=source` to that node
 * command to measure the sources instead (children inherit it, see core/bench/in-child.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineBench } from '../packages/core/bench/engine.bench.js';
import { runWideFanRss, wideFanRssLine } from '../packages/core/bench/wide-fan-rss.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice(7).split(',')) : undefined;
const want = (name: string) => !only || only.has(name);
const timeMs = quick ? 500 : 2000;

function table(rows: Record<string, unknown>[]): void {
  if (rows.length === 0) return;
  const fmt = (v: unknown) =>
    typeof v === 'number'
      ? Math.abs(v) >= 100
        ? v.toFixed(0)
        : v >= 1
          ? v.toFixed(2)
          : v.toFixed(3)
      : String(v ?? '');
  console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fmt(v)]))));
}

console.log(
  `node ${process.version} · ${process.platform}/${process.arch} · ${(await import('node:os')).cpus().length} cpus`,
);

/** W2 at 10,000: peak RSS, measured once for the engine and engine-long sections. */
let wideFanLine: string | undefined;
const wideFan = async () => {
  wideFanLine ??= wideFanRssLine(await runWideFanRss());
  return wideFanLine;
};

if (want('schema')) {
  const { runSchemaBench } = await import('../packages/schema/bench/load.bench.js');
  console.log('\n## schema: load + validate + compile');
  table((await runSchemaBench()) as unknown as Record<string, unknown>[]);
}

if (want('resilience')) {
  const { runResilienceBench } = await import('../packages/resilience/bench/resilience.bench.js');
  console.log('\n## resilience: overhead per call');
  table((await runResilienceBench()) as unknown as Record<string, unknown>[]);
}

if (want('transform')) {
  const { runTransformBench } = await import('../packages/agents/bench/transform.bench.js');
  console.log('\n## transform: µs per @orchestr8/transform step, in the isolation pool vs in-process');
  table((await runTransformBench({ timeMs })) as unknown as Record<string, unknown>[]);
}

if (want('engine')) {
  console.log(
    '\n## engine, in-memory store, a FRESH engine per measured iteration (journal + events + default policies on; plain = hand-written Promise DAG); see engine-long for one long-lived engine',
  );
  table(
    (await runEngineBench({ storeName: 'memory', timeMs, plain: true })) as unknown as Record<
      string,
      unknown
    >[],
  );
  console.log(await wideFan());
}

if (want('engine-long')) {
  const { runLongLivedBench, runAccumulationBench } = await import(
    '../packages/core/bench/long-lived.bench.js'
  );
  console.log(
    "\n## engine-long: ONE long-lived engine (createEngine once, defaults, memory store, a subscriber), many executions; async.auto and a raw Promise DAG in the same run, each library in processes of its own, alternated; ratios are medians of the rounds' ratios",
  );
  console.log(
    `load: ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  table(
    (await runLongLivedBench({
      timeMs,
      runs: quick ? 500 : 2000,
      rounds: quick ? 2 : 3,
    })) as unknown as Record<string, unknown>[],
  );
  console.log(await wideFan());
  const { runMapChurnBench } = await import('../packages/core/bench/map-churn.js');
  const churn = await runMapChurnBench(100, 100_000, quick ? 1 : 3);
  console.log(
    `Map churn, 100 live ~2.5 KB objects, bytes per step surviving a young collection (fresh processes): plain Map ${churn.Map.toFixed(0)}, LiveMap ${churn.LiveMap.toFixed(0)} (why the engine keeps running executions in a LiveMap)`,
  );
  const acc = await runAccumulationBench(
    quick ? { accumulate: 20_000, block: 2_000 } : { accumulate: 100_000, block: 10_000 },
  );
  console.log(
    `W3 accumulation, ${acc.executions.toLocaleString('en')} sequential executions on one engine: first ${acc.block.toLocaleString('en')} ${acc.firstMs.toFixed(0)} ms, last ${acc.block.toLocaleString('en')} ${acc.lastMs.toFixed(0)} ms, last/first ${acc.ratio.toFixed(2)} (target <= 1.10); CPU time ${acc.firstCpuMs.toFixed(0)} ms vs ${acc.lastCpuMs.toFixed(0)} ms, last/first ${acc.cpuRatio.toFixed(2)}`,
  );
}

if (want('tracing')) {
  const { runTracingOverheadBench } = await import('../packages/observability/bench/tracing.bench.js');
  console.log('\n## tracing and observers: W3 diamond, sequential (no SDK vs SDK + in-memory exporter)');
  table((await runTracingOverheadBench({ timeMs })) as unknown as Record<string, unknown>[]);
}

if (want('http')) {
  const { runHttpBench } = await import('../packages/server/bench/http.bench.js');
  console.log(
    '\n## HTTP: POST /workflows/execute with Prefer: wait, 1-step workflow, SQLite, 50 connections; vsBare = rate / a bare express+SQLite handler in the same run (target >= 0.9)',
  );
  table(
    (await runHttpBench(quick ? { durationSec: 2, rounds: 3 } : {})) as unknown as Record<string, unknown>[],
  );
}

if (want('sqlite-long')) {
  const { runLongLivedSqliteBench } = await import('../packages/store-sqlite/bench/long-lived.bench.js');
  const { loadavg } = await import('node:os');
  console.log(
    `\n## SQLite, durable: one long-lived engine (a file, default options, an event subscriber) beside raw SQLite writes of the same rows and async.auto; load ${loadavg()[0]!.toFixed(2)}`,
  );
  table((await runLongLivedSqliteBench({ quick })) as unknown as Record<string, unknown>[]);
}

if (want('sqlite')) {
  const { openSqliteStore } = await import('../packages/store-sqlite/bench/store.bench.js');
  const dir = mkdtempSync(join(tmpdir(), 'o8-bench-'));
  let n = 0;
  try {
    console.log('\n## engine, SQLite store (a file on disk, WAL, synchronous=NORMAL)');
    const rows = await runEngineBench({
      storeName: 'sqlite',
      timeMs,
      openStore: () => openSqliteStore({ path: join(dir, `bench-${n++}.db`) }),
    });
    table(rows as unknown as Record<string, unknown>[]);
    const { runStoreBench } = await import('../packages/store-sqlite/bench/store.bench.js');
    console.log('\n## SQLite store write batches');
    table((await runStoreBench()) as unknown as Record<string, unknown>[]);
    const { runListBench } = await import('../packages/store-sqlite/bench/list.bench.js');
    console.log(
      '\n## SQLite store: listing executions as the console does (100,000 in the store, pages of 50)',
    );
    table(
      (await runListBench({ executions: quick ? 20_000 : 100_000 })) as unknown as Record<string, unknown>[],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (want('postgres')) {
  const { runDistributedBench, distributedSummary } = await import(
    '../packages/worker/bench/distributed.bench.js'
  );
  console.log(
    '\n## distributed on PostgreSQL (durable), worker processes vs the in-process engine on SQLite',
  );
  const rows = await runDistributedBench(
    quick ? { w3Runs: 1_000, ioRuns: 100, w3Sequential: 20, fanWidth: 300 } : {},
  );
  table(rows as unknown as Record<string, unknown>[]);
  for (const line of distributedSummary(rows)) console.log(line);
}

if (want('postgres') || want('waits-postgres')) {
  const { runWaitsBench } = await import('../packages/worker/bench/waits.bench.js');
  console.log(
    '\n## waits on PostgreSQL (durable): correlated events waking executions on 2 worker processes',
  );
  table(
    (await runWaitsBench(quick ? { executions: 200, sequential: 50 } : {})) as unknown as Record<
      string,
      unknown
    >[],
  );
}

if (want('waits')) {
  const { runWaitsBench } = await import('../packages/store-sqlite/bench/waits.bench.js');
  const executions = quick ? 2000 : 10_000;
  console.log(
    `\n## waits on SQLite: ${executions} executions waiting in a real orchestr8 serve (built CLI), one event waking all, correlated events one at a time`,
  );
  table((await runWaitsBench({ executions })) as unknown as Record<string, unknown>[]);
}

if (want('triggers')) {
  const { runTriggersBench } = await import('../packages/triggers/bench/triggers.bench.js');
  console.log(
    '\n## triggers through orchestr8 serve on SQLite: POST /events to an event trigger (1-step workflow, 50 connections); 1,000 schedules due at one second',
  );
  table((await runTriggersBench(quick ? { durationSec: 3 } : {})) as unknown as Record<string, unknown>[]);
}

if (want('console')) {
  const { runConsoleBench } = await import('../packages/console/bench/console.bench.js');
  console.log(
    '\n## console: a 1,000-step execution in headless Chromium; 100 SSE clients while executions run (built CLI, SQLite)',
  );
  table((await runConsoleBench({ quick })) as unknown as Record<string, unknown>[]);
}

if (want('mcp')) {
  const { runMcpBench } = await import('../packages/mcp/bench/mcp.bench.js');
  console.log(
    '\n## MCP: tools/call of a 1-step workflow over streamable HTTP vs POST /workflows/execute (Prefer: wait), same server, SQLite, 10 clients',
  );
  table((await runMcpBench(quick ? { durationSec: 2 } : {})) as unknown as Record<string, unknown>[]);
}

if (want('streams')) {
  const { runStreamsBench } = await import('../packages/streams/bench/streams.bench.js');
  console.log(
    '\n## streams: 100 ms slices, 3 crews of 2 no-op steps; events/s through a backlog (file, memory, NATS JetStream) and arrival→actions at a steady rate',
  );
  table((await runStreamsBench({ quick })) as unknown as Record<string, unknown>[]);
}
