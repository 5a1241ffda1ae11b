/**
 * HTTP API throughput: `POST /workflows/execute` with `Prefer: wait` on a 1-step workflow,
 * SQLite store, 50 connections, measured with autocannon. The server runs in a child
 * process (its own event loop, as in production); the load generator runs here. Two
 * servers: `createServer` with its defaults (http-server.ts), and `orchestr8 serve` itself
 * (every surface it wires in: triggers, streams, MCP, the console, the request log).
 *
 * The baseline, in the same run: a bare express handler writing the same rows to SQLite in
 * one transaction (baseline-server.ts), measured in rounds alternating with the first
 * scenario so both see the same machine. Each scenario's `vsBare` is its rate over the
 * baseline's (the first: the median of the rounds' ratios; target at least 0.9), `cpuVsBare`
 * the baseline's server CPU per request over its own, which other load disturbs less.
 * The Idempotency-Key row runs in the same rounds beside a control that builds a header per
 * request the same way, so `cpuVsControl` is the key's own cost.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cannon, type LoadOptions, type LoadRequest, type Measured, measure, median } from './load.js';
import { type BenchServer, childExecArgv, startServe } from './serve-process.js';

export interface HttpBenchOptions {
  /** Seconds per measured run. Default 4. */
  durationSec?: number;
  /**
   * Alternating rounds of the baseline, `execute by workflowId`, the same on `orchestr8 serve`, and
   * with an Idempotency-Key beside a control taking the same client path. Default 5.
   */
  rounds?: number;
  connections?: number;
}

const ONE_STEP = {
  version: '1.0.0',
  metadata: { id: 'bench-one-step' },
  steps: [{ id: 'echo', agent: '@orchestr8/echo', input: { n: 1 } }],
};

function startServer(dbPath: string, script = './http-server.ts'): Promise<BenchServer> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [dbPath], {
    execArgv: childExecArgv(),
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

export async function runHttpBench(options: HttpBenchOptions = {}): Promise<Record<string, unknown>[]> {
  const duration = options.durationSec ?? 4;
  const rounds = options.rounds ?? 5;
  const connections = options.connections ?? 50;
  const dir = mkdtempSync(join(tmpdir(), 'o8-http-bench-'));
  const rows: Record<string, unknown>[] = [];
  const headers = { 'content-type': 'application/json', prefer: 'wait=5' };
  const byId = JSON.stringify({ workflowId: ONE_STEP.metadata.id });
  const load = (url: string, body: string, seconds: number): LoadOptions => ({
    url: `${url}/workflows/execute`,
    method: 'POST',
    headers,
    body,
    connections,
    duration: seconds,
  });
  const row = (scenario: string, m: Measured[], bare: { rate: number; cpu: number }) => {
    const rate = median(m.map((x) => x.perSec));
    const cpu = median(m.map((x) => x.serverCpuUsPer));
    const last = m[m.length - 1]!.result;
    return {
      scenario,
      connections,
      execPerSec: rate,
      vsBare: rate / bare.rate,
      // Noise-resistant: server CPU per request, against the baseline's.
      serverCpuUsPerExec: cpu,
      cpuVsBare: bare.cpu / cpu,
      p50Ms: last.latency.p50,
      p99Ms: last.latency.p99,
      // Prefer: wait ran out (the execution was still running): counted, never expected here.
      accepted202: m.reduce((n, x) => n + (x.result.statusCodeStats?.['202']?.count ?? 0), 0),
      non2xx: m.reduce((n, x) => n + x.result.non2xx, 0),
      errors: m.reduce((n, x) => n + x.result.errors, 0),
      // The machine's 1-minute load average after the run: above ~2 on 2 cores, other work competed.
      loadavg: loadavg()[0],
    };
  };

  // Both in their own processes, on their own database files, idle while the other is measured.
  const bare = await startServer(join(dir, 'bare.db'), './baseline-server.ts');
  const server = await startServer(join(dir, 'bench.db'));
  const cli = await startServe(['--store', `sqlite:${join(dir, 'serve.db')}`]);
  try {
    for (const s of [server, cli]) {
      const put = await fetch(`${s.url}/workflows/${ONE_STEP.metadata.id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ONE_STEP),
      });
      if (!put.ok)
        throw new Error(`registering the bench workflow failed: ${put.status} ${await put.text()}`);
    }
    // Warm-up: JIT, caches, SQLite pages.
    for (const s of [bare, server, cli]) await cannon(load(s.url, byId, 2));
    // Rounds alternate the baseline and the servers, so all see the same machine; medians.
    const bareRuns: Measured[] = [];
    const byIdRuns: Measured[] = [];
    const serveRuns: Measured[] = [];
    // Idempotency-Key costs, measured against a control that takes the same client path
    // (headers built per request), so the client's own cost is the same on both sides.
    const controlRuns: Measured[] = [];
    const keyedRuns: Measured[] = [];
    let seq = 0;
    const perRequest = (url: string, header: string): LoadOptions => ({
      ...load(url, byId, duration),
      requests: [
        {
          setupRequest: (req: LoadRequest) => ({
            ...req,
            headers: { ...headers, [header]: `bench-${process.pid}-${seq++}` },
          }),
        },
      ],
    });
    for (let i = 0; i < rounds; i++) {
      bareRuns.push(await measure(bare, load(bare.url, byId, duration)));
      byIdRuns.push(await measure(server, load(server.url, byId, duration)));
      serveRuns.push(await measure(cli, load(cli.url, byId, duration)));
      // Which of the two goes first alternates, so a drift of the machine counts against neither.
      const control = () => measure(server, perRequest(server.url, 'x-bench-request'));
      const keyed = () => measure(server, perRequest(server.url, 'idempotency-key'));
      if (i % 2 === 0) {
        controlRuns.push(await control());
        keyedRuns.push(await keyed());
      } else {
        keyedRuns.push(await keyed());
        controlRuns.push(await control());
      }
    }
    const baseline = {
      rate: median(bareRuns.map((x) => x.perSec)),
      cpu: median(bareRuns.map((x) => x.serverCpuUsPer)),
    };
    rows.push(row('BASELINE: bare express handler, same rows in one SQLite transaction', bareRuns, baseline));
    const scenario = row('execute 1-step by workflowId, Prefer: wait', byIdRuns, baseline);
    // The ratio of each round (run next to each other), whose median is steadier than a ratio of medians.
    scenario.vsBare = median(byIdRuns.map((x, k) => x.perSec / bareRuns[k]!.perSec));
    rows.push(scenario);
    const served = row(
      'orchestr8 serve (the CLI, defaults, --log-level warn): execute 1-step by workflowId, Prefer: wait',
      serveRuns,
      baseline,
    );
    served.vsBare = median(serveRuns.map((x, k) => x.perSec / bareRuns[k]!.perSec));
    rows.push(served);

    const inline = JSON.stringify({ workflow: ONE_STEP });
    rows.push(
      row(
        'execute 1-step inline document, Prefer: wait',
        [await measure(server, load(server.url, inline, duration))],
        baseline,
      ),
    );
    const control = row(
      'CONTROL: execute 1-step by workflowId, Prefer: wait, a header built per request',
      controlRuns,
      baseline,
    );
    control.vsBare = median(controlRuns.map((x, k) => x.perSec / bareRuns[k]!.perSec));
    rows.push(control);
    const keyed = row('execute 1-step by workflowId, Prefer: wait, Idempotency-Key', keyedRuns, baseline);
    keyed.vsBare = median(keyedRuns.map((x, k) => x.perSec / bareRuns[k]!.perSec));
    rows.push({
      ...keyed,
      // Server CPU per request with a key over the control's, round by round (1 = a key costs nothing).
      cpuVsControl: median(keyedRuns.map((x, k) => x.serverCpuUsPer / controlRuns[k]!.serverCpuUsPer)),
    });
  } finally {
    await Promise.all([bare.stop(), server.stop(), cli.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

// `node --import tsx packages/server/bench/http.bench.ts` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  console.table(await runHttpBench(quick ? { durationSec: 2, rounds: 3 } : {}));
}
