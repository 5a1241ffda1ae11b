/**
 * HTTP API throughput: `POST /workflows/execute` with `Prefer: wait` on a 1-step workflow,
 * SQLite store, 50 connections, measured with autocannon. The server runs in a child
 * process (its own event loop, as in production); the load generator runs here.
 *
 * The baseline, in the same run: a bare express handler writing the same rows to SQLite in
 * one transaction (baseline-server.ts). Each scenario's `vsBare` is its rate over the
 * baseline's (target: at least 0.9 for the first), `cpuVsBare` the same from server CPU per
 * request, which other load on the machine disturbs less.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export interface HttpBenchOptions {
  /** Seconds per scenario. Default 10. */
  durationSec?: number;
  connections?: number;
}

const ONE_STEP = {
  version: '1.0.0',
  metadata: { id: 'bench-one-step' },
  steps: [{ id: 'echo', agent: '@orchestr8/echo', input: { n: 1 } }],
};

interface BenchServer {
  url: string;
  /** CPU time (user + system) the server process has used so far, in µs. */
  cpuUs: () => Promise<number>;
  stop: () => Promise<void>;
}

function startServer(dbPath: string, script = './http-server.ts'): Promise<BenchServer> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [dbPath], {
    execArgv: [
      '--conditions=source',
      '--import',
      'tsx',
      ...(process.env.ORCHESTR8_BENCH_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ORCHESTR8_BENCH_PROF}`]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    child.once('message', (m) => {
      const url = (m as { url: string }).url;
      resolve({
        url,
        cpuUs: () =>
          new Promise<number>((r) => {
            child.once('message', (c) => r((c as { cpuUs: number }).cpuUs));
            child.send('cpu');
          }),
        stop: () =>
          new Promise<void>((r) => {
            child.removeAllListeners('exit');
            child.once('exit', () => r());
            child.send('stop');
          }),
      });
    });
  });
}

function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

interface Measured {
  execPerSec: number;
  serverCpuUsPerExec: number;
  result: autocannon.Result;
}

async function measure(server: BenchServer, opts: autocannon.Options): Promise<Measured> {
  const cpuBefore = await server.cpuUs();
  const result = await cannon(opts);
  const cpuUs = (await server.cpuUs()) - cpuBefore;
  return {
    execPerSec: result.requests.average,
    serverCpuUsPerExec: cpuUs / Math.max(1, result['2xx']),
    result,
  };
}

export async function runHttpBench(options: HttpBenchOptions = {}): Promise<Record<string, unknown>[]> {
  const duration = options.durationSec ?? 10;
  const connections = options.connections ?? 50;
  const dir = mkdtempSync(join(tmpdir(), 'o8-http-bench-'));
  const rows: Record<string, unknown>[] = [];
  const headers = { 'content-type': 'application/json', prefer: 'wait=5' };
  const byId = JSON.stringify({ workflowId: ONE_STEP.metadata.id });
  const load = (url: string, body: string, seconds: number): autocannon.Options => ({
    url: `${url}/workflows/execute`,
    method: 'POST',
    headers,
    body,
    connections,
    duration: seconds,
  });

  // The baseline first, in its own process, on its own database file.
  const bare = await startServer(join(dir, 'bare.db'), './baseline-server.ts');
  let baseline: Measured;
  try {
    await cannon(load(bare.url, byId, 2));
    baseline = await measure(bare, load(bare.url, byId, duration));
  } finally {
    await bare.stop();
  }
  rows.push({
    scenario: 'BASELINE: bare express handler, same rows in one SQLite transaction',
    connections,
    execPerSec: baseline.execPerSec,
    vsBare: 1,
    serverCpuUsPerExec: baseline.serverCpuUsPerExec,
    cpuVsBare: 1,
    p50Ms: baseline.result.latency.p50,
    p99Ms: baseline.result.latency.p99,
    non2xx: baseline.result.non2xx,
    errors: baseline.result.errors,
    loadavg: loadavg()[0],
  });

  const server = await startServer(join(dir, 'bench.db'));
  try {
    const put = await fetch(`${server.url}/workflows/${ONE_STEP.metadata.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ONE_STEP),
    });
    if (!put.ok) throw new Error(`registering the bench workflow failed: ${put.status} ${await put.text()}`);
    let seq = 0;
    const scenarios: { name: string; body: string; key?: boolean }[] = [
      { name: 'execute 1-step by workflowId, Prefer: wait', body: byId },
      { name: 'execute 1-step inline document, Prefer: wait', body: JSON.stringify({ workflow: ONE_STEP }) },
      { name: 'execute 1-step by workflowId, Prefer: wait, Idempotency-Key', body: byId, key: true },
    ];
    // Warm-up: JIT, caches, SQLite pages.
    await cannon(load(server.url, byId, 2));
    for (const s of scenarios) {
      const m = await measure(server, {
        ...load(server.url, s.body, duration),
        ...(s.key
          ? {
              requests: [
                {
                  setupRequest: (req: autocannon.Request) => ({
                    ...req,
                    headers: { ...headers, 'idempotency-key': `bench-${process.pid}-${seq++}` },
                  }),
                },
              ],
            }
          : {}),
      });
      const { result } = m;
      rows.push({
        scenario: s.name,
        connections,
        execPerSec: m.execPerSec,
        vsBare: m.execPerSec / baseline.execPerSec,
        // Noise-resistant: server CPU per request, against the baseline's.
        serverCpuUsPerExec: m.serverCpuUsPerExec,
        cpuVsBare: baseline.serverCpuUsPerExec / m.serverCpuUsPerExec,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        ok200: result.statusCodeStats?.['200']?.count ?? 0,
        // Prefer: wait ran out (the execution was still running): counted, never expected here.
        accepted202: result.statusCodeStats?.['202']?.count ?? 0,
        non2xx: result.non2xx,
        errors: result.errors,
        // The machine's 1-minute load average after the run: above ~2 on 2 cores, other work competed.
        loadavg: loadavg()[0],
      });
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

// `node --conditions=source --import tsx packages/server/bench/http.bench.ts` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  console.table(await runHttpBench(quick ? { durationSec: 3 } : {}));
}
