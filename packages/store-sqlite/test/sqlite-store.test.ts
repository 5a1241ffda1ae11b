import { statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createFakeClock } from '@orchestr8/common';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { entry, execution } from '../../core/test/store-contract.js';
import { openSqliteStore } from '../src/index.js';
import { useTempDir } from './helpers.js';

const tempDir = useTempDir();

describe('sqlite store', () => {
  it('resolves a relative path and reports it', async () => {
    const path = join(tempDir(), 'rel.db');
    const store = await openSqliteStore({ path: relative(process.cwd(), path) });
    expect(store.path).toBe(path);
    expect(store.kind).toBe('sqlite');
    await store.close();
  });

  it('uses the injected clock to decide whether a claim has expired', async () => {
    const clock = createFakeClock(50_000);
    const store = await openSqliteStore({ path: join(tempDir(), 'clock.db'), clock });
    const claim = { key: 'k', fingerprint: 'f', expiresAt: 50_100 };
    expect((await store.createExecution(execution(), claim)).created).toBe(true);
    expect((await store.createExecution(execution(), claim)).created).toBe(false);
    await clock.advance(100);
    expect((await store.createExecution(execution(), claim)).created).toBe(true);
    expect((await store.findIdempotency('k', 50_099))?.createdAt).toBe(50_100);
    await store.close();
  });

  it('puts the database in WAL mode, with synchronous NORMAL or FULL', async () => {
    const path = join(tempDir(), 'wal.db');
    for (const synchronous of ['NORMAL', 'FULL'] as const) {
      const store = await openSqliteStore({ path, synchronous });
      await store.createExecution(execution());
      const db = new Database(path);
      expect(db.prepare('PRAGMA journal_mode').raw(true).get([])).toEqual(['wal']);
      db.close();
      await store.close();
    }
  });

  it('stores JSON columns as JSON text and undefined as NULL', async () => {
    const path = join(tempDir(), 'json.db');
    const store = await openSqliteStore({ path });
    const e = execution({ inputs: { a: [1, 'two'] }, result: null });
    await store.createExecution(e);
    await store.write([{ kind: 'journal', executionId: e.id, entries: [entry(1, { data: { ok: true } })] }]);
    const db = new Database(path);
    expect(db.prepare('SELECT inputs, result, error FROM executions').raw(true).get([])).toEqual([
      '{"a":[1,"two"]}',
      'null',
      null,
    ]);
    expect(db.prepare('SELECT data, step_id FROM journal').raw(true).get([])).toEqual(['{"ok":true}', null]);
    db.close();
    await store.close();
  });

  it('checkpoints the WAL into the database file, on demand and on close', async () => {
    const path = join(tempDir(), 'checkpoint.db');
    const store = await openSqliteStore({ path });
    for (let i = 0; i < 20; i++) await store.createExecution(execution({ inputs: 'x'.repeat(1000) }));
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    const result = await store.checkpoint();
    expect(result.busy).toBe(false);
    expect(statSync(`${path}-wal`).size).toBe(0);
    await store.write([{ kind: 'execution', execution: execution() }]);
    await store.close();
    expect(statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0).toBe(0);
    expect(statSync(path).size).toBeGreaterThan(20_000);
  });
});
