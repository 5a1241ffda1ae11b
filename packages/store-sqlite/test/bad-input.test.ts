import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { execution } from '../../core/test/store-contract.js';
import { openSqliteStore } from '../src/index.js';
import { migrate } from '../src/migrations.js';
import { rejection, useTempDir } from './helpers.js';

const tempDir = useTempDir();

async function expectRefused(path: string, pattern: RegExp) {
  const before = readFileSync(path);
  const error = await rejection(openSqliteStore({ path }));
  expect(error.code).toBe('STORE');
  expect(error.message).toContain(path);
  expect(error.message).toMatch(pattern);
  expect(readFileSync(path).equals(before), 'the file must be left untouched').toBe(true);
}

describe('sqlite store: files it must not use', () => {
  it('refuses a text file, naming the path, and leaves it untouched', async () => {
    const path = join(tempDir(), 'notes.db');
    writeFileSync(path, 'these are my notes, not a database\n'.repeat(200));
    await expectRefused(path, /not an SQLite database/);
  });

  it('refuses a file of random bytes', async () => {
    const path = join(tempDir(), 'random.db');
    writeFileSync(path, randomBytes(64 * 1024));
    await expectRefused(path, /not an SQLite database/);
  });

  it('refuses an SQLite database that belongs to another application', async () => {
    const path = join(tempDir(), 'other-app.db');
    const db = new Database(path);
    db.exec(
      "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')",
    );
    db.close();
    await expectRefused(path, /not an orchestr8 one/);
  });

  it('reports a corrupted orchestr8 database as corrupt', async () => {
    const path = join(tempDir(), 'corrupt.db');
    const store = await openSqliteStore({ path });
    for (let i = 0; i < 50; i++) await store.createExecution(execution({ inputs: 'x'.repeat(500) }));
    await store.close();
    // Keep the 100-byte header, scramble everything after it (the schema lives on page 1).
    const bytes = readFileSync(path);
    randomBytes(bytes.length - 100).copy(bytes, 100);
    writeFileSync(path, bytes);
    await expectRefused(path, /corrupt|malformed|not an SQLite database/);
  });

  it('refuses a path that is a directory', async () => {
    const path = join(tempDir(), 'a-directory.db');
    mkdirSync(path);
    const error = await rejection(openSqliteStore({ path }));
    expect(error).toMatchObject({ code: 'STORE' });
    expect(error.message).toContain(`${path} is a directory`);
  });

  it('creates missing directories', async () => {
    const path = join(tempDir(), 'deep', 'er', 'store.db');
    const store = await openSqliteStore({ path });
    expect(store.path).toBe(path);
    await store.close();
    expect(statSync(path).isFile()).toBe(true);
  });

  it('gives a clear error when the location cannot be created', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'not a directory');
    const path = join(dir, 'file', 'sub', 'store.db');
    const error = await rejection(openSqliteStore({ path }));
    expect(error).toMatchObject({ code: 'STORE' });
    expect(error.message).toContain(`cannot create the directory for sqlite database ${path}`);
  });

  it('opens read-only only an existing, migrated database, and rejects writes', async () => {
    const dir = tempDir();
    const missing = join(dir, 'missing.db');
    expect(await rejection(openSqliteStore({ path: missing, readonly: true }))).toMatchObject({
      code: 'STORE',
    });
    expect(existsSync(missing)).toBe(false);

    const path = join(dir, 'ro.db');
    const writer = await openSqliteStore({ path });
    const e = execution();
    await writer.createExecution(e);
    const reader = await openSqliteStore({ path, readonly: true });
    expect(await reader.getExecution(e.id)).toEqual(e);
    const error = await rejection(
      reader.write([{ kind: 'execution', execution: { ...e, status: 'failed' } }]),
    );
    expect(error.code).toBe('STORE');
    expect(error.message).toContain(path);
    await reader.close();
    await writer.close();
  });
});

describe('sqlite store: locks', () => {
  const lockedBy = (path: string) => {
    const other = new Database(path);
    other.exec('BEGIN EXCLUSIVE');
    other.exec("INSERT INTO circuits (\"key\", state, failures, updated_at) VALUES ('held', 'closed', 0, 1)");
    return other;
  };

  it('fails a write with a retryable STORE error once the busy timeout passes, then recovers', async () => {
    const path = join(tempDir(), 'locked.db');
    const store = await openSqliteStore({ path, busyTimeoutMs: 50 });
    const e = execution();
    await store.createExecution(e);
    const other = lockedBy(path);
    const started = Date.now();
    const error = await rejection(
      store.write([{ kind: 'execution', execution: { ...e, status: 'completed' } }]),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(error).toMatchObject({ code: 'STORE', retryable: true });
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/locked by another connection .* 50 ms/);
    expect(await rejection(store.createExecution(execution()))).toMatchObject({
      code: 'STORE',
      retryable: true,
    });
    // Readers are not blocked by a writer in WAL mode.
    expect((await store.getExecution(e.id))?.status).toBe('running');
    other.exec('COMMIT');
    other.close();
    await store.write([{ kind: 'execution', execution: { ...e, status: 'completed' } }]);
    expect((await store.getExecution(e.id))?.status).toBe('completed');
    await store.close();
  });

  it('fails to open a database that needs migrating while another connection holds the write lock', async () => {
    const path = join(tempDir(), 'locked-old.db');
    const old = new Database(path);
    old.exec('PRAGMA journal_mode = WAL');
    migrate(old, { path, now: () => 1, upTo: 1 });
    old.exec('BEGIN EXCLUSIVE');
    old.exec("INSERT INTO definitions VALUES ('wf', '1', 'h', '{}', 1)");
    const error = await rejection(openSqliteStore({ path, busyTimeoutMs: 50 }));
    expect(error).toMatchObject({ code: 'STORE', retryable: true });
    expect(error.message).toContain('locked');
    old.exec('COMMIT');
    old.close();
    const store = await openSqliteStore({ path });
    expect(await store.getDefinition('wf')).toMatchObject({ id: 'wf', version: '1' });
    await store.close();
  });
});
