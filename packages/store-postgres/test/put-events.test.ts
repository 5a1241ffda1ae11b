/**
 * The PostgreSQL inbox takes a turn of events in one statement. Beyond the wait-store
 * contract: several processes writing the same events at once each learn which were new
 * to them, and every event is kept once.
 */
import type { WaitEvent } from '@orchestr8/core';
import { expect, it } from 'vitest';
import { openPostgresStore } from '../src/index.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

const event = (id: string, receivedAt: number, n = 0): WaitEvent => ({
  name: 'paid',
  id,
  payload: { n },
  receivedAt,
});

it('records a batch without a prune: repeated ids answered false, the first kept, old events left', async () => {
  const store = await openPostgresStore({ url: server.freshSchemaUrl() });
  try {
    expect(await store.waits.putEvent(event('old', 1))).toBe(true);
    expect(await store.waits.putEvents([])).toEqual([]);
    const answers = await store.waits.putEvents([
      event('a', 20, 1),
      event('old', 20),
      event('a', 21, 2),
      event('b', 21),
    ]);
    expect(answers).toEqual([true, false, false, true]);
    expect(await store.waits.recentEvents('paid', 0)).toEqual([
      event('old', 1),
      event('a', 20, 1),
      event('b', 21),
    ]);
  } finally {
    await store.close();
  }
});

it('answers each event true to exactly one of several stores writing the same batches at once', async () => {
  const url = server.freshSchemaUrl();
  const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ url })));
  try {
    const ids = Array.from({ length: 200 }, (_, i) => `e${i}`);
    // Each store sends the ids in its own order, in batches of 50.
    const orders = [ids, [...ids].reverse(), [...ids.slice(100), ...ids.slice(0, 100)]];
    const answers = await Promise.all(
      stores.map(async (s, k) => {
        const mine = new Map<string, boolean>();
        const order = orders[k]!;
        const batches = [0, 50, 100, 150].map((at) => order.slice(at, at + 50));
        const results = await Promise.all(
          batches.map((b) => s.waits.putEvents(b.map((id) => event(id, 100 + k)))),
        );
        for (const [i, b] of batches.entries()) {
          for (const [j, id] of b.entries()) mine.set(id, results[i]![j]!);
        }
        return mine;
      }),
    );
    for (const id of ids)
      expect(
        answers.filter((m) => m.get(id) === true),
        id,
      ).toHaveLength(1);
    expect(await stores[0]!.waits.recentEvents('paid', 0)).toHaveLength(200);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});
