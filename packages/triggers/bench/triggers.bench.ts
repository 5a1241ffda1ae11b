// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * Triggers under load, through `orchestr8 serve` on a SQLite file (the CLI from source, in
 * its own process, as in production):
 * - `POST /events` with 50 connections, each event starting an execution of a 1-step
 *   workflow through an event trigger: events accepted per second and latency percentiles
 *   (a bounded loopback client: keep-alive connections, a fixed duration);
 * - 1,000 workflows whose schedules are all due at the same second: how long after that
 *   second the last execution was created, and was seen by a client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TriggersBenchOptions {
  /** Seconds of the events scenario. Default 10. */
  durationSec?: number;
  connections?: number;
  /** Workflows due at the same second. Default 1000; 0 skips that scenario. */
  schedules?: number;
}

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));

interface Serve {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function serve(store: string): Promise<Serve> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      ...(process.env.ORCHESTR8_BENCH_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ORCHESTR8_BENCH_PROF}`]
        : []),
      BIN,
      'serve',
      '--port',
      '0',
      '--log-level',
      'warn',
      '--rate-limit',
      '0',
      '--store',
      store,
    ],
    { env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
      if (m)
        resolve({
          url: m[1]!,
          child,
          stop: () =>
            new Promise<void>((r) => {
              if (child.exitCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGTERM');
            }),
        });
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
}

async function put(url: string, doc: { metadata: { id: string } }): Promise<void> {
  const r = await fetch(`${url}/workflows/${doc.metadata.id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(doc),
  });
  if (!r.ok) throw new Error(`PUT ${doc.metadata.id}: ${r.status} ${await r.text()}`);
}

/** Waits until `GET /triggers` lists `n` triggers (the scheduler re-reads registrations every 2 s). */
async function activeTriggers(url: string, n: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const items = ((await (await fetch(`${url}/triggers`)).json()) as { items: unknown[] }).items;
    if (items.length >= n) return;
    if (Date.now() > end) throw new Error(`only ${items.length} of ${n} triggers became active`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** CPU time (user + system) a process has used, in ms (Linux /proc; NaN elsewhere). */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** `connections` keep-alive loops, each sending one request after the other for `durationMs`. */
async function load(
  url: string,
  body: (i: number) => string,
  connections: number,
  durationMs: number,
): Promise<{ ok: number; failed: number; latencies: number[]; elapsedMs: number; started: number }> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let started = 0;
  let seq = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const one = (payload: string) =>
    new Promise<void>((resolve) => {
      const t = performance.now();
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - t);
            if (res.statusCode !== undefined && res.statusCode < 300) {
              ok++;
              // Each accepted event says what its triggers did.
              const text = Buffer.concat(chunks).toString('utf8');
              if (text.includes('"status":"started"')) started++;
            } else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(payload);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) await one(body(seq++));
    }),
  );
  const elapsedMs = performance.now() - t0;
  agent.destroy();
  return { ok, failed, latencies: latencies.sort((a, b) => a - b), elapsedMs, started };
}

async function eventsScenario(dir: string, connections: number, durationSec: number) {
  const server = await serve(`sqlite:${join(dir, 'events.db')}`);
  try {
    await put(server.url, {
      version: '1.0.0',
      metadata: { id: 'bench-on-event' },
      steps: [{ id: 'echo', agent: '@orchestr8/echo', input: { n: '${inputs.n}' } }],
      triggers: [{ name: 'on-tick', event: { name: 'bench.tick' } }],
    } as { metadata: { id: string } });
    await activeTriggers(server.url, 1);
    const body = (i: number) => JSON.stringify({ name: 'bench.tick', id: `e-${i}`, data: { n: i } });
    // Warm-up: JIT, caches, SQLite pages.
    await load(`${server.url}/events`, (i) => body(1e9 + i), connections, 2000);
    const cpuBefore = cpuMs(server.child.pid);
    const r = await load(`${server.url}/events`, body, connections, durationSec * 1000);
    const cpu = cpuMs(server.child.pid) - cpuBefore;
    return {
      scenario: `POST /events -> event trigger -> 1-step execution, SQLite, ${connections} connections`,
      eventsPerSec: r.ok / (r.elapsedMs / 1000),
      executionsStarted: r.started,
      // Noise-resistant on a busy machine: the server's CPU per event, and the rate one core gives at that cost.
      serverCpuMsPerEvent: cpu / Math.max(1, r.ok),
      cpuBoundEventsPerSec: (1000 * r.ok) / Math.max(1, cpu),
      p50Ms: percentile(r.latencies, 50),
      p99Ms: percentile(r.latencies, 99),
      maxMs: r.latencies[r.latencies.length - 1] ?? 0,
      failed: r.failed,
      loadavg: loadavg()[0],
    };
  } finally {
    await server.stop();
  }
}

async function schedulesScenario(dir: string, n: number) {
  const server = await serve(`sqlite:${join(dir, 'schedules.db')}`);
  try {
    // Due at one second far enough ahead for registering them all and their activation.
    const registerStart = Date.now();
    const due = Math.ceil((Date.now() + 20_000 + n * 15) / 1000) * 1000;
    const at = new Date(due);
    const cron = `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
    const docs = Array.from({ length: n }, (_, i) => ({
      version: '1.0.0',
      metadata: { id: `bench-schedule-${i}` },
      steps: [{ id: 'echo', agent: '@orchestr8/echo', input: { i } }],
      triggers: [{ name: 'tick', schedule: { cron, timezone: 'UTC', catchUp: { policy: 'all' } } }],
    }));
    for (let i = 0; i < docs.length; i += 20)
      await Promise.all(docs.slice(i, i + 20).map((d) => put(server.url, d)));
    const registerMs = Date.now() - registerStart;
    await activeTriggers(server.url, n);
    if (Date.now() >= due) throw new Error('registering took past the due second: raise the lead time');
    let seenAt = 0;
    let items: { createdAt: number; startedAt?: number }[] = [];
    for (const end = due + 120_000; Date.now() < end; ) {
      items = [];
      let cursor: string | undefined;
      do {
        const q = new URLSearchParams({ trigger: 'tick', limit: '1000', ...(cursor ? { cursor } : {}) });
        const page = (await (await fetch(`${server.url}/executions?${q}`)).json()) as {
          items: { createdAt: number; startedAt?: number }[];
          nextCursor?: string;
        };
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      if (items.length >= n) {
        seenAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const created = items.map((e) => e.createdAt).sort((a, b) => a - b);
    const startedTimes = items.map((e) => e.startedAt ?? e.createdAt).sort((a, b) => a - b);
    return {
      scenario: `${n} schedules due at the same second (${n} workflows), SQLite`,
      registerMs,
      started: items.length,
      firstCreatedAfterDueMs: (created[0] ?? Number.NaN) - due,
      lastCreatedAfterDueMs: (created[created.length - 1] ?? Number.NaN) - due,
      lastStartedAfterDueMs: (startedTimes[startedTimes.length - 1] ?? Number.NaN) - due,
      allSeenAfterDueMs: seenAt ? seenAt - due : Number.NaN,
      loadavg: loadavg()[0],
    };
  } finally {
    await server.stop();
  }
}

export async function runTriggersBench(
  options: TriggersBenchOptions = {},
): Promise<Record<string, unknown>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'o8-triggers-bench-'));
  try {
    const rows: Record<string, unknown>[] = [
      await eventsScenario(dir, options.connections ?? 50, options.durationSec ?? 10),
    ];
    const schedules = options.schedules ?? 1000;
    if (schedules > 0) rows.push(await schedulesScenario(dir, schedules));
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node --conditions=source --import tsx packages/triggers/bench/triggers.bench.ts [--quick]` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  const n = process.argv.find((a) => a.startsWith('--schedules='));
  console.table(
    await runTriggersBench({
      ...(quick ? { durationSec: 3, schedules: 200 } : {}),
      ...(n ? { schedules: Number(n.slice(12)) } : {}),
    }),
  );
}
