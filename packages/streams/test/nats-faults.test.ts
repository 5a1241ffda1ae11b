import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Orchestr8Error } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createNatsTransport, createStreamProcessor, type StreamErrorRecord } from '../src/index.js';
import { compiled, crew, testEngine, waiting } from './helpers.js';
import { useNats } from './use-nats.js';

const nats = useNats();

const EPOCH = Date.now() - 60_000;

function stream(id: string) {
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
${crew('scorer', ['goal'], '@test/score')}`);
}

/** A goal worth one point scored by a player named after the event: the context counts and names every event applied. */
const goal = (stream: string, id: string, ts = Date.now()) => ({
  id,
  ts,
  kind: 'goal',
  stream,
  payload: { team: 'home', points: 1, player: id },
});

describe('NATS JetStream faults (a real nats-server)', () => {
  it('an event nested 6,000 levels deep is refused and acknowledged; the events after it are processed', async () => {
    const s = stream('f1');
    const transport = await createNatsTransport({ streamId: 'f1', servers: nats.url });
    // Published raw, as a producer in another language would: JSON.stringify overflows on it.
    const nc = await connect({ servers: nats.url });
    const deep = `{"id":"deep","ts":${EPOCH + 50},"kind":"card","stream":"f1","payload":${'['.repeat(6000)}${']'.repeat(6000)}}`;
    await jetstream(nc).publish('o8s.f1.events', deep);
    await nc.close();
    for (let i = 0; i < 5; i++) await transport.publishEvent(goal('f1', `g${i}`, EPOCH + 100 + i));
    const errors: StreamErrorRecord[] = [];
    const processor = createStreamProcessor({
      stream: s,
      engine: testEngine(),
      transport,
      heartbeatMs: 0,
      onError: (e) => errors.push(e),
    });
    await processor.start();
    await expect.poll(() => processor.status().committedSlice, waiting('slice 1', 30_000)).toBe(1);
    expect(processor.context()).toMatchObject({ score: 5 });
    expect(errors).toEqual([
      expect.objectContaining({
        kind: 'invalid-event',
        eventId: 'deep',
        error: expect.objectContaining({
          code: 'VALIDATION',
          message: expect.stringContaining('the limit is 64'),
        }),
      }),
    ]);
    expect(processor.status().invalidEvents).toBe(1);
    await processor.stop();
    // Nothing is left waiting: the deep event was acknowledged with the others.
    const probe = await createNatsTransport({ streamId: 'f1', servers: nats.url });
    const c = await probe.consume(() => {});
    expect(c.backlog).toBe(0);
    await c.stop();
    await probe.close();
    await transport.close();
  }, 60_000);

  it('a processor taking over from one that died holding events waits for them to come back before it closes a slice, while new events keep coming: each event applied once, none late', async () => {
    const s = stream('f2');
    const ackWaitMs = 4000;
    // The first processor's own connection: closing it is its death (nothing acknowledged, nothing handed back).
    const doomed = await connect({ servers: nats.url });
    const warnings: Orchestr8Error[] = [];
    const first = await createNatsTransport({
      streamId: 'f2',
      connection: doomed,
      ackWaitMs,
      onError: (e) => warnings.push(e),
    });
    const second = await createNatsTransport({ streamId: 'f2', servers: nats.url });
    const options = { stream: s, heartbeatMs: 0, claimMs: 1000 };
    // A grace of a minute: the first closes no slice, so it holds every event it took.
    const a = createStreamProcessor({ ...options, engine: testEngine(), transport: first, graceMs: 60_000 });
    await a.start();
    const ids: string[] = [];
    const publish = async () => {
      const id = `e${ids.length}`;
      ids.push(id);
      await second.publishEvent(goal('f2', id));
    };
    for (let i = 0; i < 20; i++) await publish();
    await expect.poll(() => a.status().eventsIn, waiting('the first takes 20 events', 30_000)).toBe(20);
    await doomed.close();

    const errors: StreamErrorRecord[] = [];
    const b = createStreamProcessor({
      ...options,
      engine: testEngine(),
      transport: second,
      onError: (e) => errors.push(e),
    });
    await b.start();
    // New events every 50 ms while the second takes over and the held ones are on their way back.
    let publishing = true;
    const producer = (async () => {
      while (publishing) {
        await publish();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await expect.poll(() => b.status().active, waiting('the second takes over', 30_000)).toBe(true);
    // The held events come back after the ack wait (counted from the first's last keep-alive).
    await expect
      .poll(
        () => (b.context().scorers as string[] | undefined)?.includes('e0') ?? false,
        waiting('the held events applied', 60_000),
      )
      .toBe(true);
    publishing = false;
    await producer;
    await b.flush();
    await expect.poll(() => b.context().score, waiting('every event applied', 30_000)).toBe(ids.length);
    expect(errors.filter((e) => e.kind === 'late-event')).toEqual([]);
    expect([...(b.context().scorers as string[])].sort()).toEqual([...ids].sort());
    await b.stop();
    await a.stop();
    await first.close();
    await second.close();
  }, 120_000);

  it('a NATS failure is a retryable NETWORK error naming what failed, not an untyped one', async () => {
    const nc = await connect({ servers: nats.url });
    const transport = await createNatsTransport({ streamId: 'f3', connection: nc });
    const { revision } = await transport.takeContext();
    await nc.close();
    const record = {
      stream: 'f3',
      index: 0,
      slices: [0],
      skipped: [],
      eventIds: [],
      actionIds: [],
      crews: [],
      durationMs: 0,
    };
    await expect(
      transport.commit({ record, actions: [], context: { slice: 0, values: {} }, revision }),
    ).rejects.toMatchObject({
      code: 'NETWORK',
      retryable: true,
      message: expect.stringMatching(/^NATS: reading the context to commit slice 0 failed: /),
    });
    await expect(transport.publishEvent(goal('f3', 'x'))).rejects.toMatchObject({ code: 'NETWORK' });
    await expect(transport.claim({ owner: 'me', until: 1, now: 0 })).rejects.toMatchObject({
      code: 'NETWORK',
    });
    await transport.close();
  });
});
