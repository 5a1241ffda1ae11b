// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * Triggers under load, through `orchestr8 serve` on a SQLite file (the CLI from source, in
 * its own process, as in production):
 * - `POST /events` with 50 connections, each event starting an execution of a 1-step
 *   workflow through an event trigger: events accepted per second and latency percentiles
 *   (autocannon: keep-alive connections, a fixed duration);
 * - 1,000 workflows whose schedules are all due at the same second: how long after that
 *   second the last execution was created, and was seen by a client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cannon, type LoadRequest } from '../../server/bench/load.js';
import { startServe } from '../../server/bench/serve-process.js';

export interface TriggersBenchOptions {
  /** Seconds of the events scenario. Default 10. */
  durationSec?: number;
  connections?: number;
  /** Workflows due at the same second. Default 1000; 0 skips that scenario. */
  schedules?: number;
}

/** serve with no rate limit: the load is one client sending as fast as it can. */
const serve = (store: string) => startServe(['--rate-limit', '0', '--store', store]);

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
    let seq = 0;
    let started = 0;
    // A new event id per request; each accepted event's answer says what its triggers did.
    const events = (first: number): LoadRequest => ({
      setupRequest: (req) => {
        const n = seq++;
        return { ...req, body: JSON.stringify({ name: 'bench.tick', id: `e-${first + n}`, data: { n } }) };
      },
      onResponse: (status, body) => {
        if (status < 300 && body.includes('"status":"started"')) started++;
      },
    });
    const load = (first: number, seconds: number) =>
      cannon({
        url: `${server.url}/events`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        connections,
        duration: seconds,
        requests: [events(first)],
      });
    // Warm-up: JIT, caches, SQLite pages.
    await load(1e9, 2);
    started = 0;
    const cpuBefore = await server.cpuUs();
    const r = await load(0, durationSec);
    const cpuMs = ((await server.cpuUs()) - cpuBefore) / 1000;
    const ok = r['2xx'];
    return {
      scenario: `POST /events -> event trigger -> 1-step execution, SQLite, ${connections} connections`,
      eventsPerSec: ok / r.duration,
      executionsStarted: started,
      // Noise-resistant on a busy machine: the server's CPU per event, and the rate one core gives at that cost.
      serverCpuMsPerEvent: cpuMs / Math.max(1, ok),
      cpuBoundEventsPerSec: (1000 * ok) / Math.max(1, cpuMs),
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      maxMs: r.latency.max,
      failed: r.non2xx + r.errors + r.timeouts,
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

// `node --import tsx packages/triggers/bench/triggers.bench.ts [--quick]` runs it alone.
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
