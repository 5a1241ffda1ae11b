/**
 * Waits at scale in a real `orchestr8 serve` (the built CLI, `pnpm build` first) on a SQLite
 * file: N executions parked on a wait, the peak RSS of serve (VmHWM), the time one event takes
 * to wake all N, and the latency from `POST /events` to the woken step running again (its
 * `step.woken` journal entry), for correlated events sent one at a time while N wait.
 * The store is read directly (read-only) to count statuses and read journal times.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'libsql';
import { startServe } from '../../server/bench/serve-process.js';

export interface WaitsBenchOptions {
  /** Executions waiting at once. Default 10,000. */
  executions?: number;
  /** Correlated events sent one at a time for the latency figure. Default 300. */
  samples?: number;
  /**
   * How long to let serve settle (its idle heap trim) before the settled figures. Default
   * 40 s with 5,000 executions or more, else 0 (the --quick run).
   */
  settleMs?: number;
}

const BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

/** `orchestr8 serve` (the built CLI, as a user runs it) on `store`, without the rate limit. */
const serve = (store: string) => startServe(['--rate-limit', '0', '--store', store], { built: true });

/** Peak and current resident set of a process, in MB (Linux /proc). */
function memoryOf(pid: number): { peakMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { peakMb: Math.round(kb('VmHWM') / 1024), rssMb: Math.round(kb('VmRSS') / 1024) };
}

async function inPool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) out[i] = await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
  return out;
}

async function call(url: string, method: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Four of serve's idle heap looks (10 s apart): V8 unmaps freed pages some seconds after a trim. */
const SETTLE_MS = 40_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function counter(path: string) {
  const db = new Database(path, { readonly: true });
  db.exec('PRAGMA busy_timeout = 5000');
  const count = db.prepare('SELECT count(*) AS n FROM executions WHERE workflow_id = ? AND status = ?');
  const woken = db.prepare(
    "SELECT ts FROM journal WHERE execution_id = ? AND type = 'step.woken' ORDER BY seq LIMIT 1",
  );
  return {
    count: (workflowId: string, status: string) =>
      Number((count.get([workflowId, status]) as { n: number }).n),
    wokenAt: (executionId: string) => (woken.get([executionId]) as { ts: number } | undefined)?.ts,
    close: () => db.close(),
  };
}

async function until(what: string, fn: () => boolean, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Starts `n` executions of a registered workflow, 32 requests at a time. */
async function startMany(url: string, workflowId: string, n: number, inputs: (i: number) => unknown) {
  return inPool(n, 32, async (i) => {
    const r = await call(`${url}/workflows/execute`, 'POST', { workflowId, inputs: inputs(i) });
    return r.executionId as string;
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
};

export async function runWaitsBench(o: WaitsBenchOptions = {}): Promise<Record<string, unknown>[]> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm build)`);
  const n = o.executions ?? 10_000;
  const samples = Math.min(o.samples ?? 300, n);
  const settleMs = o.settleMs ?? (n >= 5000 ? SETTLE_MS : 0);
  const dir = mkdtempSync(join(tmpdir(), 'o8-bench-waits-'));
  const rows: Record<string, unknown>[] = [];
  const load = () => loadavg()[0]!.toFixed(1);
  try {
    // 1. One event wakes every waiting execution (no correlation: each wait takes it).
    {
      const path = join(dir, 'all.db');
      const s = await serve(`sqlite:${path}`);
      const db = counter(path);
      try {
        await call(`${s.url}/workflows/bench-wake-all`, 'PUT', {
          version: '1.0.0',
          metadata: { id: 'bench-wake-all' },
          steps: [
            { id: 'go', wait: { event: { name: 'go' } } },
            { id: 'after', agent: '@orchestr8/echo', dependencies: ['go'], input: { ok: true } },
          ],
        });
        await sleep(500);
        const idle = memoryOf(s.child.pid!);
        // serve trims its heap after an idle look (every 10 s): the steady figures come after it.
        await sleep(settleMs);
        const idleSettled = memoryOf(s.child.pid!);
        const t0 = performance.now();
        await startMany(s.url, 'bench-wake-all', n, () => ({}));
        await until(`${n} waiting`, () => db.count('bench-wake-all', 'waiting') === n);
        const parkSec = (performance.now() - t0) / 1000;
        const parked = memoryOf(s.child.pid!);
        await sleep(settleMs);
        const parkedSettled = memoryOf(s.child.pid!);
        const t1 = performance.now();
        const d = await call(`${s.url}/events`, 'POST', { name: 'go', id: 'go-1' });
        const answeredMs = performance.now() - t1;
        await until(`${n} completed`, () => db.count('bench-wake-all', 'completed') === n);
        const allDoneMs = performance.now() - t1;
        const after = memoryOf(s.child.pid!);
        rows.push({
          scenario: `${n} waiting, one event wakes all`,
          'start+park s': parkSec.toFixed(1),
          'woken by the event': d.woken,
          'POST /events answered s': (answeredMs / 1000).toFixed(2),
          'all completed s': (allDoneMs / 1000).toFixed(2),
          'serve RSS idle MB': idle.rssMb,
          'serve RSS while waiting MB': parked.rssMb,
          'serve RSS settled idle MB': idleSettled.rssMb,
          'serve RSS settled while waiting MB': parkedSettled.rssMb,
          'settled cost of the waiting MB': parkedSettled.rssMb - idleSettled.rssMb,
          'serve peak RSS starting them MB': parked.peakMb,
          'serve peak RSS MB': after.peakMb,
          load: load(),
        });
      } finally {
        db.close();
        await s.stop();
      }
    }
    // 2. Correlated events, one at a time, while n executions wait (each its own order id).
    {
      const path = join(dir, 'keyed.db');
      const s = await serve(`sqlite:${path}`);
      const db = counter(path);
      try {
        await call(`${s.url}/workflows/bench-orders`, 'PUT', {
          version: '1.0.0',
          metadata: { id: 'bench-orders' },
          inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
          steps: [
            {
              id: 'paid',
              wait: { event: { name: 'paid', match: 'event.payload.orderId == inputs.orderId' } },
            },
            { id: 'after', agent: '@orchestr8/echo', dependencies: ['paid'], input: { ok: true } },
          ],
        });
        const ids = await startMany(s.url, 'bench-orders', n, (i) => ({ orderId: `o${i}` }));
        await until(`${n} waiting`, () => db.count('bench-orders', 'waiting') === n);
        const parked = memoryOf(s.child.pid!);
        const latencies: number[] = [];
        const answers: number[] = [];
        // Spread over the range; one at a time, so each is measured alone.
        const step = Math.max(1, Math.floor(n / samples));
        for (let k = 0; k < samples; k++) {
          const i = (k * step) % n;
          const sent = Date.now();
          const t = performance.now();
          const d = await call(`${s.url}/events`, 'POST', {
            name: 'paid',
            id: `pay-${i}`,
            payload: { orderId: `o${i}` },
          });
          answers.push(performance.now() - t);
          if (d.woken !== 1) throw new Error(`event for o${i} woke ${String(d.woken)}`);
          let at: number | undefined;
          await until(`o${i} woken`, () => {
            at = db.wokenAt(ids[i]!);
            return at !== undefined;
          });
          latencies.push(at! - sent);
        }
        rows.push({
          scenario: `${n} waiting, ${samples} correlated events one at a time`,
          'POST /events median ms': median(answers).toFixed(1),
          'event to woken step median ms': median(latencies),
          'p95 ms': pct(latencies, 95),
          'serve RSS while waiting MB': parked.rssMb,
          'serve peak RSS MB': memoryOf(s.child.pid!).peakMb,
          load: load(),
        });
      } finally {
        db.close();
        await s.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
