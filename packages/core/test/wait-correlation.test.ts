import type { TemplateScope } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/memory-store.js';
import { correlationOf, eventKeyValue, waitIndexKeys } from '../src/wait-correlation.js';
import type { WaitEvent, WaitRecord } from '../src/waits.js';

const scope = {
  inputs: { orderId: 'o-7', n: 3, flag: true, obj: { a: 1 } },
  steps: {},
  variables: {},
  env: {},
} as unknown as TemplateScope;

describe('the correlation key of a match condition', () => {
  it('pins event.<path> to the value of the other side, either way round and inside ${}', () => {
    expect(correlationOf('event.payload.orderId == inputs.orderId', scope)).toEqual({
      path: 'payload.orderId',
      value: '"o-7"',
    });
    expect(correlationOf('${inputs.n == event.payload.count}', scope)).toEqual({
      path: 'payload.count',
      value: '3',
    });
    expect(correlationOf('event.payload.ok == true', scope)).toEqual({ path: 'payload.ok', value: 'true' });
  });

  it('takes a key from one conjunct of an `and`, whatever the others test', () => {
    expect(
      correlationOf('event.payload.total > 10 and event.payload.orderId == inputs.orderId', scope),
    ).toEqual({ path: 'payload.orderId', value: '"o-7"' });
  });

  it('gives no key where an index could miss a match', () => {
    for (const m of [
      'event.payload.orderId == inputs.orderId or event.payload.all == true', // or: either side may match
      'event.payload.orderId != inputs.orderId',
      'not event.payload.orderId == inputs.orderId',
      'event.payload.a == event.payload.b', // both sides read the event
      'event.payload.obj == inputs.obj', // an object: == compares identity, never true
      'event.payload.x == inputs.missing', // undefined
      '(event.payload.orderId == inputs.orderId)', // parenthesised: not analysed
      'event.payload.n == inputs.n == 3', // a chained relation
      'if event.payload.x == 1 then true else false',
    ])
      expect(correlationOf(m, scope), m).toBeUndefined();
  });

  it('reads the event as the match does: name, id, payload paths and array indexes', () => {
    const e: WaitEvent = { name: 'paid', id: 'e1', payload: { items: [{ sku: 'x' }], n: 2 }, receivedAt: 0 };
    expect(eventKeyValue(e, 'payload.items.0.sku')).toBe('"x"');
    expect(eventKeyValue(e, 'payload.n')).toBe('2');
    expect(eventKeyValue(e, 'id')).toBe('"e1"');
    expect(eventKeyValue(e, 'payload.missing')).toBeUndefined();
    expect(eventKeyValue(e, 'payload.items')).toBeUndefined();
    expect(eventKeyValue(e, 'other')).toBeUndefined();
  });

  it('indexes a pending wait once per event it still listens for', () => {
    const w: WaitRecord = {
      id: 'e/w',
      executionId: 'e',
      stepId: 'w',
      workflowId: 'wf',
      kind: 'all',
      state: 'pending',
      events: ['a', 'b', 'c'],
      correlations: [{ path: 'payload.k', value: '1' }, null, null],
      received: [null, null, { name: 'c', id: '1', payload: null, receivedAt: 0 }],
      version: 0,
      createdAt: 0,
    };
    expect(waitIndexKeys(w)).toEqual([
      { name: 'a', path: 'payload.k', value: '1' },
      { name: 'b', path: '', value: '' },
    ]);
    expect(waitIndexKeys({ ...w, state: 'woken' })).toEqual([]);
  });
});

describe('the memory store event index', () => {
  it('hands an event only the waits keyed to its value, and those without a key', async () => {
    const store = createMemoryStore();
    const ws = store.waits!;
    const mk = (id: string, value: string | undefined, createdAt: number): WaitRecord => ({
      id,
      executionId: 'e',
      stepId: id,
      workflowId: 'wf',
      kind: 'event',
      state: 'pending',
      events: ['paid'],
      ...(value !== undefined ? { correlations: [{ path: 'payload.orderId', value }] } : {}),
      version: 0,
      createdAt,
    });
    for (let i = 0; i < 1000; i++) await ws.putWait(mk(`k${i}`, JSON.stringify(`o-${i}`), i));
    await ws.putWait(mk('free', undefined, 5000));
    const ev = (orderId: unknown): WaitEvent => ({
      name: 'paid',
      id: 'x',
      payload: { orderId },
      receivedAt: 0,
    });
    expect((await ws.waitsForEvent('paid', ev('o-42'))).map((w) => w.id)).toEqual(['k42', 'free']);
    expect((await ws.waitsForEvent('paid', ev(42))).map((w) => w.id)).toEqual(['free']);
    expect(await ws.waitsForEvent('paid')).toHaveLength(1001);
    // Re-registering a wait under another key moves it in the index.
    await ws.putWait(mk('k42', '"o-other"', 42));
    expect((await ws.waitsForEvent('paid', ev('o-42'))).map((w) => w.id)).toEqual(['free']);
    expect((await ws.waitsForEvent('paid', ev('o-other'))).map((w) => w.id)).toEqual(['k42', 'free']);
  });
});
