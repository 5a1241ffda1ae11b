/**
 * Versioned schema migrations. Each migration runs in its own `BEGIN IMMEDIATE`
 * transaction and records itself in `schema_migrations` in that same transaction, so a
 * crash mid-upgrade leaves the database at the previous version, and two processes
 * opening the same file at once cannot both apply a migration (the second re-reads the
 * version after taking the write lock and skips what is already there).
 *
 * Rules: never edit a released migration, only append; a migration must keep data
 * written by older versions readable. A database whose schema is newer than the
 * running code refuses to open (an older orchestr8 cannot know what it would break).
 */

import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type Database from 'libsql';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Marks the file as an orchestr8 database (SQLite header `application_id`, "OR8R"). */
export const APPLICATION_ID = 0x4f523852;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core tables',
    sql: `
      CREATE TABLE definitions (
        id TEXT NOT NULL,
        version TEXT NOT NULL,
        hash TEXT NOT NULL,
        document TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (id, version)
      );
      CREATE INDEX definitions_by_hash ON definitions (hash);

      CREATE TABLE executions (
        id TEXT NOT NULL PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        workflow_version TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        inputs TEXT,
        result TEXT,
        error TEXT,
        idempotency_key TEXT,
        correlation_id TEXT,
        parent_execution_id TEXT,
        parent_step_id TEXT,
        status_reason TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX executions_by_created ON executions (created_at, id);

      -- A rowid table: getSteps returns steps in the order they were first written.
      CREATE TABLE steps (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        step_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        output TEXT,
        error TEXT,
        started_at INTEGER,
        finished_at INTEGER,
        skip_reason TEXT,
        alias_for TEXT,
        idempotency_key TEXT,
        PRIMARY KEY (execution_id, step_id)
      );

      -- Clustered by (execution_id, seq): appends touch one b-tree, reads are range scans.
      CREATE TABLE journal (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        elapsed_ms REAL NOT NULL,
        type TEXT NOT NULL,
        step_id TEXT,
        attempt INTEGER,
        data TEXT,
        PRIMARY KEY (execution_id, seq)
      ) WITHOUT ROWID;

      -- No foreign key: a claim may outlive its pruned execution until it expires.
      CREATE TABLE idempotency (
        "key" TEXT NOT NULL PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'circuits and listing indexes',
    sql: `
      CREATE TABLE circuits (
        "key" TEXT NOT NULL PRIMARY KEY,
        state TEXT NOT NULL,
        failures INTEGER NOT NULL,
        open_until INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX executions_by_status ON executions (status, created_at, id);
      CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at, id);
      CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);
    `,
  },
  {
    version: 3,
    name: 'cancel requests',
    sql: `
      -- One pending request per execution, written by \`orchestr8 cancel\` (often from another
      -- process) and polled by the process that runs the execution. Pruned with it.
      CREATE TABLE cancel_requests (
        execution_id TEXT NOT NULL PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
        reason TEXT NOT NULL,
        requested_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'waits and the event inbox',
    sql: `
      -- One row per waiting step (wait steps); the record itself is JSON in body, the
      -- columns are what the wait service queries. A wake is a conditional UPDATE on version.
      CREATE TABLE waits (
        id TEXT NOT NULL PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        due_at INTEGER,
        events TEXT,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX waits_by_due ON waits (state, due_at);
      CREATE INDEX waits_by_execution ON waits (execution_id);
      -- Recent events, kept for the look-back window; (name, id) makes delivery idempotent.
      CREATE TABLE wait_events (
        name TEXT NOT NULL,
        id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (name, id)
      );
      CREATE INDEX wait_events_by_time ON wait_events (name, received_at);
    `,
  },
  {
    version: 5,
    name: 'event index of waits, answers of idempotent decisions and signals',
    sql: `
      -- Pending waits by the event they listen for: (name, '', '') for a wait without a
      -- correlation key, (name, path, value) for one whose match pins event.<path> to a value.
      CREATE TABLE wait_keys (
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        value TEXT NOT NULL,
        wait_id TEXT NOT NULL REFERENCES waits (id) ON DELETE CASCADE,
        PRIMARY KEY (name, path, value, wait_id)
      ) WITHOUT ROWID;
      CREATE INDEX wait_keys_by_wait ON wait_keys (wait_id);
      -- Waits registered before this migration are indexed without a key (they match by name).
      INSERT OR IGNORE INTO wait_keys (name, path, value, wait_id)
        SELECT j.value, '', '', w.id FROM waits w, json_each(w.events) j
        WHERE w.state = 'pending' AND w.events IS NOT NULL;
      -- The first answer to an approve, reject or signal sent with an Idempotency-Key.
      CREATE TABLE wait_answers (
        key TEXT NOT NULL PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        body TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX wait_answers_by_expiry ON wait_answers (expires_at);
    `,
  },
  {
    version: 6,
    name: 'listing executions by correlation id',
    sql: `
      -- What started an execution (a trigger, a rerun of another): listed by prefix as a range
      -- scan, not a scan of every execution. Partial: most executions have no correlation id.
      CREATE INDEX executions_by_correlation ON executions (correlation_id, created_at, id)
        WHERE correlation_id IS NOT NULL;
    `,
  },
  {
    version: 7,
    name: 'listing the sub-workflow executions of an execution',
    sql: `
      CREATE INDEX executions_by_parent ON executions (parent_execution_id, created_at, id)
        WHERE parent_execution_id IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'pruning the event inbox by time',
    sql: `
      -- The look-back window drops old events of every name: a range, not a scan of the inbox.
      CREATE INDEX wait_events_by_received ON wait_events (received_at);
    `,
  },
  {
    version: 9,
    name: 'paging the pending approvals',
    sql: `
      -- GET /approvals reads a page of pending approvals, oldest first, after a cursor: a
      -- range of this index, not a scan and sort of every wait.
      CREATE INDEX waits_pending_approvals ON waits (created_at, id)
        WHERE kind = 'approval' AND state = 'pending';
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const CREATE_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`;

function scalar(db: Database.Database, sql: string): unknown {
  const row = db.prepare(sql).raw(true).get([]) as unknown[] | undefined;
  return row?.[0];
}

/** The highest applied migration, 0 for an empty database. */
export function readSchemaVersion(db: Database.Database): number {
  const hasTable = scalar(
    db,
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
  );
  if (!hasTable) return 0;
  return Number(scalar(db, 'SELECT coalesce(max(version), 0) FROM schema_migrations'));
}

/**
 * Refuses files that are SQLite databases but not orchestr8's (we would otherwise add
 * our tables to someone else's database) and databases newer than this code.
 */
export function checkDatabase(db: Database.Database, path: string): number {
  const tables = Number(scalar(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"));
  const appId = Number(scalar(db, 'PRAGMA application_id'));
  if (tables > 0 && appId !== APPLICATION_ID) {
    throw new Orchestr8Error(
      ErrorCode.STORE,
      `${path} is an SQLite database but not an orchestr8 one (it already has ${tables} table(s) and ` +
        `application_id ${appId}); refusing to use it, and it was left untouched`,
      { details: { path } },
    );
  }
  const version = readSchemaVersion(db);
  if (version > LATEST_SCHEMA_VERSION) throw newerSchema(path, version, LATEST_SCHEMA_VERSION);
  return version;
}

function newerSchema(path: string, version: number, supported: number): Orchestr8Error {
  return new Orchestr8Error(
    ErrorCode.STORE,
    `sqlite database ${path} has schema version ${version}, newer than this version of orchestr8 ` +
      `supports (${supported}); upgrade orchestr8 to open it`,
    { details: { path, schemaVersion: version, supported } },
  );
}

/**
 * Applies every migration above the database's version, up to `upTo` (tests use it, and
 * `migrations`, to build old databases and to exercise failures). Returns the new version.
 */
export function migrate(
  db: Database.Database,
  options: { path: string; now: () => number; upTo?: number; migrations?: readonly Migration[] },
): number {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  const target = options.upTo ?? latest;
  let version = readSchemaVersion(db);
  for (const migration of migrations) {
    if (migration.version <= version || migration.version > target) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(CREATE_MIGRATIONS_TABLE);
      // Another connection may have migrated while we waited for the write lock.
      const current = readSchemaVersion(db);
      if (current > latest) throw newerSchema(options.path, current, latest);
      if (current < migration.version) {
        if (migration.version === 1) db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run([
          migration.version,
          migration.name,
          options.now(),
        ]);
      }
      db.exec('COMMIT');
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
    version = readSchemaVersion(db);
  }
  return version;
}
