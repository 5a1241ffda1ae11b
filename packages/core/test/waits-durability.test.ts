import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type Store } from '../src/index.js';
import { agent, compile, settle, testEngine } from './helpers.js';

const echo = agent('@t/echo', (input) => input);

async function statusOf(store: Store, id: string) {
  return (await store.getExecution(id))!.status;
}

const deadlineFlow = compile({
  policies: { timeout: { global: '1h' } },
  steps: [
    { id: 'w', wait: { event: { name: 'paid' } } },
    { id: 'after', agent: '@t/echo', dependencies: ['w'], input: {} },
  ],
});

describe('the global timeout of an execution that waits', () => {
  it('fires while the execution is out of memory, failing it with TIMEOUT', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const { engine } = testEngine([echo], { store, clock });
    const h = await engine.start(deadlineFlow);
    await settle();
    expect(await statusOf(store, h.id)).toBe('waiting');
    expect(engine.isRunning(h.id)).toBe(false);
    await clock.advance(3_600_000 - 1);
    expect(await statusOf(store, h.id)).toBe('waiting');
    await clock.advance(1);
    const r = await h.result;
    expect(r.status).toBe('failed');
    expect(r.error!.code).toBe('TIMEOUT');
    expect(r.steps.w!.status).toBe('cancelled');
    expect(r.steps.w!.statusReason).toBe('execution failed while this step waited');
    expect(r.steps.after!.status).toBe('cancelled');
    expect((await store.readJournal(h.id)).filter((e) => e.type === 'timeout.exceeded')).toHaveLength(1);
    expect(await store.waits!.listWaits()).toEqual([]);
    // The event comes too late: nothing is waiting for it.
    expect((await engine.sendEvent({ name: 'paid' })).woken).toBe(0);
    await engine.close();
  });

  it('fires once after a restart when the deadline passed while no engine ran', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const first = testEngine([echo], { store, clock }).engine;
    const h = await first.start(deadlineFlow);
    await settle();
    await first.shutdown();
    await clock.advance(2 * 3_600_000);
    const second = testEngine([echo], { store, clock }).engine;
    const third = testEngine([echo], { store, clock }).engine; // racing for the same deadline
    for (let i = 0; i < 20 && (await statusOf(store, h.id)) === 'waiting'; i++) {
      await clock.advance(0);
      await settle();
    }
    await settle();
    expect(await statusOf(store, h.id)).toBe('failed');
    expect((await second.getResult(h.id))!.error!.code).toBe('TIMEOUT');
    expect((await store.readJournal(h.id)).filter((e) => e.type === 'timeout.exceeded')).toHaveLength(1);
    await second.close();
    await third.close();
  });

  it('is dropped when the execution wakes in time, and times the resumed run as before', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const { engine } = testEngine([echo], { store, clock });
    const h = await engine.start(deadlineFlow);
    await settle();
    expect((await store.waits!.listWaits()).map((w) => w.stepId).sort()).toEqual(['#deadline', 'w']);
    await clock.advance(1_000);
    await engine.sendEvent({ name: 'paid' });
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(await store.waits!.listWaits()).toEqual([]);
    await engine.close();
  });
});

describe('results of executions that waited', () => {
  it('resolve in the process that started them when another process finishes them', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const a = testEngine([echo], { store, clock, waitPollMs: 1000 }).engine;
    const b = testEngine([echo], { store, clock, wakeWaits: false }).engine;
    const flow = compile({ steps: [{ id: 'w', wait: { event: { name: 'go' } } }] });
    const h = await a.start(flow);
    await settle();
    expect(await statusOf(store, h.id)).toBe('waiting');
    // b takes the event: it resumes and finishes the execution a parked.
    expect((await b.sendEvent({ name: 'go' })).woken).toBe(1);
    for (let i = 0; i < 20 && (await statusOf(store, h.id)) !== 'completed'; i++) await settle();
    expect(await statusOf(store, h.id)).toBe('completed');
    let resolved = false;
    void h.result.then(() => {
      resolved = true;
    });
    await settle();
    expect(resolved).toBe(false);
    await clock.advance(1000); // a's next look at the store
    await settle();
    expect(resolved).toBe(true);
    expect((await h.result).status).toBe('completed');
    // how it ended, not how its last run began ('woken')
    expect((await store.getExecution(h.id))!.statusReason).toBe('all steps finished');
    await a.close();
    await b.close();
  });
});

describe('idempotent decisions and signals', () => {
  const approval = compile({
    steps: [{ id: 'ok', wait: { approval: { title: 'Ship?', form: { type: 'object', required: ['n'] } } } }],
  });

  it('a decision repeated with its Idempotency-Key gets the first answer, also once the step moved on', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const { engine } = testEngine([echo], { store, clock });
    const h = await engine.start(approval);
    await settle();
    const d = { decision: 'approve' as const, by: 'ann', data: { n: 1 }, idempotencyKey: 'k1' };
    const [first, again] = await Promise.all([engine.decide(h.id, 'ok', d), engine.decide(h.id, 'ok', d)]);
    expect(again).toEqual(first);
    expect(first).toMatchObject({ executionId: h.id, stepId: 'ok', decision: 'approved', by: 'ann' });
    expect((await h.result).status).toBe('completed');
    expect(await store.waits!.getWait(`${h.id}/ok`)).toBeUndefined();
    expect(await engine.decide(h.id, 'ok', d)).toEqual(first);
    const decided = (await store.readJournal(h.id)).filter((e) => e.type === 'approval.decided');
    expect(decided).toHaveLength(1);
    // The same key for another decision is refused; without a key the repeat is a CONFLICT (the step finished).
    await expect(
      engine.decide(h.id, 'ok', { ...d, decision: 'reject', comment: 'no' }),
    ).rejects.toMatchObject({ code: 'CONFLICT', details: { idempotencyKeyReused: true } });
    await expect(engine.decide(h.id, 'ok', { decision: 'approve', data: { n: 1 } })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await engine.close();
  });

  it('a failed decision is not remembered: the same key may try again', async () => {
    const clock = createFakeClock();
    const { engine } = testEngine([echo], { store: createMemoryStore({ clock }), clock });
    const h = await engine.start(approval);
    await settle();
    await expect(
      engine.decide(h.id, 'ok', { decision: 'approve', data: {}, idempotencyKey: 'k' }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(
      engine.decide(h.id, 'ok', { decision: 'approve', data: { n: 2 }, idempotencyKey: 'k' }),
    ).resolves.toMatchObject({ decision: 'approved' });
    expect((await h.result).steps.ok!.output).toMatchObject({ data: { n: 2 } });
    await engine.close();
  });

  it('a signal repeated with its id gets the first answer, until the answer expires', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const { engine } = testEngine([echo], { store, clock, eventLookBackMs: 1000 });
    const flow = compile({ steps: [{ id: 'w', wait: { event: { name: 'go' } } }] });
    const h = await engine.start(flow);
    await settle();
    const first = await engine.signal(h.id, 'go', { n: 1 }, 'sig-1', { idempotencyTtlMs: 60_000 });
    expect(first).toMatchObject({ accepted: true, woken: 1 });
    await h.result;
    // Past the inbox look-back window, but within the answer's lifetime.
    await clock.advance(30_000);
    expect(await engine.signal(h.id, 'go', { n: 1 }, 'sig-1')).toEqual(first);
    await expect(engine.signal(h.id, 'go', { n: 2 }, 'sig-1')).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { idempotencyKeyReused: true },
    });
    await clock.advance(60_000);
    expect(await engine.signal(h.id, 'go', { n: 1 }, 'sig-1')).toMatchObject({ woken: 0 });
    await engine.close();
  });
});
