import { join } from 'node:path';
import { createFakeClock } from '@orchestr8/common';
import { createEngine } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/index.js';
import { PENDING_APPROVALS_AFTER_SQL, PENDING_APPROVALS_SQL } from '../src/sqlite-waits.js';
import { useTempDir } from './helpers.js';

const tempDir = useTempDir();
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
};
const compile = (steps: unknown[]) => {
  const r = validateWorkflowObject({
    version: '1.0.0',
    metadata: { id: 'waits' },
    inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
    steps,
  });
  if (!r.workflow) throw new Error(JSON.stringify(r.diagnostics));
  return r.workflow;
};
const registry = { get: () => undefined, has: () => false, list: () => [] };

describe('waits on SQLite', () => {
  it('a timer survives the process: a new engine on the same file fires it once', async () => {
    const path = join(tempDir(), 'o.db');
    const clock = createFakeClock();
    const store1 = await openSqliteStore({ path, clock });
    const e1 = createEngine({ registry, store: store1, clock });
    const h = await e1.start(compile([{ id: 't', wait: { timer: '1h' } }]));
    await settle();
    expect((await store1.getExecution(h.id))!.status).toBe('waiting');
    await e1.close();
    await store1.close();

    await clock.advance(2 * 3_600_000);
    const store2 = await openSqliteStore({ path, clock });
    const e2 = createEngine({ registry, store: store2, clock });
    const e3 = createEngine({ registry, store: store2, clock }); // a second engine racing for it
    for (let i = 0; i < 20 && (await store2.getExecution(h.id))!.status !== 'completed'; i++) await settle();
    const r = await e2.getResult(h.id);
    expect(r!.status).toBe('completed');
    expect((await store2.readJournal(h.id)).filter((e) => e.type === 'step.woken')).toHaveLength(1);
    expect(await store2.waits!.listWaits()).toEqual([]);
    await e2.close();
    await e3.close();
    await store2.close();
  });

  it('events are idempotent, kept for late waits, and wake only the matching execution', async () => {
    const clock = createFakeClock();
    const store = await openSqliteStore({ path: join(tempDir(), 'o.db'), clock });
    const engine = createEngine({ registry, store, clock });
    const flow = compile([
      { id: 'w', wait: { event: { name: 'paid', match: 'event.payload.orderId == inputs.orderId' } } },
    ]);
    expect(await engine.sendEvent({ name: 'paid', id: 'e0', payload: { orderId: 'early' } })).toMatchObject({
      accepted: true,
    });
    expect(await engine.sendEvent({ name: 'paid', id: 'e0', payload: { orderId: 'early' } })).toMatchObject({
      accepted: false,
    });
    const early = await engine.start(flow, { inputs: { orderId: 'early' } });
    expect((await early.result).steps.w!.output).toMatchObject({ id: 'e0' });
    const a = await engine.start(flow, { inputs: { orderId: 'A' } });
    const b = await engine.start(flow, { inputs: { orderId: 'B' } });
    await settle();
    expect(await engine.sendEvent({ name: 'paid', id: 'e1', payload: { orderId: 'A' } })).toMatchObject({
      woken: 1,
    });
    expect((await a.result).status).toBe('completed');
    expect((await store.getExecution(b.id))!.status).toBe('waiting');
    expect((await store.listExecutions({ status: 'waiting' })).items.map((e) => e.id)).toEqual([b.id]);
    expect(await store.waits!.waitingCancels()).toEqual([]);
    await store.requestCancel(b.id, 'not needed', clock.now());
    expect(await store.waits!.waitingCancels()).toEqual([b.id]);
    await engine.close();
    await store.close();
  });

  it('approvals validate the form and continue on approve', async () => {
    const clock = createFakeClock();
    const store = await openSqliteStore({ path: join(tempDir(), 'o.db'), clock });
    const engine = createEngine({ registry, store, clock });
    const h = await engine.start(
      compile([
        {
          id: 'ok',
          wait: { approval: { title: 'Refund?', form: { type: 'object', required: ['amount'] } } },
        },
      ]),
    );
    await settle();
    expect(await engine.approvals()).toMatchObject([{ executionId: h.id, stepId: 'ok' }]);
    await expect(
      engine.decide(h.id, 'ok', { decision: 'approve', by: 'ann', data: {} }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await engine.decide(h.id, 'ok', { decision: 'approve', by: 'ann', data: { amount: 3 } });
    expect((await h.result).steps.ok!.output).toEqual({ approved: true, by: 'ann', data: { amount: 3 } });
    await engine.close();
    await store.close();
  });

  it('an event reads its waits through the index: only those keyed to its value, and those without a key', async () => {
    const clock = createFakeClock();
    const path = join(tempDir(), 'o.db');
    const store = await openSqliteStore({ path, clock });
    const engine = createEngine({ registry, store, clock });
    const flow = compile([
      { id: 'w', wait: { event: { name: 'paid', match: 'event.payload.orderId == inputs.orderId' } } },
    ]);
    const any = compile([{ id: 'w', wait: { event: { name: 'paid' } } }]);
    const handles = [];
    for (let i = 0; i < 50; i++) handles.push(await engine.start(flow, { inputs: { orderId: `o-${i}` } }));
    const free = await engine.start(any);
    await settle();
    const ws = store.waits!;
    const ev = { name: 'paid', id: 'x', payload: { orderId: 'o-7' }, receivedAt: clock.now() };
    expect((await ws.waitsForEvent('paid', ev)).map((w) => w.executionId).sort()).toEqual(
      [handles[7]!.id, free.id].sort(),
    );
    expect(await ws.waitsForEvent('paid')).toHaveLength(51);
    // The lookup seeks the index rather than scanning the waits.
    const { default: Database } = await import('libsql');
    const db = new Database(path, { readonly: true });
    const plan = (
      db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT w.id, w.body FROM wait_keys k JOIN waits w ON w.id = k.wait_id
           WHERE k.name = ? AND k.path = ? AND k.value = ? AND w.state = 'pending'`,
        )
        .all(['paid', 'payload.orderId', '"o-7"']) as { detail: string }[]
    ).map((r) => r.detail);
    db.close();
    expect(plan.join('\n')).toMatch(/SEARCH k USING PRIMARY KEY \(name=\? AND path=\? AND value=\?\)/);
    expect(plan.join('\n')).not.toMatch(/SCAN/);
    expect(await engine.sendEvent({ ...ev, id: 'e7' })).toMatchObject({ woken: 2 });
    expect((await handles[7]!.result).status).toBe('completed');
    expect((await free.result).status).toBe('completed');
    expect((await store.getExecution(handles[8]!.id))!.status).toBe('waiting');
    await engine.close();
    await store.close();
  });

  it('pending approvals are paged through their own index, among many other waits, oldest first from a cursor', async () => {
    const path = join(tempDir(), 'o.db');
    const clock = createFakeClock();
    const store = await openSqliteStore({ path, clock });
    const engine = createEngine({ registry, store, clock });
    const approval = compile([{ id: 'ok', wait: { approval: { title: 'Ship?' } } }]);
    const timer = compile([{ id: 't', wait: { timer: '1h' } }]);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      await engine.start(timer);
      ids.push((await engine.start(approval)).id);
      await clock.advance(1);
    }
    await settle();
    const ws = store.waits!;
    const first = await ws.listWaits({ kind: 'approval', state: 'pending', limit: 10 });
    expect(first.map((w) => w.executionId)).toEqual(ids.slice(0, 10));
    const last = first.at(-1)!;
    const next = await ws.listWaits({
      kind: 'approval',
      state: 'pending',
      limit: 100,
      after: { createdAt: last.createdAt, id: last.id },
    });
    expect(next.map((w) => w.executionId)).toEqual(ids.slice(10));
    // Both statements search the partial index; neither scans or sorts the waits.
    const { default: Database } = await import('libsql');
    const db = new Database(path, { readonly: true });
    const plan = (sql: string, params: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[])
        .map((r) => r.detail)
        .join('\n');
    for (const p of [plan(PENDING_APPROVALS_SQL, [10]), plan(PENDING_APPROVALS_AFTER_SQL, [0, '', 10])]) {
      expect(p).toMatch(/waits_pending_approvals/);
      expect(p).not.toMatch(/TEMP B-TREE/);
    }
    db.close();
    await engine.close();
    await store.close();
  });
});
