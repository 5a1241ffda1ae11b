/**
 * Streams: events per second through slices of 100 ms, 3 crews of 2 no-op steps each,
 * on the file transport (a recorded log processed in order), the memory transport and
 * NATS JetStream (a real nats-server); and, at a steady rate, the time from an event's
 * arrival to its slice's actions being published (p50/p99; slices closing at their end, or 20 ms
 * later for stragglers), and the slice durations.
 */
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import {
  type CompiledStream,
  createMemoryTransport,
  createNatsTransport,
  createStreamProcessor,
  loadStream,
  runEvents,
  type StreamTransport,
} from '../src/index.js';
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
