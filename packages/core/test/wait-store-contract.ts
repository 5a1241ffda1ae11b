/**
 * More of what every `WaitStore` must do, beyond the store contract's waits section: the
 * rules the wait services across processes rely on (a claim never revives a woken wait,
 * partial claims of an all-of wait, the queries the services make, cancels of waiting
 * executions). Each store with waits runs it: memory (core), SQLite and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/store.js';
import type { WaitEvent, WaitRecord, WaitStore } from '../src/waits.js';
import { execution } from './store-contract.js';

export interface WaitStoreContractContext {
  store: Store;
  cleanup?: () => Promise<void>;
}

export function defineWaitStoreContract(
  name: string,
  factory: () => Promise<WaitStoreContractContext>,
): void {
  describe(`${name} wait store contract`, () => {
    let ctx: WaitStoreContractContext;
    let store: Store;
    let ws: WaitStore;

    beforeEach(async () => {
      ctx = await factory();
      store = ctx.store;
      if (store.waits === undefined) throw new Error(`the ${name} store has no waits`);
      ws = store.waits;
    });
    afterEach(async () => {
      await store.close();
      await ctx.cleanup?.();
    });

    const seed = async (status: 'waiting' | 'running' = 'waiting') => {
      const e = execution({ status });
      expect((await store.createExecution(e)).created).toBe(true);
      return e;
    };
    const wait = (executionId: string, o: Partial<WaitRecord> = {}): WaitRecord => ({
      id: `${executionId}/${o.stepId ?? 'w'}`,
      executionId,
      stepId: 'w',
      workflowId: 'wf',
      kind: 'event',
      state: 'pending',
      events: ['paid'],
      version: 0,
      createdAt: 1,
      ...o,
    });
    const event = (name: string, id: string, payload: unknown = null): WaitEvent => ({
      name,
      id,
      payload,
      receivedAt: 10,
    });

    it('never claims a woken wait again, nor a missing one, whatever the version', async () => {
      const e = await seed();
      const w = wait(e.id);
      await ws.putWait(w);
      const woken: WaitRecord = { ...w, state: 'woken', version: 1, outcome: { kind: 'event', at: 2 } };
      expect(await ws.claimWait(w.id, 0, woken)).toBe(true);
      expect(await ws.claimWait(w.id, 1, { ...woken, version: 2 })).toBe(false);
      expect(await ws.claimWait(w.id, 0, { ...woken, version: 2 })).toBe(false);
      expect(await ws.claimWait('nope', 0, woken)).toBe(false);
      expect(await ws.getWait(w.id)).toEqual(woken);
    });

    it('keeps an all-of wait pending after a partial claim, found by the events it still needs', async () => {
      const e = await seed();
      const w = wait(e.id, { kind: 'all', events: ['paid', 'shipped'] });
      await ws.putWait(w);
      const paid = event('paid', 'p1');
      const partial: WaitRecord = { ...w, received: [paid, null], version: 1 };
      expect(await ws.claimWait(w.id, 0, partial)).toBe(true);
      expect(await ws.getWait(w.id)).toEqual(partial);
      // A stale partial claim (the version moved) loses.
      expect(await ws.claimWait(w.id, 0, { ...partial, received: [event('paid', 'p2'), null] })).toBe(false);
      const ids = async (name: string) => (await ws.waitsForEvent(name, event(name, 'x'))).map((x) => x.id);
      expect(await ids('shipped')).toEqual([w.id]);
      expect(await ids('paid')).toEqual([]);
    });

    it('lists waits by kind, execution and state, up to a limit', async () => {
      const a = await seed();
      const b = await seed();
      await ws.putWait(wait(a.id, { stepId: 'x', createdAt: 1 }));
      await ws.putWait(
        wait(a.id, {
          stepId: 'y',
          kind: 'approval',
          events: undefined,
          approval: { title: 'ok?' },
          createdAt: 2,
        }),
      );
      await ws.putWait(wait(b.id, { stepId: 'z', createdAt: 3 }));
      // Compared as sets: the order has its own test below.
      const ids = (list: WaitRecord[]) => list.map((w) => w.id).sort();
      expect(ids(await ws.listWaits())).toEqual([`${a.id}/x`, `${a.id}/y`, `${b.id}/z`].sort());
      expect(ids(await ws.listWaits({ executionId: a.id }))).toEqual([`${a.id}/x`, `${a.id}/y`].sort());
      expect(ids(await ws.listWaits({ kind: 'approval', state: 'pending' }))).toEqual([`${a.id}/y`]);
      expect(ids(await ws.listWaits({ state: 'woken' }))).toEqual([]);
      expect(await ws.listWaits({ limit: 2 })).toHaveLength(2);
    });

    it('lists waits in (createdAt, id) order and pages them with limit and after, each once', async () => {
      const e = await seed();
      const other = await seed();
      // Put in no particular order; two share createdAt 5 (the id breaks the tie); one is woken
      // and one is another kind, which the query leaves out.
      const approval = (stepId: string, createdAt: number): WaitRecord =>
        wait(e.id, { stepId, kind: 'approval', events: undefined, approval: { title: stepId }, createdAt });
      for (const [stepId, at] of [
        ['d', 7],
        ['b', 5],
        ['f', 9],
        ['a', 3],
        ['c', 5],
        ['e', 8],
      ] as const)
        await ws.putWait(approval(stepId, at));
      await ws.putWait(wait(other.id, { stepId: 'event', createdAt: 4 }));
      const woken = approval('woken', 6);
      await ws.putWait(woken);
      await ws.claimWait(woken.id, 0, {
        ...woken,
        state: 'woken',
        version: 1,
        outcome: { kind: 'approved', at: 7 },
      });

      const query = { kind: 'approval', state: 'pending' } as const;
      expect((await ws.listWaits(query)).map((w) => w.stepId)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      expect((await ws.listWaits()).map((w) => w.stepId)).toEqual([
        'a',
        'event',
        'b',
        'c',
        'woken',
        'd',
        'e',
        'f',
      ]);
      const pages: string[][] = [];
      let after: { createdAt: number; id: string } | undefined;
      // Bounded: a store that ignored `after` would give the first page forever.
      for (let i = 0; i < 10; i++) {
        const page = await ws.listWaits({ ...query, limit: 2, ...(after !== undefined ? { after } : {}) });
        if (page.length === 0) break;
        pages.push(page.map((w) => w.stepId));
        const last = page[page.length - 1]!;
        after = { createdAt: last.createdAt, id: last.id };
      }
      // The page boundary falls between b and c, which share createdAt 5: neither is lost or repeated.
      expect(pages).toEqual([
        ['a', 'b'],
        ['c', 'd'],
        ['e', 'f'],
      ]);
      expect(await ws.listWaits({ ...query, after: { createdAt: 9, id: `${e.id}/f` } })).toEqual([]);
    });

    it('lists woken waits before due ones, and no pending wait without a due time', async () => {
      const e = await seed();
      await ws.putWait(wait(e.id, { stepId: 'due', kind: 'timer', events: undefined, dueAt: 50 }));
      await ws.putWait(wait(e.id, { stepId: 'later', kind: 'timer', events: undefined, dueAt: 500 }));
      await ws.putWait(wait(e.id, { stepId: 'event' }));
      const w = wait(e.id, { stepId: 'woken', createdAt: 9 });
      await ws.putWait(w);
      await ws.claimWait(w.id, 0, { ...w, state: 'woken', version: 1, outcome: { kind: 'event', at: 3 } });
      expect((await ws.dueWaits(100)).map((x) => x.stepId)).toEqual(['woken', 'due']);
      expect(await ws.nextDueAt()).toBe(50);
    });

    it('takes only a waiting execution, and lists the waiting ones with a cancel request', async () => {
      const waiting = await seed('waiting');
      const running = await seed('running');
      const other = await seed('waiting');
      expect(await ws.takeWaitingExecution(running.id, 5)).toBe(false);
      expect(await ws.waitingCancels()).toEqual([]);
      await store.requestCancel(waiting.id, 'stop', 1);
      await store.requestCancel(running.id, 'stop', 2);
      expect(await ws.waitingCancels()).toEqual([waiting.id]);
      expect(await ws.takeWaitingExecution(waiting.id, 5)).toBe(true);
      expect(await ws.waitingCancels()).toEqual([]);
      expect((await store.getExecution(other.id))!.status).toBe('waiting');
    });

    it('keeps the inbox per name: the same id under another name is another event', async () => {
      expect(await ws.putEvent({ ...event('paid', '1', { a: 1 }), receivedAt: 5 })).toBe(true);
      expect(await ws.putEvent({ ...event('shipped', '1'), receivedAt: 6 })).toBe(true);
      expect(await ws.putEvent({ ...event('paid', '1', { a: 2 }), receivedAt: 7 })).toBe(false);
      expect(await ws.recentEvents('paid', 0)).toEqual([
        { name: 'paid', id: '1', payload: { a: 1 }, receivedAt: 5 },
      ]);
      const signal: WaitEvent = { ...event('go', 's', { n: 1 }), executionId: 'e-1' };
      await ws.putEvent(signal);
      expect(await ws.recentEvents('go', 0)).toEqual([signal]);
    });

    it('records a turn of events in one call: each answered in order, a repeated id once, old ones pruned', async () => {
      // Stores without putEvents are given the events one by one (as the wait service does).
      const putEvents =
        ws.putEvents?.bind(ws) ??
        (async (events: readonly WaitEvent[], before?: number) => {
          const out: boolean[] = [];
          for (const e of events) out.push(await ws.putEvent(e));
          if (before !== undefined) await ws.pruneEvents(before);
          return out;
        });
      expect(await ws.putEvent({ ...event('paid', 'old'), receivedAt: 1 })).toBe(true);
      const answers = await putEvents(
        [
          { ...event('paid', 'a', { n: 1 }), receivedAt: 20 },
          { ...event('paid', 'b'), receivedAt: 20 },
          { ...event('paid', 'a', { n: 2 }), receivedAt: 21 },
          { ...event('paid', 'old'), receivedAt: 21 },
        ],
        10,
      );
      expect(answers).toEqual([true, true, false, false]);
      expect(await ws.recentEvents('paid', 0)).toEqual([
        { name: 'paid', id: 'a', payload: { n: 1 }, receivedAt: 20 },
        { name: 'paid', id: 'b', payload: null, receivedAt: 20 },
      ]);
    });
  });
}
