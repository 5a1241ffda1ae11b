import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import {
  createMemoryStore,
  type Engine,
  type EventDelivery,
  type Store,
  type WaitRecord,
  type WaitStore,
} from '../src/index.js';
import { agent, compile, settle, testEngine } from './helpers.js';

const echo = agent('@t/echo', (input) => input);

const orderFlow = compile({
  inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
  steps: [{ id: 'w', wait: { event: { name: 'paid', match: 'event.payload.orderId == inputs.orderId' } } }],
});

/**
 * A memory store whose `putWait` first runs `before` (once): the wait step has read the inbox
 * and is about to register its wait, exactly when `before` runs.
 */
function storeWithHook(before: (w: WaitRecord) => Promise<void>): Store {
  const clock = createFakeClock();
  const inner = createMemoryStore({ clock });
  let hooked = false;
  const waits: WaitStore = {
    ...inner.waits!,
    async putWait(w) {
      if (!hooked) {
        hooked = true;
        await before(w);
      }
      return inner.waits!.putWait(w);
    },
  };
  return new Proxy(inner, { get: (t, k) => (k === 'waits' ? waits : Reflect.get(t, k)) });
}

describe('an event racing the registration of its wait', () => {
  it('delivered between the inbox look-up and the registration, it still wakes the wait, once', async () => {
    let engine!: Engine;
    let delivery: EventDelivery | undefined;
    const store = storeWithHook(async () => {
      delivery = await engine.sendEvent({ name: 'paid', id: 'p-1', payload: { orderId: 'o-1' } });
    });
    engine = testEngine([echo], { store }).engine;
    const h = await engine.start(orderFlow, { inputs: { orderId: 'o-1' } });
    await settle();
    // The interleaving happened: the event was accepted while no wait was registered.
    expect(delivery).toEqual({ id: 'p-1', accepted: true, woken: 0 });
    expect((await store.getExecution(h.id))!.status).toBe('completed');
    const r = await h.result;
    expect(r.steps.w!.output).toMatchObject({ name: 'paid', id: 'p-1', payload: { orderId: 'o-1' } });
    const woken = (await store.readJournal(h.id)).filter((e) => e.type === 'step.woken');
    expect(woken).toHaveLength(1);
    expect(await store.waits!.listWaits({ executionId: h.id, state: 'pending' })).toEqual([]);
  });

  it('an event for another order landing then leaves the wait waiting; its own event wakes it once', async () => {
    let engine!: Engine;
    const store = storeWithHook(async () => {
      await engine.sendEvent({ name: 'paid', id: 'p-2', payload: { orderId: 'o-2' } });
    });
    engine = testEngine([echo], { store }).engine;
    const h = await engine.start(orderFlow, { inputs: { orderId: 'o-1' } });
    await settle();
    expect((await store.getExecution(h.id))!.status).toBe('waiting');
    const d = await engine.sendEvent({ name: 'paid', id: 'p-1', payload: { orderId: 'o-1' } });
    expect(d.woken).toBe(1);
    const r = await h.result;
    expect(r.status).toBe('completed');
    expect(r.steps.w!.output).toMatchObject({ id: 'p-1' });
    expect((await store.readJournal(h.id)).filter((e) => e.type === 'step.woken')).toHaveLength(1);
  });
});
