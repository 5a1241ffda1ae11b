import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { execution } from '../../core/test/store-contract.js';
import { START_AFTER_COMMITS } from '../src/checkpointer.js';
import { openSqliteStore, type SqliteStore } from '../src/index.js';

/** Whether the database file alone (a copy without its -wal) holds the execution. */
function inDatabaseFile(path: string, id: string, copy: string): boolean {
  rmSync(copy, { force: true });
  rmSync(`${copy}-wal`, { force: true });
  rmSync(`${copy}-shm`, { force: true });
  copyFileSync(path, copy);
  let db: Database.Database | undefined;
  try {
    db = new Database(copy);
    return db.prepare('SELECT 1 FROM executions WHERE id = ?').get([id]) !== undefined;
  } catch {
    // A copy taken while the checkpoint wrote it may be torn: look again.
    return false;
  } finally {
    db?.close();
  }
}

async function poll(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('background checkpoints', () => {
  let dir: string;
  let store: SqliteStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('copy committed executions into the database file soon after the commit, with the store still open', async () => {
    dir = mkdtempSync(join(tmpdir(), 'o8-ckpt-'));
    const path = join(dir, 'store.db');
    store = await openSqliteStore({ path });
    // A long-lived writer: the checkpoints start after 64 commits.
    for (let i = 0; i < START_AFTER_COMMITS; i++) await store.createExecution(execution());
    const e = execution();
    await store.createExecution(e);
    // Far below the 1,000 pages at which SQLite would checkpoint by itself.
    expect(await poll(() => inDatabaseFile(path, e.id, join(dir, 'copy.db')), 20_000)).toBe(true);
    expect(await store.getExecution(e.id)).toMatchObject({ id: e.id });
  });

  it('are left to SQLite with backgroundCheckpoints: false (the WAL alone holds a small commit)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'o8-ckpt-'));
    const path = join(dir, 'store.db');
    store = await openSqliteStore({ path, backgroundCheckpoints: false });
    for (let i = 0; i < START_AFTER_COMMITS; i++) await store.createExecution(execution());
    const e = execution();
    await store.createExecution(e);
    await new Promise((r) => setTimeout(r, 600));
    expect(inDatabaseFile(path, e.id, join(dir, 'copy.db'))).toBe(false);
    // Closing folds the WAL in.
    await store.close();
    store = undefined;
    expect(inDatabaseFile(path, e.id, join(dir, 'copy.db'))).toBe(true);
  });

  it('stop with their store: ten writing stores opened and closed leave no thread behind', async () => {
    dir = mkdtempSync(join(tmpdir(), 'o8-ckpt-'));
    const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    const run = async (i: number) => {
      const s = await openSqliteStore({ path: join(dir, `s${i}.db`) });
      for (let k = 0; k <= START_AFTER_COMMITS; k++) await s.createExecution(execution());
      await s.close();
    };
    await run(-1);
    const before = threads();
    for (let i = 0; i < 10; i++) await run(i);
    // A worker left running would be a thread each.
    expect(threads()).toBeLessThan(before + 5);
  });
});
