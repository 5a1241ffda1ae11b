import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/memory-store.js';
import { defineStoreContract, entry, execution, step } from './store-contract.js';

defineStoreContract('memory', async () => ({ store: createMemoryStore() }));

describe('memory store', () => {
  it('uses the injected clock to decide whether a claim has expired', async () => {
    const clock = createFakeClock(10_000);
    const store = createMemoryStore({ clock });
    const claim = { key: 'k', fingerprint: 'f', expiresAt: 10_500 };
    expect((await store.createExecution(execution(), claim)).created).toBe(true);
    expect((await store.createExecution(execution(), claim)).created).toBe(false);
    await clock.advance(500);
    expect((await store.createExecution(execution(), claim)).created).toBe(true);
    const record = await store.findIdempotency('k', clock.now() - 1);
    expect(record?.createdAt).toBe(10_500);
  });

  it('keeps the references it is given rather than copying on write', async () => {
    const store = createMemoryStore();
    const e = execution();
    await store.createExecution(e);
    const s = step(e.id, 'a');
    await store.write([{ kind: 'step', step: s }]);
    // Documented ownership rule: a written record belongs to the store.
    s.status = 'completed';
    expect((await store.getSteps(e.id))[0]!.status).toBe('completed');
  });

  it('writes a scheduler turn in well under a microsecond per record', async () => {
    const store = createMemoryStore();
    const e = execution();
    await store.createExecution(e);
    const turns = 20_000;
    let seq = 0;
    const started = performance.now();
    for (let i = 0; i < turns; i++) {
      await store.write([
        { kind: 'step', step: step(e.id, `s${i % 10}`) },
        { kind: 'journal', executionId: e.id, entries: [entry(++seq), entry(++seq), entry(++seq)] },
      ]);
    }
    const usPerTurn = ((performance.now() - started) * 1000) / turns;
    expect((await store.readJournal(e.id)).length).toBe(seq);
    // Generous bound so CI noise cannot fail it; typical is well under 1µs.
    expect(usPerTurn).toBeLessThan(20);
  });
});
