import { createAgentRegistry } from '@orchestr8/agent-base';
import { createFakeClock, type FakeClock } from '@orchestr8/common';
import { createMetrics } from '@orchestr8/observability/metrics';
import { createServer, type Listener } from '@orchestr8/server';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryTransport,
  createStreamMetrics,
  createStreamRouter,
  createStreamService,
  type MemoryTransport,
  type StreamAction,
  type StreamService,
} from '../src/index.js';
import { compiled, crew, testEngine, waiting } from './helpers.js';

const T0 = 1_700_000_000_000;
const KEY = 'test-key-123';

const stream = compiled(`version: "1.0.0"
id: match
slice: 100ms
epoch: ${T0}
events:
  goal: { payload: { type: object, required: [team, points, player] } }
  tick: {}
context:
  keys: { score: counter, scorers: union }
crews:
${crew('scorer', ['goal'], '@test/score')}${crew('counter', ['goal', 'tick'], '@test/count', {}, ['scorer'])}`);

const goal = (id: string, at: number, player = 'ann') => ({
  id,
  ts: T0 + at,
  kind: 'goal',
  stream: 'match',
  payload: { team: 'home', points: 1, player },
});

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function serve(options: { bodyLimit?: number; graceMs?: number } = {}) {
  const clock: FakeClock = createFakeClock(T0);
  const transport: MemoryTransport = createMemoryTransport({ clock });
  const engine = testEngine(clock);
  const metrics = createMetrics();
  const service: StreamService = createStreamService({
    engine,
    streams: [{ stream, transport }],
    clock,
    heartbeatMs: 1000,
    processorId: 'http-test',
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
    metrics: createStreamMetrics({ registry: metrics.registry }),
  });
  await service.start();
  const server = createServer({
    engine,
    registry: createAgentRegistry([]),
    apiKeys: [KEY],
    metrics,
    routers: [
      createStreamRouter(service, {
        ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
        maxEventsPerRequest: 50,
      }),
    ],
  });
  const listener: Listener = await server.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    await service.stop();
    await listener.close({ graceMs: 0 });
    await engine.close();
  });
  return { clock, transport, service, url: listener.url };
}

const auth = { authorization: `Bearer ${KEY}` };

async function post(url: string, body: string, type = 'application/x-ndjson', headers = {}) {
  const res = await fetch(`${url}/streams/match/events`, {
    method: 'POST',
    headers: { 'content-type': type, ...auth, ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as any };
}

const ndjson = (...events: unknown[]) => events.map((e) => JSON.stringify(e)).join('\n');

/** An SSE reader of GET /streams/match/actions: the frames as they come. */
async function readActions(url: string, lastEventId?: string) {
  const abort = new AbortController();
  const res = await fetch(`${url}/streams/match/actions`, {
    headers: { ...auth, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const frames: { id: string; event: string; data: StreamAction }[] = [];
  let text = '';
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      let end = text.indexOf('\n\n');
      while (end >= 0) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        const fields = Object.fromEntries(
          frame
            .split('\n')
            .filter((l) => !l.startsWith(':') && l.includes(': '))
            .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
        );
        if (fields.data)
          frames.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
        end = text.indexOf('\n\n');
      }
    }
  })().catch(() => {});
  cleanups.push(async () => abort.abort());
  return frames;
}

describe('streams over HTTP (real server on loopback)', () => {
  it('POST /streams/:id/events takes NDJSON, answers 202 with the count, and the actions arrive over SSE', async () => {
    const { url, clock, transport } = await serve();
    const frames = await readActions(url);
    const r = await post(
      url,
      ndjson(goal('g1', 10), goal('g2', 20, 'bo'), { ...goal('t1', 30), kind: 'tick', payload: {} }),
    );
    expect(r).toEqual({ status: 202, body: { accepted: 3, duplicates: 0, late: 0 } });
    await expect.poll(async () => (await transport.readEvents()).length, waiting('events logged')).toBe(3);
    await clock.advance(100);
    await expect.poll(() => frames.length, waiting('three actions over SSE')).toBe(3);
    expect(frames.map((f) => [f.event, f.id])).toEqual([
      ['action', 'match:0:scorer:0'],
      ['action', 'match:0:scorer:1'],
      ['action', 'match:0:counter:0'],
    ]);
    expect(frames[2]!.data).toMatchObject({
      kind: 'counted',
      slice: 0,
      payload: { n: 3, ids: ['g1', 'g2', 't1'] },
    });
  });

  it('is idempotent by event id: a repeated request logs nothing again', async () => {
    const { url, transport } = await serve();
    expect((await post(url, ndjson(goal('g1', 10), goal('g2', 20)))).body).toEqual({
      accepted: 2,
      duplicates: 0,
      late: 0,
    });
    expect((await post(url, ndjson(goal('g2', 20), goal('g3', 30)))).body).toEqual({
      accepted: 1,
      duplicates: 1,
      late: 0,
    });
    // The same id twice in one request is one event.
    expect((await post(url, ndjson(goal('g4', 40), goal('g4', 40)))).body).toEqual({
      accepted: 1,
      duplicates: 1,
      late: 0,
    });
    expect((await transport.readEvents()).map((e: any) => e.id)).toEqual(['g1', 'g2', 'g3', 'g4']);
  });

  it('takes a JSON array or a single JSON object, the stream id filled in from the path', async () => {
    const { url, transport } = await serve();
    const { stream: _, ...noStream } = goal('g1', 10);
    expect((await post(url, JSON.stringify([noStream, goal('g2', 20)]), 'application/json')).body).toEqual({
      accepted: 2,
      duplicates: 0,
      late: 0,
    });
    expect((await post(url, JSON.stringify(goal('g3', 30)), 'application/json; charset=utf-8')).status).toBe(
      202,
    );
    const logged = (await transport.readEvents()) as any[];
    expect(logged.map((e) => [e.id, e.stream])).toEqual([
      ['g1', 'match'],
      ['g2', 'match'],
      ['g3', 'match'],
    ]);
  });

  it('refuses a request with any invalid event, naming each fault, and logs none of it', async () => {
    const { url, transport } = await serve();
    const r = await post(
      url,
      ndjson(
        goal('ok', 10),
        { ...goal('bad', 20), payload: { team: 'x' } },
        { ...goal('k', 30), kind: 'nope' },
      ),
    );
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('VALIDATION');
    expect(r.body.detail).toBe('2 of 3 events are invalid; nothing was accepted');
    expect(r.body.errors).toEqual([
      { index: 1, line: 2, pointer: '/payload', message: 'payload missing required field "points"' },
      { index: 1, line: 2, pointer: '/payload', message: 'payload missing required field "player"' },
      { index: 2, line: 3, pointer: '/kind', message: 'unknown event kind "nope"' },
    ]);
    const notJson = await post(url, `${JSON.stringify(goal('a', 1))}\n{oops`);
    expect(notJson.status).toBe(422);
    expect(notJson.body.errors[0]).toMatchObject({ line: 2, message: expect.stringMatching(/^not JSON/) });
    const badJson = await post(url, '[{', 'application/json');
    expect(badJson.body.detail).toMatch(/^the body is not JSON/);
    const other = await post(url, 'x', 'text/plain');
    expect(other.status).toBe(415);
    expect(other.body.detail).toMatch(/application\/x-ndjson/);
    expect(await transport.readEvents()).toEqual([]);
  });

  it('caps the body size and the number of events per request (413)', async () => {
    const { url, transport } = await serve({ bodyLimit: 2048 });
    const big = await post(
      url,
      JSON.stringify({ ...goal('g', 1), payload: { team: 'x'.repeat(4000), points: 1, player: 'p' } }),
    );
    expect(big.status).toBe(413);
    expect(big.body.detail).toBe('the request body is larger than 2048 bytes');
    const many = Array.from({ length: 51 }, (_, i) => ({ id: `t${i}`, ts: T0 + 1, kind: 'tick' }));
    const r = await post((await serve()).url, JSON.stringify(many), 'application/json');
    expect(r.status).toBe(413);
    expect(r.body.detail).toBe('51 events in one request; the limit is 50');
    expect(await transport.readEvents()).toEqual([]);
  });

  it('leaves out an event whose slice is already closed, counts it as late and reports it', async () => {
    const { url, clock, service, transport } = await serve();
    await clock.advance(250); // slices 0 and 1 close
    await expect
      .poll(() => service.get('match')!.processor.status().closedSlice, waiting('slice 1 closed'))
      .toBe(1);
    const r = await post(url, ndjson(goal('late', 150), goal('fine', 260)));
    expect(r).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, late: 1, lateIds: ['late'] } });
    expect((await transport.readEvents()).map((e: any) => e.id)).toEqual(['fine']);
    expect(await transport.readErrors()).toEqual([
      expect.objectContaining({ kind: 'late-event', eventId: 'late' }),
    ]);
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    expect(metrics).toContain('orchestr8_stream_events_refused_total{stream="match",reason="late-event"} 1');
    // The status counts it too (what `stream status --server` and GET /streams show).
    const list = (await (await fetch(`${url}/streams`, { headers: auth })).json()) as any;
    expect(list.items[0]).toMatchObject({ stream: 'match', lateEvents: 1 });
  });

  it('counts events refused with 422 in the status and the metrics, with server-shaped problems', async () => {
    const { url, service } = await serve();
    const r = await post(url, ndjson(goal('ok', 10), { ...goal('bad', 20), kind: 'nope' }));
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({
      title: 'Unprocessable Content',
      instance: '/streams/match/events',
      detail: '1 of 2 events is invalid; nothing was accepted',
    });
    expect(service.get('match')!.processor.status().invalidEvents).toBe(1);
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    expect(metrics).toContain(
      'orchestr8_stream_events_refused_total{stream="match",reason="invalid-event"} 1',
    );
    const notJson = await post(url, `${JSON.stringify(goal('a', 1))}\n{oops`);
    expect(notJson.body.detail).toBe('1 line of the body is not JSON; nothing was accepted');
    const { id: _, ...noId } = goal('x', 1);
    const missing = await post(url, JSON.stringify(noId), 'application/json');
    expect(missing.body.errors).toEqual([{ index: 0, pointer: '/id', message: 'id is required' }]);
    const unknown = await fetch(`${url}/streams/other`, { headers: auth });
    expect(await unknown.json()).toMatchObject({
      status: 404,
      title: 'Not Found',
      code: 'NOT_FOUND',
      instance: '/streams/other',
    });
  });

  it("answers problems in the server's shape, field for field and in the server's order", async () => {
    const { url } = await serve();
    // The server's own 422 (an invalid document to execute) beside the stream's (an invalid event).
    const server = await fetch(`${url}/workflows/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ workflow: { version: '1.0.0' } }),
    });
    const stream = await fetch(`${url}/streams/match/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ ...goal('bad', 1), kind: 'nope' }),
    });
    expect([server.status, stream.status]).toEqual([422, 422]);
    expect(stream.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const [a, b] = [(await server.json()) as any, (await stream.json()) as any];
    // The document's 422 also lists warnings; an event has none.
    expect(Object.keys(b)).toEqual(Object.keys(a).filter((k) => k !== 'warnings'));
    expect(Object.keys(b)).toEqual(['type', 'title', 'status', 'detail', 'code', 'errors', 'instance']);
    expect(b).toMatchObject({
      type: a.type,
      title: a.title,
      code: 'VALIDATION',
      instance: '/streams/match/events',
    });
  });

  it('refuses an event further ahead of the clock than the future skew (default 5 minutes)', async () => {
    const { url, transport } = await serve();
    const r = await post(url, ndjson(goal('soon', 4 * 60_000), goal('far', 5 * 60_000 + 1)));
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([
      {
        index: 1,
        line: 2,
        pointer: '/ts',
        message: `ts is more than 300000 ms ahead of the server's clock (${new Date(T0).toISOString()})`,
      },
    ]);
    const year2100 = await post(
      url,
      JSON.stringify({ ...goal('y', 0), ts: '2100-01-01T00:00:00Z' }),
      'application/json',
    );
    expect(year2100.body.errors).toEqual([expect.objectContaining({ index: 0, pointer: '/ts' })]);
    expect((await post(url, ndjson(goal('soon', 4 * 60_000)))).body).toMatchObject({ accepted: 1 });
    expect((await transport.readEvents()).map((e: any) => e.id)).toEqual(['soon']);
  });

  it('answers 503 when the event log is down, and takes the retry (not a duplicate)', async () => {
    const { url, transport } = await serve();
    const publish = transport.publishEvent.bind(transport);
    let failures = 1;
    // The log fails once, on the second event of the request (NATS down).
    transport.publishEvent = async (e) => {
      if ((e as { id: string }).id === 'g2' && failures-- > 0) throw new Error('NATS connection closed');
      return publish(e);
    };
    const events = ndjson(goal('g1', 10), goal('g2', 20), goal('g3', 30));
    const first = await post(url, events);
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({
      title: 'Service Unavailable',
      code: 'RETRYABLE',
      retryable: true,
      accepted: 1,
    });
    expect(first.body.detail).toMatch(/NATS connection closed/);
    const retry = await post(url, events);
    expect(retry).toEqual({ status: 202, body: { accepted: 2, duplicates: 1, late: 0 } });
    expect((await transport.readEvents()).map((e: any) => e.id)).toEqual(['g1', 'g2', 'g3']);
  });

  it('has no lag while idle: lag counts only from a slice with events not yet committed', async () => {
    const { url, clock, service } = await serve();
    const host = service.get('match')!;
    await clock.advance(5_000);
    expect(host.processor.status().lagMs).toBe(0);
    await post(url, ndjson(goal('g1', 5_010)));
    await clock.advance(100);
    await expect.poll(() => host.processor.status().committedSlice, waiting('slice 50 committed')).toBe(50);
    await clock.advance(20_000);
    expect(host.processor.status()).toMatchObject({ backlog: 0, lagMs: 0 });
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    expect(metrics).toContain('orchestr8_stream_lag_seconds{stream="match"} 0');
  });

  it('with a grace period, takes events for a slice that ended less than the grace ago', async () => {
    const { url, clock, service } = await serve({ graceMs: 30 });
    await clock.advance(110); // slice 0 ended 10 ms ago: still open for 20 ms
    expect((await post(url, ndjson(goal('g1', 50)))).body).toEqual({ accepted: 1, duplicates: 0, late: 0 });
    await clock.advance(25);
    await expect
      .poll(() => service.get('match')!.processor.status().closedSlice, waiting('slice 0 closed'))
      .toBe(0);
    expect((await post(url, ndjson(goal('g2', 60)))).body).toMatchObject({ accepted: 0, late: 1 });
  });

  it('resumes the action stream after Last-Event-ID without repeating what the reader had', async () => {
    const { url, clock } = await serve();
    const first = await readActions(url);
    await post(url, ndjson(goal('g1', 10)));
    await clock.advance(100);
    await expect.poll(() => first.length, waiting('slice 0 actions')).toBe(2);
    await post(url, ndjson(goal('g2', 110, 'bo')));
    await clock.advance(100);
    await expect.poll(() => first.length, waiting('slice 1 actions')).toBe(4);
    const resumed = await readActions(url, first[1]!.id);
    await expect.poll(() => resumed.length, waiting('resumed actions')).toBe(2);
    expect(resumed.map((f) => f.id)).toEqual(['match:1:scorer:0', 'match:1:counter:0']);
    // And it goes on live.
    await post(url, ndjson(goal('g3', 210)));
    await clock.advance(100);
    await expect.poll(() => resumed.length, waiting('live after resume')).toBe(4);
    expect(resumed.map((f) => f.id).slice(2)).toEqual(['match:2:scorer:0', 'match:2:counter:0']);
  });

  it('is behind the server API keys and Host/Origin guard, and 404s an unknown stream', async () => {
    const { url } = await serve();
    const noKey = await fetch(`${url}/streams/match/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: ndjson(goal('g1', 10)),
    });
    expect(noKey.status).toBe(401);
    const crossSite = await fetch(`${url}/streams/match/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', origin: 'https://evil.example', ...auth },
      body: ndjson(goal('g1', 10)),
    });
    expect(crossSite.status).toBe(403);
    const unknown = await fetch(`${url}/streams/other/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...auth },
      body: ndjson(goal('g1', 10)),
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).detail).toBe('no stream "other" is served here');
    const wrongMethod = await fetch(`${url}/streams/match/events`, { headers: auth });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });

  it('reports status with the processor heartbeat, and serves stream metrics at /metrics', async () => {
    const { url, clock } = await serve();
    await post(url, ndjson(goal('g1', 10), goal('g2', 20)));
    await clock.advance(100);
    const status = async () => (await (await fetch(`${url}/streams/match`, { headers: auth })).json()) as any;
    await expect.poll(async () => (await status()).committedSlice, waiting('slice 0 committed')).toBe(0);
    const s = await status();
    expect(s).toMatchObject({
      stream: 'match',
      active: true,
      eventsIn: 2,
      actionsOut: 3,
      slicesProcessed: 1,
    });
    expect(s.processors).toEqual([
      expect.objectContaining({ processor: 'http-test', stream: 'match', state: 'running', stale: false }),
    ]);
    const list = (await (await fetch(`${url}/streams`, { headers: auth })).json()) as any;
    expect(list.items.map((i: any) => i.stream)).toEqual(['match']);
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    expect(metrics).toContain('orchestr8_stream_events_total{stream="match"} 2');
    expect(metrics).toContain('orchestr8_stream_actions_total{stream="match"} 3');
    expect(metrics).toContain('orchestr8_stream_slices_total{stream="match",outcome="processed"} 1');
    expect(metrics).toContain('orchestr8_stream_slice_duration_seconds_count{stream="match"} 1');
    expect(metrics).toContain(
      'orchestr8_stream_crew_runs_total{stream="match",crew="scorer",status="completed"} 1',
    );
    expect(metrics).toMatch(/orchestr8_stream_lag_seconds\{stream="match"\} \d/);
    expect(metrics).toContain('orchestr8_stream_backlog_slices{stream="match"} 0');
    expect(metrics).toContain('orchestr8_stream_committed_slice{stream="match"} 0');
  });

  it('counts events the processor refuses, by reason', async () => {
    const { url, transport, service } = await serve();
    // Straight into the log, past the HTTP checks: the processor refuses it.
    await transport.publishEvent({ ...goal('bad', 10), kind: 'nope' });
    await expect
      .poll(() => service.get('match')!.processor.status().invalidEvents, waiting('refused'))
      .toBe(1);
    const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    expect(metrics).toContain(
      'orchestr8_stream_events_refused_total{stream="match",reason="invalid-event"} 1',
    );
  });
});

describe('the stream service', () => {
  it('remembers a bounded number of event ids, and resumes readers from a bounded buffer of unexpired actions', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    const engine = testEngine(clock);
    const service = createStreamService({
      engine,
      streams: [{ stream, transport }],
      clock,
      heartbeatMs: 0,
      rememberedIds: 2,
      actionBuffer: 3,
    });
    cleanups.push(async () => {
      await service.stop();
      await engine.close();
    });
    await service.start();
    const host = service.get('match')!;
    const e = (id: string, at: number) => ({ ...goal(id, at), ts: T0 + at });
    expect(await host.accept([e('a', 1), e('b', 2)])).toEqual({ accepted: 2, duplicates: 0 });
    expect(await host.accept([e('c', 3)])).toEqual({ accepted: 1, duplicates: 0 });
    // "a" was forgotten (only the last two ids are kept): taken again; "c" is still known.
    expect(await host.accept([e('a', 1), e('c', 3)])).toEqual({ accepted: 1, duplicates: 1 });
    await clock.advance(100);
    await expect.poll(() => host.processor.status().committedSlice, waiting('slice 0')).toBe(0);
    await host.accept([e('d', 110)]);
    await clock.advance(100);
    await expect.poll(() => host.processor.status().committedSlice, waiting('slice 1')).toBe(1);
    // Six actions were published (slice 0: three goals and a count); the buffer keeps the last three.
    expect(host.actionsAfter('match:0:counter:0').map((a) => a.id)).toEqual([
      'match:1:scorer:0',
      'match:1:counter:0',
    ]);
    // An id no longer buffered: from the slices after its own.
    expect(host.actionsAfter('match:0:scorer:0').map((a) => a.id)).toEqual([
      'match:1:scorer:0',
      'match:1:counter:0',
    ]);
    expect(host.actionsAfter(undefined)).toEqual([]);
    // Past their time to live (the stream's default), actions are not sent again.
    await clock.advance(stream.actionTtlMs);
    expect(host.actionsAfter('match:0:counter:0')).toEqual([]);
  });
});
