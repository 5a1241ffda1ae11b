/**
 * Streams: events per second through slices of 100 ms, 3 crews of 2 no-op steps each,
 * on the file transport (a recorded log processed in order), the memory transport and
 * NATS JetStream (a real nats-server); and, at a steady rate, the time from an event's
 * arrival to its slice's actions being published (p50/p99; slices closing at their end, or 20 ms
 * later for stragglers), and the slice durations.
 */
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { createServer } from '@orchestr8/server';
import {
  type CompiledStream,
  createMemoryTransport,
  createNatsTransport,
  createStreamProcessor,
  createStreamRouter,
  createStreamService,
  loadStream,
  runEvents,
  type StreamTransport,
} from '@orchestr8/streams';
import { startNats } from '../test/nats-server.js';

const noopCrew = (id: string) => `  - id: ${id}
    on: [tick]
    steps:
      - { id: a, agent: "@orchestr8/echo", input: { n: 1 } }
      - { id: b, agent: "@orchestr8/echo", dependencies: [a], input: { actions: [{ kind: done, payload: 1 }] } }
`;

function stream(id: string, epoch: number): CompiledStream {
  const r = loadStream(`version: "1.0.0"
id: ${id}
slice: 100ms
epoch: ${epoch}
events: { tick: {} }
crews:
${noopCrew('c1')}${noopCrew('c2')}${noopCrew('c3')}`);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.stream!;
}

const engine = () => createEngine({ registry: createAgentRegistry(builtinAgents) });
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const tick = (s: string, i: number, ts: number) => ({
  id: `t${i}`,
  ts,
  kind: 'tick',
  stream: s,
  payload: { i },
});

/** A backlog of `n` events over `slices` past slices, processed as fast as the processor goes. */
async function backlog(transport: StreamTransport, id: string, n: number, slices: number) {
  const epoch = Date.now() - 10 * 60_000;
  const s = stream(id, epoch);
  for (let i = 0; i < n; i++)
    await transport.publishEvent(tick(id, i, epoch + Math.floor((i * slices) / n) * 100 + 1));
  const p = createStreamProcessor({ stream: s, engine: engine(), transport });
  const t0 = performance.now();
  await p.start();
  while (p.status().committedSlice < slices - 1) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - t0;
  await p.stop();
  return { eventsPerSec: n / (ms / 1000), slicesPerSec: slices / (ms / 1000) };
}

/** Events at a steady rate with ts = now: arrival to actions published, per event. */
async function live(transport: StreamTransport, id: string, rate: number, seconds: number, graceMs: number) {
  const s = stream(id, 0);
  const published = new Map<string, number>();
  const latencies: number[] = [];
  const sliceMs: number[] = [];
  const p = createStreamProcessor({
    stream: s,
    engine: engine(),
    transport,
    graceMs,
    onSlice: (outcome) => {
      const now = performance.now();
      sliceMs.push(outcome.durationMs);
      for (const e of outcome.eventIds) latencies.push(now - published.get(e)!);
    },
  });
  await p.start();
  const total = rate * seconds;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    published.set(`t${i}`, performance.now());
    await transport.publishEvent(tick(id, i, Date.now()));
  }
  // An event that reaches the processor after its slice closed is late: counted, not waited for.
  while (latencies.length + p.status().lateEvents < total) await new Promise((r) => setTimeout(r, 5));
  await p.stop();
  return {
    late: p.status().lateEvents,
    'arrival→actions p50 ms': pct(latencies, 50),
    'arrival→actions p99 ms': pct(latencies, 99),
    'slice run p50 ms': pct(sliceMs, 50),
    'slice run p99 ms': pct(sliceMs, 99),
  };
}

/**
 * The HTTP transport (serve --stream): events POSTed as NDJSON batches to a real server on
 * loopback, actions read by an SSE client. Ingest rate (batches of 100, one request at a
 * time), then at a steady rate (batches every 10 ms) the time from a batch's POST to its
 * slice's first action on the SSE stream.
 */
async function http(n: number, rate: number, seconds: number, graceMs: number) {
  const s = stream('web', 0);
  const eng = engine();
  const service = createStreamService({
    engine: eng,
    streams: [{ stream: s, transport: createMemoryTransport() }],
    heartbeatMs: 0,
    graceMs,
    rememberedIds: 2 * (n + rate * seconds),
  });
  await service.start();
  const listener = await createServer({
    engine: eng,
    registry: createAgentRegistry(builtinAgents),
    routers: [createStreamRouter(service)],
    rateLimit: false,
  }).listen(0, '127.0.0.1');
  const post = async (events: unknown[]) => {
    const res = await fetch(`${listener.url}/streams/web/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: events.map((e) => JSON.stringify(e)).join('\n'),
    });
    if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
    late += ((await res.json()) as { late: number }).late;
  };
  let late = 0;
  const firstAction = new Map<number, number>();
  const abort = new AbortController();
  const sse = await fetch(`${listener.url}/streams/web/actions`, { signal: abort.signal });
  void (async () => {
    let buf = '';
    for await (const c of sse.body as unknown as AsyncIterable<Uint8Array>) {
      buf += Buffer.from(c).toString();
      let at = buf.indexOf('\n\n');
      while (at >= 0) {
        const data = /^data: (.*)$/m.exec(buf.slice(0, at))?.[1];
        if (data) {
          const slice = (JSON.parse(data) as { slice: number }).slice;
          if (!firstAction.has(slice)) firstAction.set(slice, performance.now());
        }
        buf = buf.slice(at + 2);
        at = buf.indexOf('\n\n');
      }
    }
  })().catch(() => {});
  try {
    let i = 0;
    const t0 = performance.now();
    while (i < n) {
      const batch = Array.from({ length: 100 }, () => tick('web', i++, Date.now()));
      await post(batch);
    }
    const ingestMs = performance.now() - t0;
    // Steady rate: a batch every 10 ms; each batch's latency to its slice's first action.
    const sent: { at: number; slice: number }[] = [];
    const perBatch = Math.max(1, Math.round(rate / 100));
    const t1 = performance.now();
    for (let b = 0; b < seconds * 100; b++) {
      const wait = t1 + b * 10 - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const ts = Date.now();
      const at = performance.now();
      await post(Array.from({ length: perBatch }, () => tick('web', i++, ts)));
      sent.push({ at, slice: Math.floor(ts / 100) });
    }
    const deadline = performance.now() + 10_000;
    while (sent.some((x) => !firstAction.has(x.slice)) && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    const latencies = sent
      .filter((x) => firstAction.has(x.slice))
      .map((x) => firstAction.get(x.slice)! - x.at);
    return {
      'ingest events/s': n / (ingestMs / 1000),
      'POST→first action p50 ms': pct(latencies, 50),
      'POST→first action p99 ms': pct(latencies, 99),
      // Left out by the HTTP check (slice closed on arrival) or by the processor.
      late: late + service.get('web')!.processor.status().lateEvents,
    };
  } finally {
    abort.abort();
    await service.stop();
    await listener.close({ graceMs: 0 });
    await eng.close();
  }
}

export async function runStreamsBench(options: { quick?: boolean } = {}) {
  const n = options.quick ? 2000 : 10_000;
  const slices = n / 100;
  const rows: Record<string, unknown>[] = [];
  {
    const epoch = 0;
    const s = stream('file', epoch);
    const events = Array.from({ length: n }, (_, i) =>
      tick('file', i, Math.floor((i * slices) / n) * 100 + 1),
    );
    const t0 = performance.now();
    await runEvents({ stream: s, engine: engine(), events });
    const ms = performance.now() - t0;
    rows.push({
      transport: 'file (NDJSON log, in order)',
      events: n,
      'events/s': n / (ms / 1000),
      'slices/s': slices / (ms / 1000),
    });
  }
  const mem = await backlog(createMemoryTransport(), 'mem', n, slices);
  rows.push({
    transport: 'memory (backlog)',
    events: n,
    'events/s': mem.eventsPerSec,
    'slices/s': mem.slicesPerSec,
  });
  for (const graceMs of [0, 20]) {
    const web = await http(n, 500, options.quick ? 2 : 5, graceMs);
    rows.push({
      transport: `HTTP (serve --stream): NDJSON batches of 100; live 500 events/s, batches every 10 ms, grace ${graceMs} ms`,
      events: n,
      'events/s': web['ingest events/s'],
      'arrival→actions p50 ms': web['POST→first action p50 ms'],
      'arrival→actions p99 ms': web['POST→first action p99 ms'],
      late: web.late,
    });
  }
  const nats = await startNats();
  try {
    const t = await createNatsTransport({ streamId: 'bench', servers: nats.url });
    const r = await backlog(t, 'bench', n, slices);
    await t.close();
    rows.push({
      transport: 'NATS JetStream (backlog)',
      events: n,
      'events/s': r.eventsPerSec,
      'slices/s': r.slicesPerSec,
    });
    const rate = 500;
    const seconds = options.quick ? 2 : 5;
    for (const graceMs of [0, 20]) {
      const m = await live(createMemoryTransport(), `mlive${graceMs}`, rate, seconds, graceMs);
      rows.push({
        transport: `memory, live ${rate} events/s, grace ${graceMs} ms`,
        events: rate * seconds,
        ...m,
      });
      const t2 = await createNatsTransport({ streamId: `live${graceMs}`, servers: nats.url });
      const l = await live(t2, `live${graceMs}`, rate, seconds, graceMs);
      await t2.close();
      rows.push({
        transport: `NATS JetStream, live ${rate} events/s, grace ${graceMs} ms`,
        events: rate * seconds,
        ...l,
      });
    }
  } finally {
    await nats.stop();
  }
  return rows;
}
