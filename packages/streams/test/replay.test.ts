import { describe, expect, it } from 'vitest';
import { createMemoryTransport, createStreamProcessor, replayStream, runEvents } from '../src/index.js';
import { compiled, crew, testEngine, waiting } from './helpers.js';

const EPOCH = 1_000_000;
const doc = (scorer = '@test/score') => `version: "1.0.0"
id: m
slice: 100ms
epoch: ${EPOCH}
events:
  goal: {}
  card: {}
context:
  keys: { score: counter, scorers: union }
backlog: merge
crews:
${crew('scorer', ['goal'], scorer)}${crew('counter', ['goal', 'card'], '@test/count', {}, ['scorer'])}`;

const log = Array.from({ length: 60 }, (_, i) => ({
  id: `e${i}`,
  ts: EPOCH + i * 17,
  kind: i % 4 === 0 ? 'card' : 'goal',
  stream: 'm',
  payload: { team: 't', points: i % 5, player: `p${i % 3}` },
}));

describe('replay', () => {
  it('the same events give the same slices, actions and context, whatever order they arrive in', async () => {
    const stream = compiled(doc());
    const a = await runEvents({ stream, engine: testEngine(), events: log });
    const b = await runEvents({ stream, engine: testEngine(), events: [...log].reverse() });
    expect(a.records.map((r) => r.slices)).toEqual(b.records.map((r) => r.slices));
    expect(a.actions).toEqual(b.actions);
    expect(a.context).toEqual(b.context);
    expect(a.records.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a recorded live run (with merged slices) replays to the same actions and context', async () => {
    const stream = compiled(doc());
    const transport = createMemoryTransport();
    for (const e of log) await transport.publishEvent(e);
    const processor = createStreamProcessor({ stream, engine: testEngine(), transport });
    await processor.start();
    await expect.poll(() => processor.status().committedSlice, waiting('every slice')).toBe(10);
    await processor.stop();
    const report = await replayStream({
      stream,
      engine: testEngine(),
      events: await transport.readEvents(),
      actions: await transport.readActions(),
      slices: await transport.readSlices(),
    });
    expect(report.mismatches).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.context).toEqual(processor.context());
  });

  it('flags the slices whose actions differ when a crew changed', async () => {
    const recorded = await runEvents({ stream: compiled(doc()), engine: testEngine(), events: log });
    const changed = compiled(doc('@test/count'));
    const report = await replayStream({
      stream: changed,
      engine: testEngine(),
      events: log,
      actions: recorded.actions,
    });
    expect(report.ok).toBe(false);
    expect(report.mismatches[0]).toMatchObject({ slice: 0, message: 'action m:0:scorer:0 differs' });
  });

  it('replays a time range only', async () => {
    const stream = compiled(doc());
    const recorded = await runEvents({ stream, engine: testEngine(), events: log });
    const report = await replayStream({
      stream,
      engine: testEngine(),
      events: log,
      actions: recorded.actions,
      from: EPOCH + 300,
      to: EPOCH + 600,
    });
    expect(report.slicesCompared).toBe(3);
    // A fresh context from `from` on: only the scorer, whose actions quote the score so far, differs.
    expect(report.mismatches.length).toBeGreaterThan(0);
    expect(
      report.mismatches.every((m) => m.message.includes(':scorer:') && m.slice >= 3 && m.slice <= 5),
    ).toBe(true);
    expect(report.actions.map((a) => a.slice)).toEqual(expect.arrayContaining([3, 4, 5]));
    expect(report.actions.every((a) => a.slice >= 3 && a.slice <= 5)).toBe(true);
  });

  it('an id already taken in its slice is dropped and reported; the same id in another slice is another event, as live', async () => {
    const goal = (id: string, ts: number, player: string) => ({
      id,
      ts: EPOCH + ts,
      kind: 'goal',
      stream: 'm',
      payload: { team: 't', points: 1, player },
    });
    const events = [
      goal('e1', 10, 'ada'),
      goal('e2', 20, 'bo'),
      goal('e1', 30, 'cy'), // slice 0 again: a duplicate, dropped
      goal('e1', 10, 'ada'), // the very same event again (a producer's retry): dropped
      goal('e1', 250, 'di'), // slice 2: another event with the same id, taken
    ];
    const file = await runEvents({ stream: compiled(doc()), engine: testEngine(), events });
    expect(file.records.map((r) => [r.index, r.eventIds])).toEqual([
      [0, ['e1', 'e2']],
      [2, ['e1']],
    ]);
    expect(file.context).toMatchObject({ score: 3, scorers: ['ada', 'bo', 'di'] });
    expect(file.errors.map((e) => [e.kind, e.eventId, e.slice, e.error.code, e.error.message])).toEqual([
      [
        'duplicate-event',
        'e1',
        0,
        'CONFLICT',
        'slice 0 already holds an event "e1" (a different one): the first is kept, this one dropped',
      ],
      [
        'duplicate-event',
        'e1',
        0,
        'CONFLICT',
        'slice 0 already holds an event "e1": the first is kept, this one dropped',
      ],
    ]);

    // Live takes the same events: slice by slice (backlog: queue) it ends where the file run
    // does; merging its backlog (slices 0 and 2 at once, e1 in each) it differs, and its
    // recording replays to its actions given its slice records.
    for (const backlog of ['queue', 'merge']) {
      const stream = compiled(doc().replace('backlog: merge', `backlog: ${backlog}`));
      const transport = createMemoryTransport();
      for (const e of events) await transport.publishEvent(e);
      const processor = createStreamProcessor({ stream, engine: testEngine(), transport });
      await processor.start();
      await expect.poll(() => processor.status().committedSlice, waiting('slice 2')).toBe(2);
      await processor.stop();
      const slices = await transport.readSlices();
      if (backlog === 'queue') expect(processor.context()).toEqual(file.context);
      else
        expect(slices.map((r) => [r.slices, r.eventIds])).toEqual([
          [
            [0, 2],
            ['e1', 'e2', 'e1'],
          ],
        ]);
      const recorded = { events: await transport.readEvents(), actions: await transport.readActions() };
      const report = await replayStream({ stream, engine: testEngine(), ...recorded, slices });
      expect(report.mismatches).toEqual([]);
      expect(report).toMatchObject({ ok: true, context: processor.context() });
      if (backlog === 'queue') {
        const plain = await replayStream({ stream, engine: testEngine(), ...recorded });
        expect(plain).toMatchObject({ ok: true, mismatches: [], context: file.context });
      }
    }
  });

  it('refuses an empty range, and a replay that compared no slice is not ok', async () => {
    const stream = compiled(doc());
    const recorded = await runEvents({ stream, engine: testEngine(), events: log });
    const base = { stream, engine: testEngine(), events: log, actions: recorded.actions };
    await expect(replayStream({ ...base, from: EPOCH + 600, to: EPOCH + 300 })).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining(
        'from (1970-01-01T00:16:40.600Z) must be before to (1970-01-01T00:16:40.300Z)',
      ),
    });
    await expect(replayStream({ ...base, from: EPOCH, to: EPOCH })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    const later = await replayStream({ ...base, from: EPOCH + 100_000, to: EPOCH + 200_000 });
    expect(later).toMatchObject({ ok: false, slicesCompared: 0, actionsCompared: 0, mismatches: [] });
    const none = await replayStream({ ...base, events: [], actions: [] });
    expect(none).toMatchObject({ ok: false, slicesCompared: 0 });
  });
});
