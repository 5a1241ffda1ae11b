import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import {
  checkEvent,
  createMemoryTransport,
  createStreamProcessor,
  type EventDelivery,
  runEvents,
  type StreamTransport,
} from '../src/index.js';
import { jsonDepth, MAX_EVENT_DEPTH } from '../src/records.js';
import { compiled, crew, testEngine, waiting } from './helpers.js';

const T0 = 1_700_000_000_000;
const stream = compiled(`version: "1.0.0"
id: match
slice: 100ms
epoch: ${T0}
events:
  goal:
    payload: { type: object, required: [team, points, player] }
  card: { payload: { type: array, items: { type: array } } }
context:
  keys: { score: counter, scorers: union }
crews:
${crew('scorer', ['goal'], '@test/score')}`);

/** An event whose payload nests `levels` arrays: `[[...]]`. */
const nested = (id: string, levels: number, at = 50) =>
  JSON.parse(
    `{"id":"${id}","ts":${T0 + at},"kind":"card","stream":"match","payload":${'['.repeat(levels)}${']'.repeat(levels)}}`,
  );
const goal = (id: string, at: number) => ({
  id,
  ts: T0 + at,
  kind: 'goal',
  stream: 'match',
  payload: { team: 'home', points: 1, player: id },
});

describe('deeply nested events', () => {
  it('measures nesting without recursion: 100,000 levels deep gives an answer, not a stack overflow', () => {
    expect(jsonDepth(1)).toEqual({ depth: 0, pointer: '' });
    expect(jsonDepth({})).toEqual({ depth: 1, pointer: '' });
    expect(jsonDepth({ a: [1, { 'b/c': [] }] })).toEqual({ depth: 4, pointer: '/a/1/b~1c' });
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(jsonDepth(deep, MAX_EVENT_DEPTH).depth).toBe(MAX_EVENT_DEPTH + 1);
    expect(jsonDepth(deep).depth).toBe(100_000);
  });

  it(`refuses an event nested more than ${MAX_EVENT_DEPTH} levels deep with a problem naming the limit, and takes one at the limit`, () => {
    // The event object is one level: a payload of 63 nested arrays makes 64.
    expect(checkEvent(nested('ok', MAX_EVENT_DEPTH - 1), stream).event).toBeDefined();
    const refused = checkEvent(nested('deep', MAX_EVENT_DEPTH), stream);
    expect(refused.problems).toEqual([
      {
        pointer: `/payload${'/0'.repeat(MAX_EVENT_DEPTH - 1)}`,
        message: `the event nests objects and arrays more than ${MAX_EVENT_DEPTH} levels deep (itself one level); the limit is ${MAX_EVENT_DEPTH}`,
      },
    ]);
    // 6,000 levels: JSON.stringify (the size measure) overflowed the stack here.
    const hostile = checkEvent(nested('hostile', 6000), stream);
    expect(hostile.problems?.map((p) => p.message)).toEqual([expect.stringContaining('the limit is 64')]);
  });

  it('measures the size on the bytes as received when given them', () => {
    const event = goal('g1', 10);
    expect(checkEvent(event, stream, { bytes: 64 * 1024 }).event).toBeDefined();
    expect(checkEvent(event, stream, { bytes: 64 * 1024 + 1 }).problems).toEqual([
      { pointer: '', message: 'event is 65537 bytes; the limit is 65536' },
    ]);
  });

  it('stream run on events: a deep event is refused and the others processed', async () => {
    const result = await runEvents({
      stream,
      engine: testEngine(),
      events: [goal('g1', 10), nested('deep', 6000, 20), goal('g2', 30)],
    });
    expect(result.errors).toEqual([
      expect.objectContaining({
        kind: 'invalid-event',
        eventId: 'deep',
        error: expect.objectContaining({
          code: 'VALIDATION',
          message: expect.stringContaining('the limit is 64'),
        }),
      }),
    ]);
    expect(result.context).toMatchObject({ score: 2, scorers: ['g1', 'g2'] });
  });

  it('an event the processor cannot handle is refused (invalid-event) and acknowledged: the events after it are processed', async () => {
    const clock = createFakeClock(T0);
    const memory = createMemoryTransport({ clock });
    let handler: ((d: EventDelivery) => void) | undefined;
    const transport: StreamTransport = {
      ...memory,
      consume: (h) => {
        handler = h;
        return memory.consume(h);
      },
    };
    const errors: { kind: string; eventId?: string; error: { code: string } }[] = [];
    const processor = createStreamProcessor({
      stream,
      engine: testEngine(clock),
      transport,
      clock,
      heartbeatMs: 0,
      onError: (e) => errors.push(e),
    });
    await processor.start();
    let acked = 0;
    // An event whose id cannot even be read: a getter that throws.
    const hostile = {
      get id(): string {
        throw new RangeError('Maximum call stack size exceeded');
      },
    };
    handler!({ event: hostile, ack: () => acked++ });
    handler!({ event: goal('g1', 10), ack: () => acked++ });
    expect(errors).toEqual([
      expect.objectContaining({
        kind: 'invalid-event',
        error: expect.objectContaining({ code: 'VALIDATION' }),
      }),
    ]);
    expect(acked).toBe(1);
    await clock.advance(200);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 0')).toBe(0);
    expect(processor.context()).toMatchObject({ score: 1 });
    await processor.stop();
  });
});

describe('redelivered events', () => {
  it('an event delivered again after its slice was committed (its acknowledgement lost) is acknowledged, not reported late', async () => {
    const clock = createFakeClock(T0);
    const memory = createMemoryTransport({ clock });
    let handler: ((d: EventDelivery) => void) | undefined;
    const transport: StreamTransport = {
      ...memory,
      consume: (h) => {
        handler = h;
        return memory.consume(h);
      },
    };
    const errors: { kind: string }[] = [];
    const processor = createStreamProcessor({
      stream,
      engine: testEngine(clock),
      transport,
      clock,
      heartbeatMs: 0,
      onError: (e) => errors.push(e),
    });
    await processor.start();
    let acks = 0;
    handler!({ event: goal('g1', 10), ack: () => acks++ });
    await clock.advance(200);
    await expect.poll(() => processor.status().committedSlice, waiting('slice 0')).toBe(0);
    expect(acks).toBe(1);
    // NATS delivers it again (the acknowledgement was lost while the server was down).
    handler!({ event: goal('g1', 10), ack: () => acks++ });
    expect(acks).toBe(2);
    // A genuinely late event still is.
    handler!({ event: goal('g2', 20), ack: () => acks++ });
    expect(errors.map((e) => e.kind)).toEqual(['late-event']);
    expect(processor.status()).toMatchObject({ lateEvents: 1, eventsIn: 1 });
    expect(processor.context()).toMatchObject({ score: 1, scorers: ['g1'] });
    await processor.stop();
  });
});
