/** Opening an orchestr8 SQLite database: its location, pragmas and migrations. */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import Database from 'libsql';
import { toStoreError } from './errors.js';
import { checkDatabase, LATEST_SCHEMA_VERSION, migrate, readSchemaVersion } from './migrations.js';
import { createSqliteStore, type SqliteStore } from './sqlite-store.js';
import { DEFAULT_SQLITE_PATH } from './store-url.js';

export interface SqliteStoreOptions {
  /** Database file; its directory is created. `:memory:` gives a private in-memory database. Default {@link DEFAULT_SQLITE_PATH}. */
  path?: string;
  /** Decides whether an idempotency claim has expired; stamps migrations. */
  clock?: Clock;
  /**
   * `NORMAL` (default): in WAL mode a committed transaction survives a crash or SIGKILL of
   * the process; only an OS crash or power loss can lose the last few transactions (never
   * corrupts). `FULL` fsyncs the WAL on every commit, which survives power loss too, at a
   * cost per commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long to wait for another connection's write lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** Opens an existing, fully migrated database for reading only. */
  readonly?: boolean;
  /**
   * `true` (default): a worker thread copies the WAL into the database file (a PASSIVE
   * checkpoint) within about 200 ms of commits, off the event loop. `false`: SQLite does it
   * inside the commit that takes the WAL past 1,000 pages.
   */
  backgroundCheckpoints?: boolean;
}

/**
 * Opens (creating and migrating when needed) an orchestr8 SQLite database.
 *
 * Every method runs synchronously on this connection (libsql is a synchronous driver,
 * like better-sqlite3); the promises only keep the `Store` interface uniform. Writes use
 * `BEGIN IMMEDIATE`, so concurrent writers from other processes queue on the write lock
 * for up to `busyTimeoutMs` instead of failing mid-transaction.
 */
export async function openSqliteStore(options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  const clock = options.clock ?? systemClock;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const memory = (options.path ?? DEFAULT_SQLITE_PATH) === ':memory:';
  const path = memory ? ':memory:' : resolve(options.path ?? DEFAULT_SQLITE_PATH);
  const readonly = options.readonly ?? false;

  try {
    prepareLocation(path, memory, readonly);
  } catch (error) {
    throw toStoreError(error, path, 'prepare the database location', busyTimeoutMs);
  }
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (error) {
    throw toStoreError(error, path, 'open the database', busyTimeoutMs);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    // Reads the header: a file that is not a database fails here, before anything is written.
    checkDatabase(db, path);
    if (!memory && !readonly && pragma(db, 'journal_mode') !== 'wal') db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    db.exec('PRAGMA foreign_keys = ON');
    if (readonly) {
      const version = readSchemaVersion(db);
      if (version < LATEST_SCHEMA_VERSION) {
        throw new Orchestr8Error(
          ErrorCode.STORE,
          `sqlite database ${path} is at schema version ${version}, older than ${LATEST_SCHEMA_VERSION}; ` +
            'open it read-write once to migrate it',
          { details: { path, schemaVersion: version } },
        );
      }
      db.exec('PRAGMA query_only = ON');
    } else {
      migrate(db, { path, now: () => clock.now() });
    }
    const background = !memory && !readonly && options.backgroundCheckpoints !== false;
    return createSqliteStore(db, path, clock, busyTimeoutMs, background);
  } catch (error) {
    db.close();
    throw toStoreError(error, path, 'open the database', busyTimeoutMs);
  }
}

function prepareLocation(path: string, memory: boolean, readonly: boolean): void {
  if (memory) return;
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    throw new Orchestr8Error(
      ErrorCode.STORE,
      `cannot create the directory for sqlite database ${path}: ${(error as Error).message}`,
      { cause: error, details: { path } },
    );
  }
  if (stat?.isDirectory()) {
    throw new Orchestr8Error(ErrorCode.STORE, `sqlite database path ${path} is a directory, not a file`, {
      details: { path },
    });
  }
  if (!stat && readonly) {
    throw new Orchestr8Error(ErrorCode.STORE, `sqlite database ${path} does not exist (opened read-only)`, {
      details: { path },
    });
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw new Orchestr8Error(
      ErrorCode.STORE,
      `cannot create the directory for sqlite database ${path}: ${(error as Error).message}`,
      { cause: error, details: { path } },
    );
  }
}

function pragma(db: Database.Database, name: string): unknown {
  return (db.prepare(`PRAGMA ${name}`).raw(true).get([]) as unknown[] | undefined)?.[0];
}
