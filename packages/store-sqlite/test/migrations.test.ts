import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { entry, execution, step } from '../../core/test/store-contract.js';
import { openSqliteStore, SQLITE_SCHEMA_VERSION } from '../src/index.js';
import { MIGRATIONS, migrate, readSchemaVersion } from '../src/migrations.js';
import { rejection, useTempDir } from './helpers.js';

const tempDir = useTempDir();

describe('sqlite migrations', () => {
  it('creates a new database at the latest schema version, recording every migration', async () => {
    const path = join(tempDir(), 'new.db');
    const store = await openSqliteStore({ path });
    expect(await store.schemaVersion()).toBe(SQLITE_SCHEMA_VERSION);
    await store.close();
    const db = new Database(path);
    const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all([]);
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    db.close();
  });

  it('opens a database twice without re-applying migrations', async () => {
    const path = join(tempDir(), 'twice.db');
    await (await openSqliteStore({ path })).close();
    await (await openSqliteStore({ path })).close();
    const db = new Database(path);
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get([])).toMatchObject({
      n: MIGRATIONS.length,
    });
    db.close();
  });

  it('upgrades a database written at schema version 1 and keeps its data', async () => {
    const path = join(tempDir(), 'old.db');
    const old = new Database(path);
    old.exec('PRAGMA journal_mode = WAL');
    expect(migrate(old, { path, now: () => 1, upTo: 1 })).toBe(1);
    const e = execution({ id: 'old-1', result: { ok: true }, statusReason: 'from v1' });
    // Written with plain SQL, as version-1 code would have.
    old
      .prepare(
        `INSERT INTO executions (id, workflow_id, workflow_version, definition_hash, status, inputs, result,
           status_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run([
        e.id,
        e.workflowId,
        e.workflowVersion,
        e.definitionHash,
        e.status,
        '{"n":1}',
        '{"ok":true}',
        'from v1',
        1000,
        1000,
      ]);
    old
      .prepare(`INSERT INTO steps (execution_id, step_id, status, attempts) VALUES (?, ?, ?, ?)`)
      .run([e.id, 'a', 'running', 1]);
    old
      .prepare(`INSERT INTO journal (execution_id, seq, ts, elapsed_ms, type) VALUES (?, ?, ?, ?, ?)`)
      .run([e.id, 1, 1001, 1, 'step.started']);
    old
      .prepare(
        `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
      )
      .run(['k', 'f', e.id, 1, Date.now() + 60_000]);
    old.close();

    const store = await openSqliteStore({ path });
    expect(await store.schemaVersion()).toBe(SQLITE_SCHEMA_VERSION);
    expect(await store.getExecution(e.id)).toEqual(e);
    expect(await store.getSteps(e.id)).toEqual([step(e.id, 'a')]);
    expect(await store.readJournal(e.id)).toEqual([entry(1)]);
    expect((await store.findIdempotency('k', Date.now()))?.executionId).toBe(e.id);
    // What migration 2 added works.
    await store.write([
      { kind: 'circuit', circuit: { key: 'c', state: 'closed', failures: 0, updatedAt: 1 } },
    ]);
    expect(await store.loadCircuits()).toHaveLength(1);
    expect((await store.listExecutions({ status: 'running', workflowId: 'wf' })).items).toHaveLength(1);
    await store.close();
  });

  it('upgrades a database at schema version 2 so a running execution can take cancel requests', async () => {
    const path = join(tempDir(), 'v2.db');
    const old = new Database(path);
    old.exec('PRAGMA journal_mode = WAL');
    expect(migrate(old, { path, now: () => 1, upTo: 2 })).toBe(2);
    old
      .prepare(
        `INSERT INTO executions (id, workflow_id, workflow_version, definition_hash, status, created_at, updated_at)
         VALUES ('v2-run', 'wf', '1', 'h', 'running', 1, 1)`,
      )
      .run([]);
    old.close();
    const store = await openSqliteStore({ path });
    expect(await store.schemaVersion()).toBe(SQLITE_SCHEMA_VERSION);
    expect(await store.requestCancel('v2-run', 'after upgrade', 7)).toBe('requested');
    expect(await store.pendingCancels(['v2-run'])).toEqual([
      { executionId: 'v2-run', reason: 'after upgrade', requestedAt: 7 },
    ]);
    await store.close();
  });

  it('upgrades a database at schema version 4 so its pending waits are found through the event index', async () => {
    const path = join(tempDir(), 'v4.db');
    const old = new Database(path);
    old.exec('PRAGMA journal_mode = WAL');
    expect(migrate(old, { path, now: () => 1, upTo: 4 })).toBe(4);
    old
      .prepare(
        `INSERT INTO executions (id, workflow_id, workflow_version, definition_hash, status, created_at, updated_at)
         VALUES ('v4-run', 'wf', '1', 'h', 'waiting', 1, 1)`,
      )
      .run([]);
    const wait = {
      id: 'v4-run/w',
      executionId: 'v4-run',
      stepId: 'w',
      workflowId: 'wf',
      kind: 'any',
      state: 'pending',
      events: ['paid', 'shipped'],
      matches: ['event.payload.orderId == inputs.orderId', null],
      matchScope: { inputs: { orderId: 'A' } },
      version: 0,
      createdAt: 1,
    };
    old
      .prepare(
        `INSERT INTO waits (id, execution_id, kind, state, due_at, events, version, created_at, body)
         VALUES (?, ?, ?, ?, NULL, ?, 0, 1, ?)`,
      )
      .run([
        wait.id,
        wait.executionId,
        wait.kind,
        wait.state,
        JSON.stringify(wait.events),
        JSON.stringify(wait),
      ]);
    old.close();
    const store = await openSqliteStore({ path });
    expect(await store.schemaVersion()).toBe(SQLITE_SCHEMA_VERSION);
    const ev = (name: string) => ({ name, id: 'x', payload: { orderId: 'A' }, receivedAt: 2 });
    // Indexed by name (no key: it was registered before keys existed), for each of its events.
    expect((await store.waits!.waitsForEvent('paid', ev('paid'))).map((w) => w.id)).toEqual(['v4-run/w']);
    expect((await store.waits!.waitsForEvent('shipped', ev('shipped'))).map((w) => w.id)).toEqual([
      'v4-run/w',
    ]);
    expect(await store.waits!.waitsForEvent('other', ev('other'))).toEqual([]);
    await store.close();
  });

  it('refuses a database with a newer schema than the code knows, with a STORE error', async () => {
    const path = join(tempDir(), 'future.db');
    await (await openSqliteStore({ path })).close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run([
      SQLITE_SCHEMA_VERSION + 1,
      'from the future',
      1,
    ]);
    db.close();
    const error = await rejection(openSqliteStore({ path }));
    expect(error.code).toBe('STORE');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(
      new RegExp(
        `schema version ${SQLITE_SCHEMA_VERSION + 1}, newer than .* supports \\(${SQLITE_SCHEMA_VERSION}\\)`,
      ),
    );
  });

  it('rolls back a failing migration, leaving the previous version', () => {
    const path = join(tempDir(), 'failing.db');
    const db = new Database(path);
    const migrations = [
      MIGRATIONS[0]!,
      { version: 2, name: 'broken', sql: 'CREATE TABLE half_done (x); SELECT * FROM no_such_table;' },
    ];
    expect(() => migrate(db, { path, now: () => 1, migrations })).toThrow(/no_such_table/);
    expect(readSchemaVersion(db)).toBe(1);
    expect(
      db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half_done'").get([]),
    ).toMatchObject({ n: 0 });
    db.close();
  });
});
