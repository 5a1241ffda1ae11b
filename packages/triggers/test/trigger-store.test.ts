// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore } from '@orchestr8/store-postgres';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { usePostgres } from '../../store-postgres/test/use-postgres.js';
import {
  createMemoryTriggerStore,
  createPostgresTriggerStore,
  openSqliteTriggerStore,
  type TriggerStore,
} from '../src/index.js';
import type { PostgresTransactional } from '../src/postgres-trigger-store.js';
import { compile, settle, setup, step } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'o8-trigger-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pgServer = usePostgres();

/** A trigger store on its own PostgresStore (a fresh schema), closing both. */
async function openPg(url = pgServer.freshSchemaUrl()): Promise<TriggerStore> {
  const pg = await openPostgresStore({ url });
  const s = await createPostgresTriggerStore(pg);
  return { ...s, close: async () => pg.close() };
}

const stores: [string, () => TriggerStore | Promise<TriggerStore>][] = [
  ['memory', () => createMemoryTriggerStore()],
  ['sqlite', () => openSqliteTriggerStore(join(dir, `t-${Math.random()}.db`))],
  ['postgres', () => openPg()],
];

describe.each(stores)('the %s trigger store', (_name, open) => {
  it('keeps trigger state', async () => {
    const s = await open();
    await s.put({ key: 'wf/a', lastFireAt: 5, paused: true, lastExecutionId: 'e1', updatedAt: 9 });
    expect(await s.get('wf/a')).toEqual({
      key: 'wf/a',
      lastFireAt: 5,
      paused: true,
      lastExecutionId: 'e1',
      updatedAt: 9,
    });
    expect(await s.list()).toHaveLength(1);
    expect(await s.get('wf/b')).toBeUndefined();
    await s.close();
  });

  it('gives the lease to one owner until it expires or is released', async () => {
    const s = await open();
    expect(await s.acquireLease('l', 'a', 0, 100)).toBe(true);
    expect(await s.acquireLease('l', 'b', 50, 100)).toBe(false);
    expect(await s.acquireLease('l', 'a', 60, 100)).toBe(true);
    expect(await s.acquireLease('l', 'b', 161, 100)).toBe(true);
    await s.releaseLease('l', 'b');
    expect(await s.acquireLease('l', 'a', 162, 100)).toBe(true);
    await s.close();
  });

  it('claims a delivery id once until it expires', async () => {
    const s = await open();
    expect(await s.claimDelivery('d', 0, 100)).toBe(true);
    expect(await s.claimDelivery('d', 50, 100)).toBe(false);
    expect(await s.claimDelivery('d', 100, 100)).toBe(true);
    await s.close();
  });

  it('releases exactly the claim made, so that the delivery can be claimed again', async () => {
    const s = await open();
    expect(await s.claimDelivery('wf/h:d', 0, 100)).toBe(true);
    expect(await s.claimDelivery('wf/h:e', 0, 100)).toBe(true);
    await s.releaseDelivery?.('wf/h:d', 0, 100);
    expect(await s.claimDelivery('wf/h:d', 10, 100)).toBe(true);
    // The other delivery keeps its claim.
    expect(await s.claimDelivery('wf/h:e', 10, 100)).toBe(false);
    // Releasing a claim that expired and was taken again since leaves the new claim alone.
    expect(await s.claimDelivery('wf/h:e', 100, 100)).toBe(true);
    await s.releaseDelivery?.('wf/h:e', 0, 100);
    expect(await s.claimDelivery('wf/h:e', 150, 100)).toBe(false);
    // Releasing what was never claimed does nothing.
    await s.releaseDelivery?.('wf/h:none', 0, 100);
    expect(await s.claimDelivery('wf/h:none', 0, 100)).toBe(true);
    await s.close();
  });

  /** The pending-claim methods, which every store here has (they are optional for others). */
  const pendingClaims = (s: TriggerStore) => {
    const { claimPendingDelivery, settleDelivery, releaseDelivery } = s;
    if (!claimPendingDelivery || !settleDelivery || !releaseDelivery)
      throw new Error('this store has no pending delivery claims');
    return {
      claim: (key: string, now: number, pendingMs: number) =>
        claimPendingDelivery.call(s, key, now, pendingMs),
      settle: (key: string, now: number, pendingMs: number, ttlMs: number) =>
        settleDelivery.call(s, key, now, pendingMs, ttlMs),
      release: (key: string, now: number, pendingMs: number) => releaseDelivery.call(s, key, now, pendingMs),
    };
  };

  it('keeps a delivery pending until it is settled (then a duplicate until it expires) or released (then claimable)', async () => {
    const s = await open();
    const c = pendingClaims(s);
    expect(await c.claim('wf/h:d', 0, 60)).toBe('claimed');
    expect(await c.claim('wf/h:d', 10, 60)).toBe('pending');
    expect(await s.claimDelivery('wf/h:d', 10, 1000)).toBe(false);
    await c.settle('wf/h:d', 0, 60, 1000);
    // Settled: kept for its TTL, past its pending lease.
    expect(await c.claim('wf/h:d', 20, 60)).toBe('duplicate');
    expect(await c.claim('wf/h:d', 999, 60)).toBe('duplicate');
    expect(await s.claimDelivery('wf/h:d', 999, 1000)).toBe(false);
    expect(await c.claim('wf/h:d', 1000, 60)).toBe('claimed');

    expect(await c.claim('wf/h:e', 0, 60)).toBe('claimed');
    await c.release('wf/h:e', 0, 60);
    expect(await c.claim('wf/h:e', 1, 60)).toBe('claimed');
    expect(await c.claim('wf/h:e', 2, 60)).toBe('pending');
    // A claim accepted at once (claimDelivery) is a duplicate to a pending claim.
    expect(await s.claimDelivery('wf/h:f', 0, 1000)).toBe(true);
    expect(await c.claim('wf/h:f', 1, 60)).toBe('duplicate');
    await s.close();
  });

  it('lets a pending claim be taken over once its lease expired, and its old owner neither settle nor release the new one', async () => {
    const s = await open();
    const c = pendingClaims(s);
    expect(await c.claim('wf/h:d', 0, 60)).toBe('claimed');
    expect(await c.claim('wf/h:d', 59, 60)).toBe('pending');
    // Its process died: the retry after the lease is processed as new.
    expect(await c.claim('wf/h:d', 60, 60)).toBe('claimed');
    await c.settle('wf/h:d', 0, 60, 1000);
    expect(await c.claim('wf/h:d', 61, 60)).toBe('pending');
    await c.release('wf/h:d', 0, 60);
    expect(await c.claim('wf/h:d', 62, 60)).toBe('pending');
    // The new owner's decision holds.
    await c.settle('wf/h:d', 60, 60, 1000);
    expect(await c.claim('wf/h:d', 200, 60)).toBe('duplicate');
    // Settling twice, or releasing a settled claim with its pending token, changes nothing.
    await c.settle('wf/h:d', 60, 60, 5000);
    await c.release('wf/h:d', 60, 60);
    expect(await c.claim('wf/h:d', 1059, 60)).toBe('duplicate');
    expect(await c.claim('wf/h:d', 1060, 60)).toBe('claimed');
    await s.close();
  });

  describe('under a scheduler, a webhook delivery sent again', () => {
    const T0 = Date.parse('2025-01-01T00:00:00Z');
    const hook = (flow?: Record<string, unknown>) =>
      compile({
        steps: [step()],
        triggers: [
          {
            name: 'gh',
            webhook: { dedupeHeader: 'X-GitHub-Delivery' },
            inputs: { key: '${trigger.body.id}' },
            ...(flow ? { flow } : {}),
          },
        ],
      });
    const delivery = (id: string, body = '{"id":"7"}') => ({
      rawBody: Buffer.from(body),
      headers: { 'content-type': 'application/json', 'x-github-delivery': id },
    });

    it('after a 429 (rate limited) is processed again, and starts once the window has passed', async () => {
      const store = await open();
      const { clock, engine, scheduler } = setup(T0, { auto: true, store });
      scheduler.activate(hook({ rateLimit: { limit: 1, per: '1m' } }));
      expect(await scheduler.webhook('wf', 'gh', delivery('d-1'))).toMatchObject({
        status: 202,
        outcome: { status: 'started' },
      });
      const dropped = {
        status: 202,
        outcome: { status: 'dropped', reason: 'rate_limited' },
        deliveryId: 'd-2',
      };
      expect(await scheduler.webhook('wf', 'gh', delivery('d-2'))).toMatchObject(dropped);
      // The sender's retry within the window: dropped again, not a duplicate.
      expect(await scheduler.webhook('wf', 'gh', delivery('d-2'))).toMatchObject(dropped);
      await clock.advance(60_000);
      expect(await scheduler.webhook('wf', 'gh', delivery('d-2'))).toMatchObject({
        status: 202,
        outcome: { status: 'started' },
        deliveryId: 'd-2',
      });
      // Accepted deliveries stay answered as duplicates and start nothing.
      for (const id of ['d-1', 'd-2'])
        expect(await scheduler.webhook('wf', 'gh', delivery(id))).toEqual({
          status: 200,
          duplicate: true,
          deliveryId: id,
        });
      await settle();
      expect((await engine.store.listExecutions({})).items).toHaveLength(2);
      await store.close();
    });

    it('after a 422 (inputs not rendered) is processed again, and starts when it renders', async () => {
      const store = await open();
      const { engine, scheduler } = setup(T0, { auto: true, store });
      scheduler.activate(hook());
      expect(await scheduler.webhook('wf', 'gh', delivery('d-1', '{}'))).toMatchObject({
        status: 202,
        outcome: { status: 'failed', code: 'EXPRESSION' },
        deliveryId: 'd-1',
      });
      expect(await scheduler.webhook('wf', 'gh', delivery('d-1'))).toMatchObject({
        status: 202,
        outcome: { status: 'started' },
        deliveryId: 'd-1',
      });
      expect(await scheduler.webhook('wf', 'gh', delivery('d-1'))).toEqual({
        status: 200,
        duplicate: true,
        deliveryId: 'd-1',
      });
      await settle();
      expect((await engine.store.listExecutions({})).items.map((e) => e.inputs)).toEqual([{ key: '7' }]);
      await store.close();
    });

    it.each([
      [
        'while the first is still in flight is told to retry (409), not that it succeeded; refused, the retry runs',
        false,
      ],
      [
        'on a store without pending claims (written before them), is told 409 by the scheduler deciding the first',
        true,
      ],
    ])('%s', async (_title, legacy) => {
      const opened = await open();
      const { claimPendingDelivery: _c, settleDelivery: _s, ...older } = opened;
      const inner: TriggerStore = legacy ? older : opened;
      let unblock = () => {};
      const blocked = new Promise<void>((r) => {
        unblock = r;
      });
      let releasing = () => {};
      const releaseStarted = new Promise<void>((r) => {
        releasing = r;
      });
      // The first delivery's answer waits in the release, after its firing was refused.
      const store: TriggerStore = {
        ...inner,
        async releaseDelivery(key, now, ttlMs) {
          releasing();
          await blocked;
          await inner.releaseDelivery?.(key, now, ttlMs);
        },
      };
      const { engine, scheduler } = setup(T0, { auto: true, store });
      scheduler.activate(hook());
      const first = scheduler.webhook('wf', 'gh', delivery('d-1', '{}'));
      // (A scheduler that never releases answers the first at once.)
      await Promise.race([releaseStarted, first]);
      // Not yet decided: a 200 duplicate here would tell the sender it succeeded, and lose it.
      expect(await scheduler.webhook('wf', 'gh', delivery('d-1'))).toMatchObject({
        status: 409,
        deliveryId: 'd-1',
      });
      unblock();
      expect(await first).toMatchObject({ status: 202, outcome: { status: 'failed' } });
      // Answered 422: the retry is processed.
      expect(await scheduler.webhook('wf', 'gh', delivery('d-1'))).toMatchObject({
        status: 202,
        outcome: { status: 'started' },
      });
      await settle();
      expect((await engine.store.listExecutions({})).items).toHaveLength(1);
      await inner.close();
    });
  });
});

describe('the postgres trigger store shared by several schedulers', () => {
  it('creates its tables once when several open at the same moment, and gives the lease to exactly one', async () => {
    const url = pgServer.freshSchemaUrl();
    // The executions' tables first (as serve opens the store), then trigger stores racing.
    await (await openPostgresStore({ url })).close();
    const many = await Promise.all(Array.from({ length: 5 }, () => openPg(url)));
    try {
      const won = await Promise.all(many.map((s, i) => s.acquireLease('scheduler', `o${i}`, 1000, 15_000)));
      expect(won.filter(Boolean)).toHaveLength(1);
      const leader = won.indexOf(true);
      // The leader dies (stops renewing): another takes over once the lease has expired, not before.
      const other = many[(leader + 1) % many.length]!;
      expect(await other.acquireLease('scheduler', 'next', 1000 + 14_999, 15_000)).toBe(false);
      expect(await other.acquireLease('scheduler', 'next', 1000 + 15_000, 15_000)).toBe(true);
      await many[0]!.put({ key: 'wf/a', paused: true, updatedAt: 1 });
      expect((await many[4]!.get('wf/a'))?.paused).toBe(true);
    } finally {
      await Promise.all(many.map((s) => s.close()));
    }
  });
});

describe('a trigger store made by a version without pending delivery claims', () => {
  /** The delivery table as that version created it, with one accepted claim until 1000. */
  const OLD_DELIVERIES = (table: string) =>
    `CREATE TABLE ${table} ("key" TEXT NOT NULL PRIMARY KEY, expires_at BIGINT NOT NULL)`;

  const check = async (s: TriggerStore) => {
    // The claim made before counts as accepted; new claims can be pending.
    expect(await s.claimPendingDelivery?.('wf/h:old', 10, 60)).toBe('duplicate');
    expect(await s.claimPendingDelivery?.('wf/h:old', 1000, 60)).toBe('claimed');
    expect(await s.claimPendingDelivery?.('wf/h:old', 1001, 60)).toBe('pending');
    await s.settleDelivery?.('wf/h:old', 1000, 60, 5000);
    expect(await s.claimPendingDelivery?.('wf/h:old', 1100, 60)).toBe('duplicate');
  };

  it('gets the column on open (SQLite), its claims accepted, and opens again', async () => {
    const path = join(dir, `old-${Math.random()}.db`);
    const db = new Database(path);
    db.exec(OLD_DELIVERIES('trigger_deliveries'));
    db.prepare('INSERT INTO trigger_deliveries ("key", expires_at) VALUES (?, ?)').run(['wf/h:old', 1000]);
    db.close();
    const s = openSqliteTriggerStore(path);
    await check(s);
    await s.close();
    const again = openSqliteTriggerStore(path);
    expect(await again.claimPendingDelivery?.('wf/h:old', 1200, 60)).toBe('duplicate');
    await again.close();
  });

  it('opens (PostgreSQL) for a role that may read and write its tables but does not own them', async () => {
    const pg = await openPostgresStore({ url: pgServer.freshSchemaUrl() });
    try {
      await createPostgresTriggerStore(pg);
      const role = `o8_dml_${Math.random().toString(36).slice(2, 10)}`;
      await pg.transaction('a role with DML rights only', async (tx) => {
        await tx.query(`CREATE ROLE ${role}`);
        await tx.query(`GRANT USAGE, CREATE ON SCHEMA "${pg.schema}" TO ${role}`);
        await tx.query(
          `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${pg.schema}" TO ${role}`,
        );
      });
      const asRole: PostgresTransactional = {
        schema: pg.schema,
        transaction: (action, fn) =>
          pg.transaction(action, async (tx) => {
            await tx.query(`SET LOCAL ROLE ${role}`);
            return fn(tx);
          }),
      };
      const s = await createPostgresTriggerStore(asRole);
      expect(await s.claimPendingDelivery?.('wf/h:new', 1, 60)).toBe('claimed');
    } finally {
      await pg.close();
    }
  });

  it('gets the column on open (PostgreSQL), its claims accepted, and opens again', async () => {
    const pg = await openPostgresStore({ url: pgServer.freshSchemaUrl() });
    try {
      const table = `"${pg.schema}".trigger_deliveries`;
      await pg.transaction('the old delivery table', async (tx) => {
        await tx.query(OLD_DELIVERIES(table));
        await tx.query(`INSERT INTO ${table} ("key", expires_at) VALUES ($1, $2)`, ['wf/h:old', 1000]);
      });
      await check(await createPostgresTriggerStore(pg));
      const again = await createPostgresTriggerStore(pg);
      expect(await again.claimPendingDelivery?.('wf/h:old', 1200, 60)).toBe('duplicate');
    } finally {
      await pg.close();
    }
  });
});
