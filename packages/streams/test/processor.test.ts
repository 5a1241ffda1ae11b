import { createFakeClock, type FakeClock } from '@orchestr8/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CompiledStream,
  createMemoryTransport,
  createStreamProcessor,
  type MemoryTransport,
  type StreamProcessor,
  type StreamTransport,
  viewHeartbeats,
} from '../src/index.js';
import { compiled, crew, gates, testEngine, waiting } from './helpers.js';

const T0 = 1_700_000_000_000;

function doc(crews: string, extra = '') {
  return `version: "1.0.0"
id: match
slice: 100ms
epoch: ${T0}
events:
  goal: { payload: { type: object, required: [team, points, player] } }
  card: {}
  tick: {}
context:
  keys: { score: counter, scorers: union }
${extra}crews:
${crews}`;
}

let running: StreamProcessor[] = [];
afterEach(async () => {
  for (const p of running) await p.stop();
  running = [];
  gates.clear();
});

async function setup(
  stream: CompiledStream,
  transport: StreamTransport = createMemoryTransport(),
  clock: FakeClock = createFakeClock(T0),
) {
  const errors: unknown[] = [];
  const processor = createStreamProcessor({
    stream,
    engine: testEngine(clock),
    transport,
    clock,
    onError: (e) => errors.push(e),
  });
  running.push(processor);
  await processor.start();
  return { processor, transport, clock, errors };
}

const goal = (id: string, at: number, team: string, points: number, player: string) => ({
  id,
  ts: T0 + at,
  kind: 'goal',
  stream: 'match',
  payload: { team, points, player },
});
const ev = (id: string, at: number, kind = 'tick') => ({
  id,
  ts: T0 + at,
  kind,
  stream: 'match',
  payload: {},
});

describe('the stream processor (fake clock)', () => {
  it('processes a slice when the clock passes its end: crews in dependency order, writes merged, actions with ids', async () => {
    const stream = compiled(
      doc(
        crew('scorer', ['goal'], '@test/score') +
          crew('counter', ['goal', 'card'], '@test/count', {}, ['scorer']) +
          crew('cards', ['card'], '@test/count', { key: 'cards' }),
      ),
    );
    const { processor, transport, clock } = await setup(stream);
    await transport.publishEvent(goal('g2', 40, 'away', 3, 'bo'));
    await transport.publishEvent(goal('g1', 10, 'home', 2, 'ada'));
    await transport.publishEvent(ev('c1', 50, 'card'));
    await transport.publishEvent(goal('g3', 120, 'home', 1, 'ada'));
    await clock.advance(99);
    expect(processor.status().committedSlice).toBe(-1);
    await clock.advance(1);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 0')).toBe(0);
    const actions = await transport.readActions();
    // Events in a slice are ordered by timestamp, not arrival; actions in crew order.
    expect(actions.map((a) => [a.id, a.kind, a.payload])).toEqual([
      ['match:0:scorer:0', 'announce', { team: 'home', before: 0 }],
      ['match:0:scorer:1', 'announce', { team: 'away', before: 0 }],
      [
        'match:0:counter:0',
        'counted',
        { n: 3, ids: ['g1', 'g2', 'c1'], upstream: ['match:0:scorer:0', 'match:0:scorer:1'] },
      ],
      ['match:0:cards:0', 'counted', { n: 1, ids: ['c1'], upstream: [] }],
    ]);
    expect(actions[0]).toMatchObject({
      ts: T0 + 100,
      ttlMs: 60_000,
      slice: 0,
      crew: 'scorer',
      stream: 'match',
    });
    expect(processor.context()).toEqual({ score: 5, scorers: ['ada', 'bo'], last: 'bo', count: 3, cards: 1 });
    await clock.advance(100);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 1')).toBe(1);
    expect(processor.context()).toMatchObject({
      score: 6,
      scorers: ['ada', 'bo'],
      last: 'ada',
      count: 1,
      cards: 1,
    });
    const status = processor.status();
    expect(status).toMatchObject({ eventsIn: 4, actionsOut: 6, slicesProcessed: 2 });
    expect(status.crews.scorer!.runs).toBe(2);
    expect(status.crews.cards!.runs).toBe(1);
  });

  it('reports invalid and late events to the error sink and does not process them', async () => {
    const stream = compiled(doc(crew('c', ['tick'], '@test/count')));
    const { processor, transport, clock, errors } = await setup(stream);
    await transport.publishEvent(ev('a', 10));
    await transport.publishEvent({
      id: 'bad',
      ts: T0,
      kind: 'goal',
      stream: 'match',
      payload: { team: 'x' },
    });
    await clock.advance(100);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 0')).toBe(0);
    await transport.publishEvent(ev('late', 20));
    await expect.poll(() => errors.length, waiting('two errors')).toBe(2);
    expect(errors).toEqual([
      expect.objectContaining({
        kind: 'invalid-event',
        eventId: 'bad',
        error: expect.objectContaining({
          code: 'VALIDATION',
          message:
            '/payload: payload missing required field "points"; /payload: payload missing required field "player"',
        }),
      }),
      expect.objectContaining({ kind: 'late-event', eventId: 'late', slice: 0 }),
    ]);
    expect(await transport.readErrors()).toHaveLength(2);
    expect(processor.context()).toEqual({ count: 1 });
    expect(processor.status()).toMatchObject({ invalidEvents: 1, lateEvents: 1 });
  });

  it('a grace period takes events that arrive shortly after their slice ended', async () => {
    const stream = compiled(doc(crew('c', ['tick'], '@test/count')));
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport();
    const processor = createStreamProcessor({
      stream,
      engine: testEngine(clock),
      transport,
      clock,
      graceMs: 30,
    });
    running.push(processor);
    await processor.start();
    await transport.publishEvent(ev('a', 10));
    await clock.advance(120);
    await transport.publishEvent(ev('straggler', 90));
    expect(processor.status().committedSlice).toBe(-1);
    await clock.advance(10);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 0')).toBe(0);
    expect(processor.context()).toEqual({ count: 2 });
  });

  it('refuses a grace Node cannot time (over 2^31-1 ms, negative, not a number), naming graceMs', () => {
    const stream = compiled(doc(crew('c', ['tick'], '@test/count')));
    for (const graceMs of [2_147_483_648, -1, Number.NaN])
      expect(() =>
        createStreamProcessor({ stream, engine: testEngine(), transport: createMemoryTransport(), graceMs }),
      ).toThrow(
        expect.objectContaining({
          code: 'VALIDATION',
          message: `graceMs must be from 0 to 2147483647 ms (24 days), got ${graceMs}`,
        }),
      );
  });

  it('takes the longest grace (24 days) with a 20-day slice: the slice closes once its end plus the grace has passed, and no timer is longer than Node can time', async () => {
    const days = 86_400_000;
    const stream = compiled(
      doc(crew('c', ['tick'], '@test/count')).replace('slice: 100ms', `slice: ${20 * days}`),
    );
    const fake = createFakeClock(T0);
    const delays: number[] = [];
    const clock: FakeClock = {
      ...fake,
      setTimeout: (fn, ms, o) => {
        delays.push(ms);
        return fake.setTimeout(fn, ms, o);
      },
    };
    const grace = 2_147_483_647;
    const transport = createMemoryTransport();
    const processor = createStreamProcessor({
      stream,
      engine: testEngine(fake),
      transport,
      clock,
      graceMs: grace,
      heartbeatMs: 0, // else 5 s beats through 45 days
      claimMs: 2_147_483_647, // and claim renewals every 10 s
    });
    running.push(processor);
    await processor.start();
    await transport.publishEvent(ev('a', 10));
    // The slice's end plus its grace is ~44.9 days away: longer than one timer can wait.
    await fake.advance(20 * days + grace - 1);
    expect(processor.status().closedSlice).toBe(-1);
    await fake.advance(1);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 0')).toBe(0);
    expect(delays.length).toBeGreaterThan(0);
    expect(delays.filter((ms) => ms > 2_147_483_647)).toEqual([]);
  });

  describe('backlog: when slices close while a slice is still running', () => {
    async function backlog(policy: string) {
      const stream = compiled(
        doc(
          crew('slow', ['tick'], '@test/gate', { name: policy }, [], '\n    timeout: 10s') +
            crew('count', ['tick'], '@test/count'),
          `backlog: ${policy}\n`,
        ),
      );
      let release!: () => void;
      gates.set(policy, new Promise<void>((r) => (release = r)));
      const { processor, transport, clock, errors } = await setup(stream);
      for (let i = 0; i < 4; i++) await transport.publishEvent(ev(`t${i}`, i * 100 + 5));
      await clock.advance(100); // slice 0 closes and its crew blocks
      await clock.advance(300); // slices 1, 2 and 3 close meanwhile
      expect(processor.status().backlog).toBe(3);
      release();
      await expect.poll(() => processor.status().committedSlice, waiting('slice 3')).toBe(3);
      return { slices: await transport.readSlices(), processor, errors, transport };
    }

    it('queue processes every slice in order', async () => {
      const { slices, processor } = await backlog('queue');
      expect(slices.map((s) => s.slices)).toEqual([[0], [1], [2], [3]]);
      expect(processor.context()).toEqual({ count: 1 });
    });

    it('latest skips to the latest slice and reports the skipped ones', async () => {
      const { slices, processor, errors } = await backlog('latest');
      expect(slices.map((s) => [s.slices, s.skipped])).toEqual([
        [[0], []],
        [[3], [1, 2]],
      ]);
      expect(errors.map((e: any) => [e.kind, e.slice])).toEqual([
        ['slice-skipped', 1],
        ['slice-skipped', 2],
      ]);
      expect(processor.status()).toMatchObject({ slicesSkipped: 2, slicesProcessed: 2 });
    });

    it('merge processes the waiting slices as one, and reports it', async () => {
      const { slices, processor, transport } = await backlog('merge');
      expect(slices.map((s) => [s.index, s.slices, s.eventIds])).toEqual([
        [0, [0], ['t0']],
        [3, [1, 2, 3], ['t1', 't2', 't3']],
      ]);
      expect(processor.context()).toEqual({ count: 3 });
      expect((await transport.readActions()).at(-1)!.payload).toMatchObject({
        n: 3,
        ids: ['t1', 't2', 't3'],
      });
      expect(processor.status()).toMatchObject({ slicesMerged: 2 });
    });
  });

  it('a crew over its timeout fails alone: its error goes to the sink, skip-dependents skips its dependents, others publish', async () => {
    const stream = compiled(
      doc(
        crew(
          'stuck',
          ['tick'],
          '@test/gate',
          { name: 'never' },
          [],
          '\n    timeout: 50ms\n    onError: skip-dependents',
        ) +
          crew('after', ['tick'], '@test/count', {}, ['stuck']) +
          crew('bad', ['tick'], '@test/write', { key: 'score', value: 'not a number' }) +
          crew('next', ['tick'], '@test/count', { key: 'n' }, ['bad']) +
          crew('fine', ['tick'], '@test/count', { key: 'fine' }),
      ),
    );
    gates.set('never', new Promise<void>(() => {}));
    const { processor, transport, clock, errors } = await setup(stream);
    await transport.publishEvent(ev('a', 10));
    await clock.advance(100);
    await clock.advance(60);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 0')).toBe(0);
    expect(errors.map((e: any) => [e.kind, e.crew, e.error.code])).toEqual([
      ['crew-failed', 'stuck', 'TIMEOUT'],
      ['crew-skipped', 'after', 'CANCELLED'],
      ['crew-failed', 'bad', 'VALIDATION'],
    ]);
    expect((errors[2] as any).error.message).toBe('context key "score" is a counter: write a number to add');
    // onError: continue (the default): the dependent of `bad` still runs, without its actions.
    expect((await transport.readActions()).map((a) => a.crew)).toEqual(['next', 'fine']);
    expect(processor.context()).toEqual({ n: 1, fine: 1 });
    const record = (await transport.readSlices())[0]!;
    expect(record.crews.map((c) => [c.crew, c.status])).toEqual([
      ['stuck', 'failed'],
      ['after', 'skipped'],
      ['bad', 'failed'],
      ['next', 'completed'],
      ['fine', 'completed'],
    ]);
    expect(processor.status().crewFailures).toBe(2);
  });

  it('a backlog waiting at start is processed by event time, not declared late', async () => {
    const stream = compiled(doc(crew('c', ['tick'], '@test/count')));
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport();
    for (let i = 0; i < 6; i++)
      await transport.publishEvent({ ...ev(`t${i}`, 0), ts: new Date(T0 + i * 50 + 10).toISOString() });
    await clock.advance(10_000); // the processor starts long after these slices ended
    const { processor, errors } = await setup(stream, transport, clock);
    await expect.poll(() => processor.status().committedSlice, waiting('slices 0-2')).toBe(2);
    expect(errors).toEqual([]);
    expect((await transport.readSlices()).map((r) => r.eventIds)).toEqual([
      ['t0', 't1'],
      ['t2', 't3'],
      ['t4', 't5'],
    ]);
  });

  it('after a restart, no event is applied twice to the context and no slice is lost', async () => {
    const stream = compiled(doc(crew('scorer', ['goal'], '@test/score')));
    const transport = createMemoryTransport();
    // The first processor dies after committing slice 0 but before acknowledging its events.
    let crashed = false;
    const dying: MemoryTransport = {
      ...transport,
      consume: (handler) =>
        transport.consume((d) => handler({ event: d.event, ack: () => (crashed ? undefined : d.ack()) })),
    };
    const clock = createFakeClock(T0);
    crashed = true;
    const first = await setup(stream, dying, clock);
    await transport.publishEvent(goal('g1', 10, 'home', 2, 'ada'));
    await transport.publishEvent(goal('g2', 110, 'home', 5, 'bo'));
    await clock.advance(100);
    await expect.poll(() => first.processor.status().committedSlice, waiting('slice 0')).toBe(0);
    await first.processor.stop();
    expect(transport.acked.size).toBe(0);

    const second = await setup(stream, transport, clock);
    expect(second.processor.context()).toEqual({ score: 2, scorers: ['ada'], last: 'ada' });
    await clock.advance(100);
    await expect.poll(() => second.processor.status().committedSlice, waiting('slice 1')).toBe(1);
    expect(second.processor.context()).toEqual({ score: 7, scorers: ['ada', 'bo'], last: 'bo' });
    expect((await transport.readActions()).map((a) => a.id)).toEqual([
      'match:0:scorer:0',
      'match:1:scorer:0',
    ]);
    expect(second.processor.status().eventsIn).toBe(1);
  });
});

describe('processor heartbeats (fake clock)', () => {
  it('writes its slice position at every interval, says when it stopped, and a silent one reads as stale', async () => {
    const stream = compiled(doc(crew('scorer', ['goal'], '@test/score')));
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    const processor = createStreamProcessor({
      stream,
      engine: testEngine(clock),
      transport,
      clock,
      processorId: 'p1',
      heartbeatMs: 1000,
    });
    running.push(processor);
    await processor.start();
    await expect
      .poll(async () => (await transport.readHeartbeats()).length, waiting('first heartbeat'))
      .toBe(1);
    expect((await transport.readHeartbeats())[0]).toMatchObject({
      processor: 'p1',
      stream: 'match',
      pid: process.pid,
      at: T0,
      intervalMs: 1000,
      committedSlice: -1,
      state: 'running',
    });
    await transport.publishEvent(goal('g1', 10, 'home', 1, 'ada'));
    await clock.advance(1000);
    await expect
      .poll(
        async () => (await transport.readHeartbeats())[0]!.committedSlice,
        waiting('a heartbeat after slice 0'),
      )
      .toBe(0);
    const beat = (await transport.readHeartbeats())[0]!;
    expect(beat.at).toBe(T0 + 1000);
    // Seen from later: fresh within three intervals, stale past them.
    expect(viewHeartbeats([beat], T0 + 4000)[0]).toMatchObject({ ageMs: 3000, stale: false });
    expect(viewHeartbeats([beat], T0 + 4001)[0]).toMatchObject({ ageMs: 3001, stale: true });
    await processor.stop();
    const last = (await transport.readHeartbeats())[0]!;
    expect(last.state).toBe('stopped');
    expect(viewHeartbeats([last], T0 + 60_000)[0]!.stale).toBe(false);
  });

  it('one whose start failed does not overwrite a live processor of the same id with "stopped"', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    const live = createStreamProcessor({
      stream: compiled(doc(crew('scorer', ['goal'], '@test/score'))),
      engine: testEngine(clock),
      transport,
      clock,
      processorId: 'host-a',
      heartbeatMs: 1000,
    });
    running.push(live);
    await live.start();
    await expect
      .poll(async () => (await transport.readHeartbeats()).length, waiting('first heartbeat'))
      .toBe(1);
    // Same id (the host name by default), a crew whose workflow cannot be found: start fails.
    const failed = createStreamProcessor({
      stream: compiled(doc('  - id: c\n    on: [goal]\n    workflow: nowhere\n')),
      engine: testEngine(clock),
      transport,
      clock,
      processorId: 'host-a',
      heartbeatMs: 1000,
      resolveWorkflow: () => undefined,
    });
    await expect(failed.start()).rejects.toThrow('no workflow "nowhere"');
    await failed.stop();
    expect((await transport.readHeartbeats())[0]).toMatchObject({ processor: 'host-a', state: 'running' });
  });
});
