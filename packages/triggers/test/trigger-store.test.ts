import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore } from '@orchestr8/store-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgServer, startPostgres } from '../../store-postgres/test/pg-server.js';
import {
  createMemoryTriggerStore,
  createPostgresTriggerStore,
  openSqliteTriggerStore,
  type TriggerStore,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'o8-trigger-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let pgServer: PgServer;
beforeAll(async () => {
  pgServer = await startPostgres();
});
afterAll(async () => {
  await pgServer?.stop();
});

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
