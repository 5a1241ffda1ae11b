import { describe, expect, it } from 'vitest';
import { type EngineEvent, EventBus } from '../src/index.js';
import { agent, compile, deferred, journalOf, settle, testEngine } from './helpers.js';

const echo = agent('@t/echo', (input) => input);

const twoSteps = compile({
  metadata: { id: 'evt-wf', name: 'events' },
  steps: [
    { id: 'a', agent: '@t/echo', input: { n: 1 } },
    { id: 'b', agent: '@t/echo', input: { n: 2 }, dependencies: ['a'] },
  ],
});

function event(seq: number, executionId = 'x'): EngineEvent {
  return { seq, ts: seq, elapsedMs: seq, type: 'step.started', executionId, workflowId: 'w' };
}

describe('events', () => {
  it('delivers every journal entry as an event, in order, with the executionId and workflowId', async () => {
    const { engine } = testEngine([echo]);
    const events: EngineEvent[] = [];
    engine.events.subscribe((e) => {
      events.push(e);
    });
    const r = await engine.execute(twoSteps);
    await settle();
    expect(events.map((e) => [e.type, e.stepId])).toEqual([
      ['execution.started', undefined],
      ['step.started', 'a'],
      ['step.completed', 'a'],
      ['step.started', 'b'],
      ['step.completed', 'b'],
      ['execution.completed', undefined],
    ]);
    for (const e of events) expect([e.executionId, e.workflowId]).toEqual([r.executionId, 'evt-wf']);
    // An event is its journal entry plus the two ids.
    const journal = await journalOf(engine, r.executionId);
    expect(events.map(({ executionId: _x, workflowId: _w, ...entry }) => entry)).toEqual(journal);
  });

  it('lets an execution finish while a subscriber never returns from its handler', async () => {
    const { engine } = testEngine([echo]);
    const slowGot: EngineEvent[] = [];
    const fastGot: EngineEvent[] = [];
    engine.events.subscribe((e) => {
      slowGot.push(e);
      return new Promise<void>(() => {});
    });
    engine.events.subscribe((e) => {
      fastGot.push(e);
    });
    const r = await engine.execute(twoSteps);
    expect(r.status).toBe('completed');
    await settle();
    // The stuck subscriber holds its first event; the other one got everything.
    expect(slowGot.map((e) => e.type)).toEqual(['execution.started']);
    expect(fastGot.map((e) => e.type).at(-1)).toBe('execution.completed');
    // A second execution is not held up either.
    expect((await engine.execute(twoSteps)).status).toBe('completed');
  });

  it('keeps delivering to, and running executions despite, a subscriber that throws or rejects', async () => {
    const { engine } = testEngine([echo]);
    const errors: [unknown, string][] = [];
    engine.events.onError = (error, e) => errors.push([error, e.type]);
    let n = 0;
    engine.events.subscribe(() => {
      n++;
      if (n % 2 === 1) throw new Error(`sync ${n}`);
      return Promise.reject(new Error(`async ${n}`));
    });
    const r = await engine.execute(twoSteps);
    expect(r.status).toBe('completed');
    await settle();
    expect(n).toBe(6);
    expect(errors.map(([err, type]) => [(err as Error).message, type])).toEqual([
      ['sync 1', 'execution.started'],
      ['async 2', 'step.started'],
      ['sync 3', 'step.completed'],
      ['async 4', 'step.started'],
      ['sync 5', 'step.completed'],
      ['async 6', 'execution.completed'],
    ]);
  });

  it('bounds the queue of a subscriber busy with a pending promise by dropping the oldest events and counting them', async () => {
    const bus = new EventBus();
    const gate = deferred<void>();
    const got: number[] = [];
    const slow = bus.subscribe(
      async (e) => {
        got.push(e.seq);
        await gate.promise;
      },
      { capacity: 3 },
    );
    const fastGot: number[] = [];
    const fast = bus.subscribe((e) => {
      fastGot.push(e.seq);
    });
    for (let seq = 1; seq <= 10; seq++) bus.publish(event(seq));
    await settle();
    // The queue filled at 3 and was handed over at once: the handler holds 1 and, while its
    // promise is pending, only the 3 newest fit.
    expect(got).toEqual([1]);
    for (let seq = 11; seq <= 15; seq++) bus.publish(event(seq));
    gate.resolve();
    await settle();
    // 8..10 waited and were pushed out by 11..15; the newest 3 remain.
    expect(got).toEqual([1, 13, 14, 15]);
    expect(slow.dropped).toBe(6 + 5);
    expect(fast.dropped).toBe(0);
    expect(fastGot).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(bus.droppedTotal).toBe(11);
  });

  it('hands a full queue to a synchronous subscriber at once instead of dropping events', () => {
    const bus = new EventBus();
    const got: number[] = [];
    const sub = bus.subscribe((e) => void got.push(e.seq), { capacity: 3 });
    for (let seq = 1; seq <= 10; seq++) bus.publish(event(seq));
    // No turn of the event loop has passed: what was delivered came when the queue was full.
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sub.dropped).toBe(0);
  });

  it('loses no event of a burst of executions that never yields to the event loop', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
    const { engine } = testEngine([echo], { logger });
    const got: EngineEvent[] = [];
    const sub = engine.events.subscribe((e) => void got.push(e), { capacity: 10 });
    const ids: string[] = [];
    // Each await settles in microtasks (memory store, synchronous agent): no event-loop turn.
    for (let i = 0; i < 50; i++) ids.push((await engine.execute(twoSteps)).executionId);
    await engine.events.flush();
    let journalled = 0;
    for (const id of ids) journalled += (await journalOf(engine, id)).length;
    expect(got.length).toBe(journalled);
    expect(got.filter((e) => e.type === 'execution.completed').length).toBe(50);
    expect(sub.dropped).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('warns once through the engine logger when a subscriber first loses events', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
    const { engine } = testEngine([echo], { logger });
    const gate = deferred<void>();
    const sub = engine.events.subscribe(() => gate.promise, { capacity: 2 });
    for (let i = 0; i < 3; i++) await engine.execute(twoSteps);
    expect(sub.dropped).toBeGreaterThan(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/fell behind .*capacity \(2\)/);
    gate.resolve();
  });

  it('lets a subscriber that fell behind an execution still see how it ended, with the rest counted as dropped', async () => {
    const { engine } = testEngine([echo]);
    const gate = deferred<void>();
    const got: EngineEvent[] = [];
    const sub = engine.events.subscribe(
      async (e) => {
        got.push(e);
        await gate.promise;
      },
      { capacity: 2 },
    );
    const steps = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, agent: '@t/echo', input: { i } }));
    const r = await engine.execute(compile({ steps }));
    gate.resolve();
    await settle();
    const journal = await journalOf(engine, r.executionId);
    const seqs = got.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(got.at(-1)!.type).toBe('execution.completed');
    // Oldest dropped: after the event the handler was holding, only the newest `capacity` remain.
    expect(seqs.slice(-2)).toEqual(journal.slice(-2).map((e) => e.seq));
    expect(got.length + sub.dropped).toBe(journal.length);
    expect(sub.dropped).toBeGreaterThan(0);
    expect(engine.events.droppedTotal).toBe(sub.dropped);
  });

  it('filters by executionId and by event types', async () => {
    const gate = deferred<void>();
    const gated = agent('@t/gated', async (input) => {
      await gate.promise;
      return input;
    });
    const { engine } = testEngine([echo, gated]);
    const wf = compile({ steps: [{ id: 'g', agent: '@t/gated', input: {} }] });
    const mine: EngineEvent[] = [];
    const completions: EngineEvent[] = [];
    engine.events.subscribe(
      (e) => {
        mine.push(e);
      },
      { executionId: 'exec-1' },
    );
    engine.events.subscribe(
      (e) => {
        completions.push(e);
      },
      { types: ['step.completed', 'execution.completed'] },
    );
    const h1 = await engine.start(wf, { executionId: 'exec-1' });
    const h2 = await engine.start(wf, { executionId: 'exec-2' });
    gate.resolve();
    await Promise.all([h1.result, h2.result]);
    await settle();
    expect(mine.length).toBe(4);
    expect(new Set(mine.map((e) => e.executionId))).toEqual(new Set(['exec-1']));
    expect(completions.map((e) => `${e.executionId} ${e.type}`).sort()).toEqual([
      'exec-1 execution.completed',
      'exec-1 step.completed',
      'exec-2 execution.completed',
      'exec-2 step.completed',
    ]);
  });

  it('stops delivering after unsubscribe, including events already queued', async () => {
    const bus = new EventBus();
    const got: number[] = [];
    const sub = bus.subscribe((e) => {
      got.push(e.seq);
    });
    bus.publish(event(1));
    bus.publish(event(2));
    sub.unsubscribe();
    bus.publish(event(3));
    await settle();
    expect(got).toEqual([]);
    expect(bus.hasSubscribers).toBe(false);
  });
});
