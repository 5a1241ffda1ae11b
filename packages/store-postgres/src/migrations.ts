/**
 * Versioned schema migrations. Each migration runs in its own transaction under a
 * transaction-scoped advisory lock (one per schema) and records itself in
 * `schema_migrations` in that same transaction: a crash mid-upgrade leaves the previous
 * version, and processes starting together (workers, API instances) apply each migration
 * once, the others waiting on the lock and then finding it applied.
 *
 * Rules: never edit a released migration, only append; keep data written by older
 * versions readable. A schema newer than this code refuses to open.
 *
 * Identifiers are compared byte-wise (`COLLATE "C"`), whatever the database's locale, so
 * listings and cursors order exactly as in the other stores.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core tables',
    sql: `
      CREATE TABLE definitions (
        id TEXT COLLATE "C" NOT NULL,
        version TEXT COLLATE "C" NOT NULL,
        hash TEXT COLLATE "C" NOT NULL,
        document TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (id, version)
      );
      CREATE INDEX definitions_by_hash ON definitions (hash);

      -- JSON payloads are TEXT: stored and returned verbatim (the store parses them), so an
      -- absent value (SQL NULL) and a JSON null (the text 'null') stay distinct.
      CREATE TABLE executions (
        id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        workflow_id TEXT COLLATE "C" NOT NULL,
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
        created_at BIGINT NOT NULL,
        started_at BIGINT,
        finished_at BIGINT,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX executions_by_created ON executions (created_at, id);
      CREATE INDEX executions_by_status ON executions (status, created_at, id);
      CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at, id);

      -- ord: getSteps returns steps in the order they were first written.
      CREATE TABLE steps (
        execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        step_id TEXT COLLATE "C" NOT NULL,
        ord BIGINT GENERATED ALWAYS AS IDENTITY,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        output TEXT,
        error TEXT,
        started_at BIGINT,
        finished_at BIGINT,
        skip_reason TEXT,
        alias_for TEXT,
        idempotency_key TEXT,
        PRIMARY KEY (execution_id, step_id)
      );

      CREATE TABLE journal (
        execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        elapsed_ms DOUBLE PRECISION NOT NULL,
        type TEXT NOT NULL,
        step_id TEXT,
        attempt INTEGER,
        data TEXT,
        PRIMARY KEY (execution_id, seq)
      );

      -- No foreign key: a claim may outlive its pruned execution until it expires. The
      -- primary key is what makes a key start one execution across API instances.
      CREATE TABLE idempotency (
        "key" TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);

      CREATE TABLE circuits (
        "key" TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        state TEXT NOT NULL,
        failures INTEGER NOT NULL,
        open_until BIGINT,
        updated_at BIGINT NOT NULL
      );

      CREATE TABLE cancel_requests (
        execution_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES executions (id) ON DELETE CASCADE,
        reason TEXT NOT NULL,
        requested_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'distributed steps: tasks, leases, workers',
    sql: `
      -- Set on executions whose steps run on workers (their state machine lives in the
      -- commits of those workers, not in one process).
      ALTER TABLE executions
        ADD COLUMN distributed BOOLEAN NOT NULL DEFAULT false,
        -- The last journal seq handed out: workers allocate seqs under the row lock.
        ADD COLUMN journal_seq BIGINT NOT NULL DEFAULT 0,
        -- {status, reason, error} once the execution is stopping (cancel, fail-fast).
        ADD COLUMN stop TEXT,
        -- Epoch ms after which the global timeout stops it.
        ADD COLUMN deadline_at BIGINT;
      CREATE INDEX executions_distributed_live ON executions (deadline_at)
        WHERE distributed AND status IN ('queued', 'running');

      -- A step that is ready to run (or running): the unit of work distribution. Deleted
      -- when its result commits. Lease times are the database clock's epoch ms, so workers
      -- on machines with skewed clocks agree on expiry.
      CREATE TABLE tasks (
        execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        step_id TEXT COLLATE "C" NOT NULL,
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        queue TEXT COLLATE "C" NOT NULL,
        status TEXT NOT NULL,
        claims INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires_at BIGINT,
        available_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (execution_id, step_id)
      );
      CREATE INDEX tasks_ready ON tasks (queue, id) WHERE status = 'ready';
      CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'leased';
      CREATE INDEX tasks_by_owner ON tasks (lease_owner) WHERE status = 'leased';

      -- Aborts an optimistic commit whose state changed since it was read (the committer
      -- then commits again under locks).
      CREATE FUNCTION orchestr8_conflict(detail TEXT) RETURNS BOOLEAN LANGUAGE plpgsql AS $fn$
      BEGIN
        RAISE EXCEPTION 'orchestr8: concurrent change' USING ERRCODE = '40001', DETAIL = detail;
      END
      $fn$;

      CREATE TABLE workers (
        id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        queues TEXT NOT NULL,
        concurrency INTEGER NOT NULL,
        agents TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL,
        running TEXT NOT NULL,
        steps_done BIGINT NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 3,
    name: 'waits and the event inbox',
    sql: `
      -- One row per waiting step (wait steps); the record itself is JSON in body, the
      -- columns are what the wait services query. A wake is a conditional UPDATE on version.
      -- distributed: the execution's steps run on workers (registered by a worker, or handed
      -- to them); a wake inserts the step's task (on queue) in the claim's statement, so a
      -- claimed wait always has a worker to resume it.
      CREATE TABLE waits (
        id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        step_id TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        due_at BIGINT,
        events TEXT[],
        version INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        distributed BOOLEAN NOT NULL DEFAULT false,
        queue TEXT COLLATE "C",
        body TEXT NOT NULL
      );
      CREATE INDEX waits_due ON waits (due_at) WHERE state = 'pending' AND due_at IS NOT NULL;
      CREATE INDEX waits_woken ON waits (created_at) WHERE state = 'woken' AND NOT distributed;
      CREATE INDEX waits_by_event ON waits USING gin (events) WHERE state = 'pending';
      CREATE INDEX waits_by_execution ON waits (execution_id);
      CREATE INDEX waits_approvals ON waits (created_at) WHERE kind = 'approval' AND state = 'pending';

      -- The event index of pending waits: one row per event a wait listens for, under the
      -- value its match pins that event to (path and value '' when none; see waitIndexKeys).
      -- An event reads the unkeyed waits of its name and, per key path, those under its value.
      CREATE TABLE wait_keys (
        name TEXT COLLATE "C" NOT NULL,
        path TEXT COLLATE "C" NOT NULL,
        value TEXT COLLATE "C" NOT NULL,
        wait_id TEXT COLLATE "C" NOT NULL REFERENCES waits (id) ON DELETE CASCADE,
        PRIMARY KEY (name, path, value, wait_id)
      );
      CREATE INDEX wait_keys_by_wait ON wait_keys (wait_id);

      -- Recent events, kept for the look-back window; (name, id) makes delivery idempotent.
      CREATE TABLE wait_events (
        name TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        received_at BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (name, id)
      );
      CREATE INDEX wait_events_by_time ON wait_events (name, received_at);
      CREATE INDEX wait_events_by_age ON wait_events (received_at);

      -- The first answer to an idempotent decision or signal, by its key.
      CREATE TABLE wait_answers (
        "key" TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        body TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );

      -- A distributed execution that only waits is 'waiting': its global timeout still applies.
      CREATE INDEX executions_distributed_waiting ON executions (deadline_at)
        WHERE distributed AND status = 'waiting';
    `,
  },
  {
    version: 4,
    name: 'listing executions by parent and by correlation id',
    sql: `
      CREATE INDEX executions_by_parent ON executions (parent_execution_id, created_at, id)
        WHERE parent_execution_id IS NOT NULL;
      -- What started an execution (a trigger, a rerun of another), by prefix: byte order ("C").
      CREATE INDEX executions_by_correlation ON executions ((correlation_id COLLATE "C"), created_at, id)
        WHERE correlation_id IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'ready tasks of older executions first; no index of leases by owner',
    sql: `
      -- The creation time (epoch ms) of a ready task's execution: workers take the ready
      -- tasks of older executions first, so the next steps of executions under way go before
      -- the first steps of executions that started later (they waited in the queue behind
      -- them). 0 (first of all) for tasks of woken waits and for tasks written by processes
      -- that predate this migration; adopted executions' tasks get their creation time.
      ALTER TABLE tasks ADD COLUMN rank BIGINT NOT NULL DEFAULT 0;
      CREATE INDEX tasks_ready_by_rank ON tasks (queue, rank, id) WHERE status = 'ready';
      DROP INDEX tasks_ready;
      -- Leased tasks are few (at most twice the concurrency of each worker): the queries by
      -- owner scan tasks_leased, and a lease taken or moved writes one index entry less.
      DROP INDEX tasks_by_owner;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Tables of ours: finding one without `schema_migrations` means the schema belongs to something else. */
const OUR_TABLES = ['executions', 'steps', 'journal', 'definitions', 'idempotency'];

async function readVersion(client: pg.ClientBase): Promise<number | undefined> {
  // Looked up first (not caught): inside a transaction, a failed query would abort it.
  const exists = await client.query<{ t: string | null }>(
    "SELECT to_regclass('schema_migrations')::text AS t",
  );
  if (!exists.rows[0]?.t) return undefined;
  const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return r.rows[0]?.v ?? 0;
}

function newerSchema(where: string, version: number, supported: number): Orchestr8Error {
  return new Orchestr8Error(
    ErrorCode.STORE,
    `PostgreSQL ${where} has orchestr8 schema version ${version}, newer than this version of orchestr8 ` +
      `supports (${supported}); upgrade orchestr8 to use it`,
    { details: { database: where, schemaVersion: version, supported } },
  );
}

/** The applied version (0 when none), refusing a schema newer than this code. */
export async function checkSchema(client: pg.ClientBase, where: string): Promise<number> {
  const version = (await readVersion(client)) ?? 0;
  if (version > LATEST_SCHEMA_VERSION) throw newerSchema(where, version, LATEST_SCHEMA_VERSION);
  return version;
}

/**
 * Creates the schema when needed and applies every migration above its version, up to
 * `upTo`. Returns the new version.
 */
export async function migrate(
  client: pg.ClientBase,
  options: {
    schema: string;
    where: string;
    now: () => number;
    upTo?: number;
    migrations?: readonly Migration[];
  },
): Promise<number> {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  const target = options.upTo ?? latest;
  // Fast path: an up-to-date schema takes no lock.
  const seen = await readVersion(client);
  if (seen !== undefined && seen > latest) throw newerSchema(options.where, seen, latest);
  if (seen !== undefined && seen >= target) return seen;

  let version = seen ?? 0;
  for (const migration of migrations) {
    if (migration.version <= version || migration.version > target) continue;
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `orchestr8 migrate ${options.schema}`,
      ]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
      const current = await readVersion(client);
      if (current === undefined) {
        const foreign = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = ANY($2)',
          [options.schema, OUR_TABLES],
        );
        if ((foreign.rows[0]?.n ?? 0) > 0) {
          throw new Orchestr8Error(
            ErrorCode.STORE,
            `PostgreSQL ${options.where}: schema "${options.schema}" already has tables named like orchestr8's ` +
              'but no schema_migrations table; refusing to use it (pick another schema with ?schema=orchestr8)',
            { details: { database: options.where, schema: options.schema } },
          );
        }
        await client.query(`
          CREATE TABLE schema_migrations (
            version INTEGER NOT NULL PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
          )`);
      }
      const applied = current ?? 0;
      if (applied > latest) throw newerSchema(options.where, applied, latest);
      if (applied < migration.version) {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          options.now(),
        ]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    version = (await readVersion(client)) ?? 0;
  }
  return version;
}
