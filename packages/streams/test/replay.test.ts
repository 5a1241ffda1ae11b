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
});
