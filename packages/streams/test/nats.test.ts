import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  createNatsTransport,
  createStreamProcessor,
  replayStream,
  runEvents,
  type StreamAction,
  type StreamTransport,
} from '../src/index.js';
import { compiled, crew, testEngine, waiting } from './helpers.js';
import { useNats } from './use-nats.js';

const nats = useNats();

// Slices in the past: every slice is due as soon as the processor looks at the clock.
const EPOCH = Date.now() - 60_000;

function matchStream(id: string) {
  return compiled(`version: "1.0.0"
id: ${id}
slice: 100ms
epoch: ${EPOCH}
events:
  goal: { payload: { type: object, required: [team, points, player] } }
  card: {}
context:
  keys: { score: counter, scorers: union }
crews:
${crew('scorer', ['goal'], '@test/score')}${crew('counter', ['goal', 'card'], '@test/count', {}, ['scorer'])}${crew('cards', ['card'], '@test/count', { key: 'cards' })}`);
}

/** 1,000 events over 50 slices, published out of order within each slice. */
function events(stream: string, n = 1000) {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const slice = Math.floor(i / 20);
    const at = slice * 100 + ((i * 37) % 97);
    out.push(
      i % 3 === 0
        ? { id: `c${i}`, ts: EPOCH + at, kind: 'card', stream, payload: {} }
        : {
            id: `g${i}`,
            ts: EPOCH + at,
            kind: 'goal',
            stream,
            payload: { team: i % 2 ? 'home' : 'away', points: (i % 3) + 1, player: `p${i % 7}` },
          },
    );
  }
  return out;
}

const strip = (actions: StreamAction[]) => actions.map((a) => JSON.stringify(a));

describe('NATS JetStream (a real nats-server)', () => {
  it('1,000 events through JetStream give the same actions and context as the file transport, and replay reproduces them', async () => {
    const stream = matchStream('m1');
    const log = events('m1');
    const transport = await createNatsTransport({ streamId: 'm1', servers: nats.url });
    // Published before the processor starts: it catches up on the backlog by event time.
    for (const e of log) await transport.publishEvent(e);
    const processor = createStreamProcessor({ stream, engine: testEngine(), transport });
    await processor.start();
    await expect.poll(() => processor.status().committedSlice, waiting('the 50 slices', 60_000)).toBe(49);
    await processor.stop();

    const viaFile = await runEvents({ stream, engine: testEngine(), events: log });
    const recorded = await transport.readActions();
    expect(recorded).toHaveLength(viaFile.actions.length);
    expect(strip(recorded)).toEqual(strip(viaFile.actions));
    expect((await transport.loadContext())!.values).toEqual(viaFile.context);
    expect(processor.context()).toEqual(viaFile.context);

    const report = await replayStream({
      stream,
      engine: testEngine(),
      events: await transport.readEvents(),
      actions: recorded,
      slices: await transport.readSlices(),
    });
    expect(report.mismatches).toEqual([]);
    expect(report).toMatchObject({ ok: true, slicesCompared: 50, actionsCompared: recorded.length });
    expect(report.context).toEqual(viaFile.context);
    await transport.close();

    // What other NATS clients see: the streams by name and the context in KV.
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info('o8s_m1_events')).state.messages).toBe(1000);
    expect((await jsm.streams.info('o8s_m1_actions')).config.subjects).toEqual(['o8s.m1.actions']);
    const kv = await new Kvm(nc).open('o8s_m1');
    expect((await kv.get('context'))!.json()).toEqual({ slice: 49, values: viaFile.context });
    await nc.close();
  }, 120_000);

  it('a processor that dies before acknowledging resumes from the durable consumer: no event applied twice, no slice lost, no action published twice', async () => {
    const stream = matchStream('m2');
    const log = events('m2', 200);
    const first = await createNatsTransport({ streamId: 'm2', servers: nats.url, ackWaitMs: 1000 });
    // Processors claim the stream for as long as the consumer's ack wait by default.
    expect(first.claimMs).toBe(1000);
    // Dies after committing slices but before acknowledging any event.
    const dying: StreamTransport = {
      ...first,
      consume: (handler) => first.consume((d) => handler({ event: d.event, ack: () => {} })),
    };
    for (const e of log.slice(0, 100)) await first.publishEvent(e);
    const a = createStreamProcessor({ stream, engine: testEngine(), transport: dying });
    await a.start();
    await expect.poll(() => a.status().committedSlice, waiting('slices 0-4', 60_000)).toBe(4);
    await a.stop();
    await first.close();

    const second = await createNatsTransport({ streamId: 'm2', servers: nats.url, ackWaitMs: 1000 });
    for (const e of log.slice(100)) await second.publishEvent(e);
    const b = createStreamProcessor({ stream, engine: testEngine(), transport: second });
    await b.start();
    expect(b.status().committedSlice).toBe(4);
    await expect.poll(() => b.status().committedSlice, waiting('slices 5-9', 60_000)).toBe(9);
    await b.stop();

    const expected = await runEvents({ stream, engine: testEngine(), events: log });
    expect(b.context()).toEqual(expected.context);
    expect((await second.loadContext())!.values).toEqual(expected.context);
    const actions = await second.readActions();
    expect(strip(actions)).toEqual(strip(expected.actions));
    expect(new Set(actions.map((x) => x.id)).size).toBe(actions.length);
    expect((await second.readSlices()).map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await second.close();
  }, 120_000);

  it('delivers actions to subscribers, except those whose time to live ran out', async () => {
    const transport = await createNatsTransport({ streamId: 'm3', servers: nats.url });
    const seen: string[] = [];
    const sub = await transport.subscribeActions((a) => seen.push(a.id));
    const now = Date.now();
    const action = (id: string, ts: number): StreamAction => ({
      id,
      ts,
      kind: 'k',
      stream: 'm3',
      payload: null,
      ttlMs: 1000,
      slice: 0,
      crew: 'c',
    });
    await transport.commit({
      record: {
        stream: 'm3',
        index: 0,
        slices: [0],
        skipped: [],
        eventIds: [],
        actionIds: ['fresh', 'stale'],
        crews: [],
        durationMs: 0,
      },
      actions: [action('fresh', now), action('stale', now - 5000)],
      context: { slice: 0, values: {} },
      revision: (await transport.takeContext()).revision,
    });
    await expect.poll(() => seen.length, waiting('the fresh action')).toBe(1);
    expect(seen).toEqual(['fresh']);
    expect((await transport.readActions()).map((a) => a.id)).toEqual(['fresh', 'stale']);
    await sub.stop();
    await transport.close();
  });

  it('the stream claim is a compare-and-set in the KV bucket: of processors claiming at once one wins; its holder renews it; a lapsed or released claim is taken', async () => {
    const one = await createNatsTransport({ streamId: 'm5', servers: nats.url });
    const two = await createNatsTransport({ streamId: 'm5', servers: nats.url });
    const now = 1_000;
    const won = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? one : two).claim({ owner: `p${i}`, until: now + 100, now }),
      ),
    );
    expect(won.filter(Boolean)).toHaveLength(1);
    const holder = `p${won.indexOf(true)}`;
    expect(await one.claim({ owner: 'other', until: now + 200, now: now + 50 })).toBe(false);
    expect(await two.claim({ owner: holder, until: now + 300, now: now + 50 })).toBe(true);
    expect(await one.claim({ owner: 'other', until: now + 400, now: now + 299 })).toBe(false);
    expect(await one.claim({ owner: 'other', until: now + 400, now: now + 300 })).toBe(true);
    expect(await two.claim({ owner: holder, until: now + 500, now: now + 301 })).toBe(false);
    expect(await one.claim({ owner: 'other', until: 0, now: now + 302 })).toBe(true);
    expect(await two.claim({ owner: holder, until: now + 500, now: now + 303 })).toBe(true);
    const nc = await connect({ servers: nats.url });
    const kv = await new Kvm(nc).open('o8s_m5');
    expect((await kv.get('claim'))!.json()).toEqual({ owner: holder, until: now + 500 });
    await nc.close();
    await one.close();
    await two.close();
  });

  it('two renewals of the claim by its holder at once both hold: the one whose write lost reads the claim again and finds it its own', async () => {
    const transport = await createNatsTransport({ streamId: 'm7', servers: nats.url });
    expect(await transport.claim({ owner: 'me', until: 10_000, now: 0 })).toBe(true);
    for (let i = 0; i < 20; i++) {
      const renewals = [0, 1].map(() => transport.claim({ owner: 'me', until: 20_000 + i, now: 100 }));
      expect(await Promise.all(renewals)).toEqual([true, true]);
    }
    // Another owner still loses to the live claim.
    expect(await transport.claim({ owner: 'other', until: 30_000, now: 200 })).toBe(false);
    await transport.close();
  });

  it('a second processor on the stream is a standby: it takes no event while the first lives, and takes over from the committed context when the first stops', async () => {
    const stream = matchStream('m6');
    const log = events('m6', 60);
    const first = await createNatsTransport({ streamId: 'm6', servers: nats.url });
    const second = await createNatsTransport({ streamId: 'm6', servers: nats.url });
    for (const e of log) await first.publishEvent(e);
    const options = { stream, heartbeatMs: 0, claimMs: 600 };
    const a = createStreamProcessor({ ...options, engine: testEngine(), transport: first });
    await a.start();
    const b = createStreamProcessor({ ...options, engine: testEngine(), transport: second });
    await b.start();
    await expect.poll(() => a.status().committedSlice, waiting('slices 0-2 by the first', 60_000)).toBe(2);
    // Several renewals later the standby still holds nothing.
    await new Promise((r) => setTimeout(r, 700));
    expect(b.status()).toMatchObject({ active: false, eventsIn: 0, committedSlice: -1 });
    await a.stop();
    await expect.poll(() => b.status().active, waiting('the standby takes over', 30_000)).toBe(true);
    expect(b.status().committedSlice).toBe(2);
    // An event of the current slice: the new holder processes it.
    const now = { id: 'now', ts: Date.now(), kind: 'card', stream: 'm6', payload: {} };
    await second.publishEvent(now);
    const slice = Math.floor((now.ts - EPOCH) / 100);
    await expect
      .poll(() => b.status().committedSlice, waiting('the current slice by the second', 60_000))
      .toBe(slice);
    await b.stop();
    const expected = await runEvents({ stream, engine: testEngine(), events: [...log, now] });
    expect(b.context()).toEqual(expected.context);
    const actions = await second.readActions();
    expect(strip(actions)).toEqual(strip(expected.actions));
    expect((await second.readSlices()).map((s) => s.index)).toEqual([0, 1, 2, slice]);
    await first.close();
    await second.close();
  }, 120_000);

  it('a commit is conditional on the context revision its processor took or last wrote: once another took the context over, it is refused and publishes nothing', async () => {
    const one = await createNatsTransport({ streamId: 'm8', servers: nats.url });
    const two = await createNatsTransport({ streamId: 'm8', servers: nats.url });
    // Each writer's action and record differ, to tell whose were published.
    const commit = (index: number, revision: number, by = 'one') => ({
      record: {
        stream: 'm8',
        index,
        slices: [index],
        skipped: [],
        eventIds: [by],
        actionIds: [`m8:${index}:${by}`],
        crews: [],
        durationMs: 0,
      },
      actions: [
        {
          id: `m8:${index}:${by}`,
          ts: 0,
          kind: 'k',
          stream: 'm8',
          payload: null,
          ttlMs: 1000,
          slice: index,
          crew: 'c',
        },
      ],
      context: { slice: index, values: { n: index, by } },
      revision,
    });
    // Nothing committed yet: taken over with no context.
    const first = await one.takeContext();
    expect(first.state).toBeUndefined();
    expect(await one.loadContext()).toBeUndefined();
    const afterZero = await one.commit(commit(0, first.revision));
    const afterOne = await one.commit(commit(1, afterZero));
    // A second processor takes the stream over: it finds slice 1's context.
    const second = await two.takeContext();
    expect(second.state).toEqual({ slice: 1, values: { n: 1, by: 'one' } });
    await expect(one.commit(commit(2, afterOne))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: 'another processor took stream "m8" over: slice 2 was not committed here',
    });
    await two.commit(commit(2, second.revision, 'two'));
    // The first one's stale commit of an older slice cannot take the context back either.
    await expect(one.commit(commit(1, afterZero))).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await one.loadContext()).toEqual({ slice: 2, values: { n: 2, by: 'two' } });
    expect((await one.readSlices()).map((s) => [s.index, s.eventIds])).toEqual([
      [0, ['one']],
      [1, ['one']],
      [2, ['two']],
    ]);
    expect((await one.readActions()).map((a) => a.id)).toEqual(['m8:0:one', 'm8:1:one', 'm8:2:two']);
    await one.close();
    await two.close();
  });

  it('a processor that stops hands the events of its open slices back at once: the standby taking over gets them without waiting for the ack wait', async () => {
    const stream = matchStream('m9');
    // Redelivery after the ack wait would come far later than this test waits.
    const first = await createNatsTransport({ streamId: 'm9', servers: nats.url, ackWaitMs: 120_000 });
    const second = await createNatsTransport({ streamId: 'm9', servers: nats.url });
    const options = { stream, heartbeatMs: 0, claimMs: 600 };
    const a = createStreamProcessor({ ...options, engine: testEngine(), transport: first });
    await a.start();
    const b = createStreamProcessor({ ...options, engine: testEngine(), transport: second });
    await b.start();
    // A slice that ends only in a minute: its event stays in an open slice, unacknowledged.
    const later = { id: 'later', ts: Date.now() + 60_000, kind: 'card', stream: 'm9', payload: {} };
    await first.publishEvent(later);
    await expect.poll(() => a.status().eventsIn, waiting('the first takes the event', 30_000)).toBe(1);
    await a.stop();
    await expect.poll(() => b.status().active, waiting('the standby takes over', 30_000)).toBe(true);
    await expect.poll(() => b.status().eventsIn, waiting('the event comes to the standby', 30_000)).toBe(1);
    await b.flush();
    expect(b.status().committedSlice).toBe(Math.floor((later.ts - EPOCH) / 100));
    expect((await second.readSlices()).map((s) => s.eventIds)).toEqual([['later']]);
    await b.stop();
    await first.close();
    await second.close();
  }, 120_000);

  it('refuses a server without JetStream or none at all, with a clear error', async () => {
    await expect(createNatsTransport({ streamId: 'x', servers: 'nats://127.0.0.1:1' })).rejects.toMatchObject(
      {
        code: 'NETWORK',
        message: expect.stringMatching(/^cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/),
      },
    );
  });
});
