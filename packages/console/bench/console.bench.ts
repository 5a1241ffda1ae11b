/**
 * The console's benchmarks, against the built CLI's `orchestr8 serve` on SQLite:
 * - a 1,000-step execution in headless Chromium: time to first render of its page (graph
 *   drawn, statuses applied) and time from a step finishing on the server to its node changing
 *   colour in the page (the live update);
 * - 100 consoles (clients of `GET /events`) on one server while 100 executions run: the
 *   server's CPU time, peak memory and wall time, against the same load with no clients.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { type ServeProcess, startServe } from '../../server/bench/serve-process.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/fixtures/browser.js';

const here = dirname(fileURLToPath(import.meta.url));
const AGENTS = join(here, '../test/fixtures/agents.mjs');

function serve(dir: string): Promise<ServeProcess> {
  return startServe(
    [
      '--store',
      `sqlite:${join(dir, 'o8.db')}`,
      '--agents',
      AGENTS,
      '--log-level',
      'error',
      '--rate-limit',
      '0',
    ],
    { built: true, cwd: dir },
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function post(url: string, body: unknown): Promise<{ executionId: string }> {
  const res = await fetch(`${url}/workflows/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`execute: ${res.status} ${await res.text()}`);
  return (await res.json()) as { executionId: string };
}

async function waitFor(fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** 1,000 steps: a tree (each step depends on one of the previous third), the last one held by a latch. */
function bigWorkflow(latchFile: string, n = 1000) {
  const steps: Record<string, unknown>[] = [];
  for (let i = 0; i < n - 1; i++)
    steps.push({
      id: `s${i}`,
      agent: '@console/echo',
      input: { i },
      ...(i === 0 ? {} : { dependencies: [`s${Math.floor((i - 1) / 3)}`] }),
    });
  steps.push({ id: 'hold', agent: '@console/latch', dependencies: ['s0'], input: { file: latchFile } });
  return { version: '1.0.0', metadata: { id: 'bench-1000' }, steps };
}

export async function runConsoleBench(options: { quick?: boolean } = {}): Promise<Record<string, unknown>[]> {
  if (!existsSync(join(here, '../../cli/dist/bin.js')) || !existsSync(join(here, '../dist/app/index.html')))
    throw new Error('build first: pnpm turbo run build');
  const rows: Record<string, unknown>[] = [];
  // The layout alone (dagre, in this process): what the page computes once per definition.
  const { layoutGraph, stepsOfDocument } = await import('../app/lib/graph.js');
  const layoutMs: number[] = [];
  const steps = stepsOfDocument(bigWorkflow('x'));
  for (let i = 0; i < (options.quick ? 3 : 7); i++) {
    const t = performance.now();
    layoutGraph(steps);
    layoutMs.push(performance.now() - t);
  }
  rows.push({
    case: '1,000-step graph: layered layout (dagre, Node.js)',
    median_ms: median(layoutMs),
    runs: layoutMs.length,
  });
  const dir = mkdtempSync(join(tmpdir(), 'o8-console-bench-'));
  const server = await serve(dir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const runs = options.quick ? 2 : 5;
    const firstRender: number[] = [];
    const liveUpdate: number[] = [];
    for (let r = 0; r < runs; r++) {
      const latch = join(dir, `latch-${r}`);
      const { executionId } = await post(server.url, { workflow: bigWorkflow(latch) });
      // Every step but the held one done: the page then shows 999 completed and one running.
      await waitFor(async () => {
        const e = (await (await fetch(`${server.url}/executions/${executionId}`)).json()) as {
          steps: Record<string, { status: string }>;
        };
        return Object.values(e.steps).filter((s) => s.status === 'completed').length >= 999;
      }, 120_000);
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const t0 = Date.now();
      await page.goto(`${server.url}/console/executions/${executionId}`);
      // Attached, not "visible": zoomed out to fit 1,000 steps, a node is a few pixels wide.
      await page.waitForSelector('[data-step="hold"][data-status="running"]', {
        state: 'attached',
        timeout: 60_000,
      });
      firstRender.push(Date.now() - t0);
      const t1 = Date.now();
      writeFileSync(latch, 'go');
      await page.waitForSelector('[data-step="hold"][data-status="completed"]', {
        state: 'attached',
        timeout: 20_000,
      });
      liveUpdate.push(Date.now() - t1);
      await page.close();
    }
    rows.push({
      case: '1,000-step execution: first render (page load to graph with statuses)',
      median_ms: median(firstRender),
      runs,
    });
    rows.push({
      case: '1,000-step execution: live update (step done to node recoloured)',
      median_ms: median(liveUpdate),
      runs,
    });
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const clients of [0, 100]) rows.push(await sseLoad(clients, options.quick ? 50 : 100));
  return rows;
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
function usage(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / 100, rssMb: Number(rss?.[1] ?? 0) / 1024 };
}

async function sseLoad(clients: number, executions: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'o8-console-sse-'));
  const server = await serve(dir);
  const pid = server.child.pid!;
  const controllers: AbortController[] = [];
  let delivered = 0;
  try {
    const streams = Array.from({ length: clients }, async () => {
      const c = new AbortController();
      controllers.push(c);
      const res = await fetch(`${server.url}/events`, {
        signal: c.signal,
        headers: { accept: 'text/event-stream' },
      });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          delivered += (dec.decode(value).match(/\nevent: /g) ?? []).length;
        }
      } catch {
        // aborted at the end
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const before = usage(pid);
    let peak = before.rssMb;
    const sampler = setInterval(() => {
      peak = Math.max(peak, usage(pid).rssMb);
    }, 100);
    const t0 = Date.now();
    const doc = {
      version: '1.0.0',
      metadata: { id: 'bench-sse' },
      steps: Array.from({ length: 10 }, (_, i) => ({
        id: `s${i}`,
        agent: '@console/slow',
        input: { ms: 20 },
        ...(i > 0 ? { dependencies: [`s${i - 1}`] } : {}),
      })),
    };
    const ids = await Promise.all(
      Array.from({ length: executions }, () => post(server.url, { workflow: doc })),
    );
    for (const { executionId } of ids)
      await waitFor(async () => {
        const e = (await (await fetch(`${server.url}/executions/${executionId}`)).json()) as {
          status: string;
        };
        return e.status === 'completed';
      }, 300_000);
    const wallMs = Date.now() - t0;
    clearInterval(sampler);
    const after = usage(pid);
    for (const c of controllers) c.abort();
    await Promise.allSettled(streams);
    return {
      case: `${executions} executions × 10 steps, ${clients} SSE clients on GET /events`,
      wall_ms: wallMs,
      server_cpu_s: after.cpuS - before.cpuS,
      server_rss_peak_mb: Math.round(peak),
      events_per_client: clients > 0 ? Math.round(delivered / clients) : 0,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.table(await runConsoleBench({ quick: process.argv.includes('--quick') }));
}
