// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type ExecutionResult, type Store } from '../src/index.js';
import { agent, compile, settle, testEngine } from './helpers.js';

const echo = agent('@t/echo', (input) => input);

function setup(store?: Store) {
  const clock = createFakeClock();
  const s = store ?? createMemoryStore({ clock });
  const { engine } = testEngine([echo], { store: s, clock });
  return { clock, store: s, engine };
}

const timerFlow = compile({
  steps: [
    { id: 'wait', wait: { timer: '5m' } },
    { id: 'after', agent: '@t/echo', dependencies: ['wait'], input: { at: '${steps.wait.output.firedAt}' } },
  ],
});

const orderFlow = (wait: Record<string, unknown>) =>
  compile({
    inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
    steps: [{ id: 'w', wait }],
  });
const paid = { name: 'paid', match: 'event.payload.orderId == inputs.orderId' };

async function statusOf(store: Store, id: string) {
  return (await store.getExecution(id))!.status;
}

describe('durable waits', () => {
  it('a timer parks the execution as waiting (out of memory) and resumes it when due', async () => {
    const { clock, store, engine } = setup();
    const h = await engine.start(timerFlow);
    await settle();
    expect(await statusOf(store, h.id)).toBe('waiting');
    expect(engine.isRunning(h.id)).toBe(false);
    expect(engine.stats().executions).toBe(0);
    await clock.advance(299_999);
    expect(await statusOf(store, h.id)).toBe('waiting');
    await clock.advance(1);
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.wait!.startedAt).toBe(r.startedAt);
    expect(r.steps.wait!.output).toEqual({
      dueAt: new Date(300_000 + r.startedAt!).toISOString(),
      firedAt: new Date(300_000 + r.startedAt!).toISOString(),
    });
    const types = (await store.readJournal(h.id)).map((e) => e.type);
    expect(types).toContain('step.waiting');
    expect(types).toContain('execution.waiting');
    expect(types).toContain('step.woken');
  });

  it('a timer of 3d fires 72 hours after the step began, not before', async () => {
    const { clock, store, engine } = setup();
    const h = await engine.start(compile({ steps: [{ id: 'wait', wait: { timer: '3d' } }] }));
    await settle();
    await clock.advance(72 * 3_600_000 - 1);
    expect(await statusOf(store, h.id)).toBe('waiting');
    await clock.advance(1);
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(Date.parse((r.steps.wait!.output as { firedAt: string }).firedAt) - r.startedAt!).toBe(
      72 * 3_600_000,
    );
  });

  it('until a time in the past continues at once', async () => {
    const { store, engine } = setup();
    const r = await engine.execute(orderFlow({ until: '2000-01-01T00:00:00Z' }));
    expect(r.status).toBe('completed');
    expect(await store.waits!.listWaits()).toEqual([]);
  });

  it('a late timer fires when a new engine starts on the same store, once', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const first = testEngine([echo], { store, clock }).engine;
    const h = await first.start(timerFlow);
    await settle();
    await first.shutdown(); // its timer goes with it
    await clock.advance(600_000);
    const second = testEngine([echo], { store, clock }).engine;
    await settle();
    await clock.advance(0);
    await settle();
    const r = (await second.getResult(h.id)) as ExecutionResult;
    expect(r.status).toBe('completed');
    const woken = (await store.readJournal(h.id)).filter((e) => e.type === 'step.woken');
    expect(woken).toHaveLength(1);
  });

  it('an event wakes only the execution whose match it satisfies; the output is the event', async () => {
    const { store, engine } = setup();
    const flow = orderFlow({ event: paid });
    const a = await engine.start(flow, { inputs: { orderId: 'A' } });
    const b = await engine.start(flow, { inputs: { orderId: 'B' } });
    await settle();
    const d = await engine.sendEvent({ name: 'paid', id: 'e1', payload: { orderId: 'B', amount: 5 } });
    expect(d).toEqual({ id: 'e1', accepted: true, woken: 1 });
    const rb = await b.result;
    expect(rb.steps.w!.output).toMatchObject({
      name: 'paid',
      id: 'e1',
      payload: { orderId: 'B', amount: 5 },
    });
    expect(await statusOf(store, a.id)).toBe('waiting');
  });

  it('the same event id delivered twice wakes once', async () => {
    const { engine } = setup();
    const flow = orderFlow({ event: { name: 'ping' } });
    const a = await engine.start(flow, { inputs: {} });
    await settle();
    expect((await engine.sendEvent({ name: 'ping', id: 'x' })).woken).toBe(1);
    await a.result;
    const b = await engine.start(flow, { inputs: {} });
    await settle();
    // b registered after "x": the inbox would match it, but x was already delivered... it is matched by look-back
    expect(await engine.sendEvent({ name: 'ping', id: 'x' })).toEqual({ id: 'x', accepted: false, woken: 0 });
    await b.result;
  });

  it('an event sent just before its wait registered is matched from the inbox (look-back)', async () => {
    const { clock, engine } = setup();
    await engine.sendEvent({ name: 'paid', id: 'early', payload: { orderId: 'A' } });
    await clock.advance(60_000);
    const r = await engine.execute(orderFlow({ event: paid }), { inputs: { orderId: 'A' } });
    expect(r.status).toBe('completed');
    expect(r.steps.w!.output).toMatchObject({ id: 'early' });
  });

  it('an event older than the look-back window is not matched', async () => {
    const { clock, store, engine } = setup();
    await engine.sendEvent({ name: 'paid', id: 'old', payload: { orderId: 'A' } });
    await clock.advance(5 * 60_000 + 1);
    const h = await engine.start(orderFlow({ event: paid }), { inputs: { orderId: 'A' } });
    await settle();
    expect(await statusOf(store, h.id)).toBe('waiting');
  });

  it('the look-back window is the engine option eventLookBackMs', async () => {
    const clock = createFakeClock();
    const { engine } = testEngine([echo], {
      store: createMemoryStore({ clock }),
      clock,
      eventLookBackMs: 1000,
    });
    await engine.sendEvent({ name: 'paid', id: 'e', payload: { orderId: 'A' } });
    await clock.advance(1001);
    const h = await engine.start(orderFlow({ event: paid }), { inputs: { orderId: 'A' } });
    await settle();
    expect((await engine.store.getExecution(h.id))!.status).toBe('waiting');
  });

  it('any: the first matching event of several wakes the step', async () => {
    const { engine } = setup();
    const h = await engine.start(orderFlow({ any: [{ name: 'a' }, { name: 'b' }] }), { inputs: {} });
    await settle();
    await engine.sendEvent({ name: 'b', id: '1', payload: 2 });
    expect((await h.result).steps.w!.output).toMatchObject({ name: 'b', payload: 2 });
  });

  it('all: the step waits for every event and outputs them in the order listed', async () => {
    const { store, engine } = setup();
    const h = await engine.start(orderFlow({ all: [{ name: 'a' }, { name: 'b' }] }), { inputs: {} });
    await settle();
    await engine.sendEvent({ name: 'b', id: '1', payload: 'B' });
    await settle();
    expect(await statusOf(store, h.id)).toBe('waiting');
    await engine.sendEvent({ name: 'a', id: '2', payload: 'A' });
    const out = (await h.result).steps.w!.output as { payload: unknown }[];
    expect(out.map((e) => e.payload)).toEqual(['A', 'B']);
  });

  it('a timeout continues with the onTimeout output (templated)', async () => {
    const { clock, engine } = setup();
    const h = await engine.start(
      orderFlow({ event: paid, timeout: '1h', onTimeout: { output: { late: '${inputs.orderId}' } } }),
      { inputs: { orderId: 'A' } },
    );
    await settle();
    await clock.advance(3_600_000);
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.w!.output).toEqual({ late: 'A' });
  });

  it('a timeout without onTimeout output fails the step with TIMEOUT', async () => {
    const { clock, engine } = setup();
    const h = await engine.start(orderFlow({ event: paid, timeout: '1h' }), { inputs: { orderId: 'A' } });
    await settle();
    await clock.advance(3_600_000);
    const r = await h.result;
    expect(r.status).toBe('failed');
    expect(r.steps.w!.error!.code).toBe('TIMEOUT');
  });

  it('a signal reaches the waits of its execution only', async () => {
    const { store, engine } = setup();
    const flow = orderFlow({ event: { name: 'go' } });
    const a = await engine.start(flow, { inputs: {} });
    const b = await engine.start(flow, { inputs: {} });
    await settle();
    expect((await engine.signal(b.id, 'go', { n: 1 })).woken).toBe(1);
    expect((await b.result).steps.w!.output).toMatchObject({ name: 'go', payload: { n: 1 } });
    expect(await statusOf(store, a.id)).toBe('waiting');
  });
});

describe('approvals', () => {
  const approval = compile({
    inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
    steps: [
      {
        id: 'ok',
        wait: {
          approval: {
            title: 'Refund ${inputs.orderId}?',
            form: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
            approvers: ['ann', 'bob'],
          },
        },
      },
    ],
  });

  it('are listed while pending, with the rendered title', async () => {
    const { engine } = setup();
    const h = await engine.start(approval, { inputs: { orderId: 'A1' } });
    await settle();
    const list = await engine.approvals();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ executionId: h.id, stepId: 'ok', approval: { title: 'Refund A1?' } });
  });

  it('refuse form data that does not satisfy the form, naming the field', async () => {
    const { engine } = setup();
    const h = await engine.start(approval, { inputs: { orderId: 'A1' } });
    await settle();
    await expect(
      engine.decide(h.id, 'ok', { decision: 'approve', by: 'ann', data: {} }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining("'amount'"),
    });
    await expect(
      engine.decide(h.id, 'ok', { decision: 'approve', by: 'ann', data: { amount: 'x' } }),
    ).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('/amount') });
  });

  it('refuse someone who is not an approver', async () => {
    const { engine } = setup();
    const h = await engine.start(approval, { inputs: { orderId: 'A1' } });
    await settle();
    await expect(
      engine.decide(h.id, 'ok', { decision: 'approve', by: 'eve', data: { amount: 1 } }),
    ).rejects.toMatchObject({ code: 'CAPABILITY_DENIED' });
    // Nobody named: the refusal says what is missing.
    await expect(
      engine.decide(h.id, 'ok', { decision: 'approve', data: { amount: 1 } }),
    ).rejects.toMatchObject({
      code: 'CAPABILITY_DENIED',
      message: expect.stringContaining('no "by" names who decides'),
    });
    // A mistyped step: named with the step that waits.
    await expect(engine.decide(h.id, 'okk', { decision: 'approve', by: 'ann' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `step "okk" of execution "${h.id}" is not waiting for a decision (did you mean "ok"? waiting: ok)`,
      details: { waiting: ['ok'] },
    });
  });

  it('approve continues with {approved, by, data} and journals who decided', async () => {
    const { store, engine } = setup();
    const h = await engine.start(approval, { inputs: { orderId: 'A1' } });
    await settle();
    await engine.decide(h.id, 'ok', { decision: 'approve', by: 'ann', data: { amount: 12 } });
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.ok!.output).toEqual({ approved: true, by: 'ann', data: { amount: 12 } });
    const decided = (await store.readJournal(h.id)).find((e) => e.type === 'approval.decided');
    expect(decided!.data).toMatchObject({ decision: 'approved', by: 'ann', data: { amount: 12 } });
    // Decided and moved on: a second decision is a conflict that says how the step ended.
    await expect(engine.decide(h.id, 'ok', { decision: 'reject', by: 'bob' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `step "ok" of execution "${h.id}" no longer waits for a decision: it is completed`,
    });
    // A step that does not exist is still not found.
    await expect(engine.decide(h.id, 'nope', { decision: 'reject', by: 'bob' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `step "nope" of execution "${h.id}" is not waiting for a decision (none of its steps is)`,
    });
  });

  it('reject fails the step with REJECTED', async () => {
    const { engine } = setup();
    const h = await engine.start(approval, { inputs: { orderId: 'A1' } });
    await settle();
    await engine.decide(h.id, 'ok', { decision: 'reject', by: 'bob', comment: 'no' });
    const r = await h.result;
    expect(r.status).toBe('failed');
    expect(r.steps.ok!.error!.code).toBe('REJECTED');
  });

  it('a decision wakes exactly once when two arrive together', async () => {
    const { engine } = setup();
    const h = await engine.start(approval, { inputs: { orderId: 'A1' } });
    await settle();
    const results = await Promise.allSettled([
      engine.decide(h.id, 'ok', { decision: 'approve', by: 'ann', data: { amount: 1 } }),
      engine.decide(h.id, 'ok', { decision: 'reject', by: 'bob' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await h.result).status).toBe('completed');
  });
});

describe('waits among other steps', () => {
  it('a waiting step gives back its concurrency slot at once', async () => {
    const { engine } = setup();
    const flow = compile({
      policies: { concurrency: { maxConcurrentSteps: 1 } },
      steps: [
        { id: 'w', wait: { event: { name: 'go' } } },
        { id: 'work', agent: '@t/echo', input: { x: 1 } },
      ],
    });
    const h = await engine.start(flow);
    await settle();
    const steps = await engine.store.getSteps(h.id);
    expect(steps.find((s) => s.stepId === 'work')!.status).toBe('completed');
    expect(steps.find((s) => s.stepId === 'w')!.status).toBe('waiting');
    await engine.sendEvent({ name: 'go' });
    expect((await h.result).status).toBe('completed');
  });

  it('late timers fire in due order when an engine starts', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const first = testEngine([echo], { store, clock }).engine;
    const later = await first.start(orderFlow({ timer: '2m' }), { inputs: {} });
    const sooner = await first.start(orderFlow({ timer: '1m' }), { inputs: {} });
    await settle();
    await first.shutdown();
    await clock.advance(600_000);
    const woken: string[] = [];
    const second = testEngine([echo], {
      store,
      clock,
      observers: [{ onEvent: (e) => void (e.type === 'step.woken' && woken.push(e.executionId)) }],
    }).engine;
    for (let i = 0; i < 5; i++) await settle();
    expect(woken).toEqual([sooner.id, later.id]);
    expect((await second.getResult(later.id))!.status).toBe('completed');
  });

  it('a rejection under onError continue lets a dependent branch on REJECTED', async () => {
    const { engine } = setup();
    const flow = compile({
      steps: [
        { id: 'ok', onError: 'continue', wait: { approval: { title: 'Go?' } } },
        {
          id: 'sorry',
          agent: '@t/echo',
          dependencies: ['ok'],
          condition: { if: 'steps.ok.error.code == "REJECTED"' },
          input: { rejected: true },
        },
      ],
    });
    const h = await engine.start(flow);
    await settle();
    await engine.decide(h.id, 'ok', { decision: 'reject', by: 'bob' });
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.sorry!.output).toEqual({ rejected: true });
  });

  it('a timeout is journalled as wait.timed_out', async () => {
    const { clock, store, engine } = setup();
    const h = await engine.start(orderFlow({ event: { name: 'never' }, timeout: '1s' }), { inputs: {} });
    await settle();
    await clock.advance(1000);
    await h.result;
    expect((await store.readJournal(h.id)).map((e) => e.type)).toContain('wait.timed_out');
  });

  it('a cancel request recorded while an execution waits is honoured when it is next resumed', async () => {
    const { clock, store, engine } = setup();
    const h = await engine.start(orderFlow({ event: { name: 'go' } }), { inputs: {} });
    await settle();
    expect(await store.requestCancel(h.id, 'not needed', clock.now())).toBe('requested');
    await engine.sendEvent({ name: 'go' });
    expect((await h.result).status).toBe('cancelled');
  });

  it('a cancel request for a waiting execution is acted on within the wait poll interval', async () => {
    const { clock, store, engine } = setup();
    const h = await engine.start(orderFlow({ event: { name: 'never' } }), { inputs: {} });
    await settle();
    await store.requestCancel(h.id, 'no longer needed', clock.now());
    await clock.advance(5000);
    const r = await h.result;
    expect(r.status).toBe('cancelled');
    expect(r.steps.w!.status).toBe('cancelled');
    expect(await store.waits!.listWaits()).toEqual([]);
  });

  it('a store without waits refuses a workflow with a wait step before recording it', async () => {
    const clock = createFakeClock();
    const memory = createMemoryStore({ clock });
    const store: Store = Object.create(memory, { kind: { value: 'postgres' }, waits: { value: undefined } });
    const { engine } = testEngine([echo], { store, clock });
    await expect(engine.start(timerFlow)).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('postgres store does not support yet'),
    });
    expect((await memory.listExecutions()).items).toEqual([]);
  });
});
