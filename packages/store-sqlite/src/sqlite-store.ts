import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import {
  type CreateExecutionResult,
  type DefinitionRecord,
  type ExecutionQuery,
  type ExecutionRecord,
  type IdempotencyClaim,
  latestDefinition,
  type Page,
  paging,
  type Store,
  type StoreWrite,
} from '@orchestr8/core';
import Database from 'libsql';
import { createCheckpointer } from './checkpointer.js';
import { sqliteCode, toStoreError } from './errors.js';
import { checkDatabase, LATEST_SCHEMA_VERSION, migrate, readSchemaVersion } from './migrations.js';
import {
  circuitParams,
  EXECUTION_COLUMNS,
  executionParams,
  JOURNAL_COLUMNS,
  journalParams,
  json,
  STEP_COLUMNS,
  stepParams,
  toCircuit,
  toDefinition,
  toExecution,
  toIdempotency,
  toJournalEntry,
  toStep,
} from './rows.js';
import {
  CORRELATION_PREFIX_SCAN,
  CORRELATION_PREFIX_WHERE,
  correlationPrefixParams,
  fewCorrelated,
  type ListRange,
  listRange,
  listRangeParams,
  listRangeWhere,
  NO_RANGE,
  reopenInTransaction,
} from './sqlite-operations.js';
import { createSqliteWaits } from './sqlite-waits.js';
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

export interface SqliteStore extends Store {
  readonly kind: 'sqlite';
  /** The absolute path of the database file. */
  readonly path: string;
  /** The highest migration applied to the database. */
  schemaVersion(): Promise<number>;
  /** Copies the WAL into the database file (`TRUNCATE` also empties the WAL file). */
  checkpoint(
    mode?: 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE',
  ): Promise<{ busy: boolean; walFrames: number; checkpointedFrames: number }>;
}

type Param = string | number | null;
type Row = Record<string, unknown>;

const NONE: Param[] = [];
const TERMINAL = "('completed', 'failed', 'cancelled')";
const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);
/** Journal entries per INSERT statement (8 columns each, well under SQLite's variable limit). */
const JOURNAL_CHUNK = 16;
/** Rows per multi-row statement of a batch: the largest that fits is used, each size prepared once. */
const CHUNKS = [32, 8, 2, 1];
const STEP_WIDTH = STEP_COLUMNS.split(',').length;
/** The EXECUTION_COLUMNS positions of updateExecution's parameters: SET columns, then WHERE. */
const UPDATE_ORDER = [2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 0, 1, 13, 9, 10];
const JOURNAL_WIDTH = JOURNAL_COLUMNS.split(',').length;

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
  return (db.prepare(`PRAGMA ${name}`).raw(true).get(NONE) as unknown[] | undefined)?.[0];
}

/** Prepared once per connection: the hot path (write) only binds and steps. */
function prepareStatements(db: Database.Database) {
  const prepare = (sql: string) => db.prepare(sql);
  const placeholders = (columns: string) =>
    columns
      .split(',')
      .map(() => '?')
      .join(', ');
  const updates = (columns: string, key: string[]) =>
    columns
      .split(',')
      .map((c) => c.trim())
      .filter((c) => !key.includes(c))
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
  return {
    begin: prepare('BEGIN IMMEDIATE'),
    commit: prepare('COMMIT'),
    rollback: prepare('ROLLBACK'),
    savepoint: prepare('SAVEPOINT create_one'),
    release: prepare('RELEASE create_one'),
    rollbackTo: prepare('ROLLBACK TO create_one'),
    insertExecution: prepare(
      `INSERT INTO executions (${EXECUTION_COLUMNS}) VALUES (${placeholders(EXECUTION_COLUMNS)})`,
    ),
    // Upsert, never INSERT OR REPLACE: REPLACE deletes the row and would cascade to its steps and journal.
    upsertExecution: prepare(
      `INSERT INTO executions (${EXECUTION_COLUMNS}) VALUES (${placeholders(EXECUTION_COLUMNS)})
       ON CONFLICT (id) DO UPDATE SET ${updates(EXECUTION_COLUMNS, ['id'])}`,
    ),
    // An existing execution whose indexed identity is unchanged (the usual write: its status,
    // result, times): only the status index moves, where the upsert rewrites every index entry.
    updateExecution: prepare(
      `UPDATE executions SET workflow_version = ?, definition_hash = ?, status = ?, inputs = ?, result = ?,
         error = ?, idempotency_key = ?, parent_step_id = ?, status_reason = ?, started_at = ?,
         finished_at = ?, updated_at = ?
       WHERE id = ? AND workflow_id = ? AND created_at = ? AND correlation_id IS ? AND parent_execution_id IS ?`,
    ),
    upsertStep: prepare(
      `INSERT INTO steps (${STEP_COLUMNS}) VALUES (${placeholders(STEP_COLUMNS)})
       ON CONFLICT (execution_id, step_id) DO UPDATE SET ${updates(STEP_COLUMNS, ['execution_id', 'step_id'])}`,
    ),
    /** Upserts `rows` steps in one statement (rows are upserted in order: a later one wins). */
    upsertSteps: (rows: number) =>
      prepare(
        `INSERT INTO steps (${STEP_COLUMNS}) VALUES ${Array(rows)
          .fill(`(${placeholders(STEP_COLUMNS)})`)
          .join(', ')}
         ON CONFLICT (execution_id, step_id) DO UPDATE SET ${updates(STEP_COLUMNS, ['execution_id', 'step_id'])}`,
      ),
    /** Upserts `rows` journal entries in one statement: one native call instead of `rows`. */
    upsertJournal: (rows: number) =>
      prepare(
        `INSERT INTO journal (${JOURNAL_COLUMNS}) VALUES ${Array(rows)
          .fill(`(${placeholders(JOURNAL_COLUMNS)})`)
          .join(', ')}
         ON CONFLICT (execution_id, seq) DO UPDATE SET ${updates(JOURNAL_COLUMNS, ['execution_id', 'seq'])}`,
      ),
    trimJournal: prepare('DELETE FROM journal WHERE execution_id = ? AND seq < ?'),
    upsertCircuit: prepare(
      `INSERT INTO circuits ("key", state, failures, open_until, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("key") DO UPDATE SET state = excluded.state, failures = excluded.failures,
         open_until = excluded.open_until, updated_at = excluded.updated_at`,
    ),
    deleteExpiredClaim: prepare('DELETE FROM idempotency WHERE "key" = ? AND expires_at <= ?'),
    insertClaim: prepare(
      `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("key") DO NOTHING`,
    ),
    // A new claim, or one replacing an expired claim on the key, in one statement (no
    // changes: a live claim holds the key). created_at is the transaction's now.
    claimKey: prepare(
      `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("key") DO UPDATE SET fingerprint = excluded.fingerprint, execution_id = excluded.execution_id,
         created_at = excluded.created_at, expires_at = excluded.expires_at
       WHERE idempotency.expires_at <= excluded.created_at`,
    ),
    getClaim: prepare('SELECT * FROM idempotency WHERE "key" = ?'),
    findLiveClaim: prepare('SELECT * FROM idempotency WHERE "key" = ? AND expires_at > ?'),
    getExecution: prepare(`SELECT ${EXECUTION_COLUMNS} FROM executions WHERE id = ?`),
    getSteps: prepare(`SELECT ${STEP_COLUMNS} FROM steps WHERE execution_id = ? ORDER BY rowid`),
    readJournal: prepare(
      `SELECT ${JOURNAL_COLUMNS} FROM journal WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    insertDefinition: prepare(
      `INSERT INTO definitions (id, version, hash, document, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id, version) DO NOTHING`,
    ),
    getDefinition: prepare('SELECT * FROM definitions WHERE id = ? AND version = ?'),
    getDefinitions: prepare('SELECT * FROM definitions WHERE id = ?'),
    getDefinitionByHash: prepare(
      'SELECT * FROM definitions WHERE hash = ? ORDER BY id, created_at, version LIMIT 1',
    ),
    listDefinitions: prepare('SELECT * FROM definitions ORDER BY id, created_at, version'),
    loadCircuits: prepare('SELECT * FROM circuits ORDER BY "key"'),
    pruneExecutions: prepare(
      `DELETE FROM executions WHERE status IN ${TERMINAL} AND coalesce(finished_at, updated_at) < ?`,
    ),
    pruneClaims: prepare('DELETE FROM idempotency WHERE expires_at <= ?'),
    getStatus: prepare('SELECT status FROM executions WHERE id = ?'),
    // The first request stands; a repeated one changes nothing.
    insertCancel: prepare(
      `INSERT INTO cancel_requests (execution_id, reason, requested_at) VALUES (?, ?, ?)
       ON CONFLICT (execution_id) DO NOTHING`,
    ),
    // The ids arrive as one JSON array: one statement whatever their number.
    pendingCancels: prepare(
      `SELECT c.execution_id, c.reason, c.requested_at FROM cancel_requests c
       JOIN executions e ON e.id = c.execution_id
       WHERE c.execution_id IN (SELECT value FROM json_each(?)) AND e.status NOT IN ${TERMINAL}`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function createSqliteStore(
  db: Database.Database,
  path: string,
  clock: Clock,
  busyTimeoutMs: number,
  backgroundCheckpoints: boolean,
): SqliteStore {
  // Dropped on close: libsql keeps the file open while a statement is reachable.
  let s: Statements = prepareStatements(db);
  const listStatements = new Map<string, Database.Statement>();
  // Indexed by row count; a multi-row VALUES list saves a native call per entry.
  let journalStatements: Database.Statement[] = [];
  let stepStatements: Database.Statement[] = [];
  let closed = false;
  const checkpointer = backgroundCheckpoints
    ? createCheckpointer({
        path,
        setAutocheckpoint: (pages) => {
          if (!closed) db.exec(`PRAGMA wal_autocheckpoint = ${pages}`);
        },
      })
    : undefined;

  const transaction = <T>(fn: () => T): T => {
    s.begin.run(NONE);
    try {
      const result = fn();
      s.commit.run(NONE);
      checkpointer?.committed();
      return result;
    } catch (error) {
      if (db.inTransaction) s.rollback.run(NONE);
      throw error;
    }
  };

  /** Runs `fn` on the open connection, turning driver errors into STORE errors that name the file. */
  const run = <T>(action: string, fn: () => T): Promise<T> => {
    if (closed) {
      return Promise.reject(
        new Orchestr8Error(ErrorCode.STORE, `sqlite store ${path} is closed`, { details: { path } }),
      );
    }
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(toStoreError(error, path, action, busyTimeoutMs));
    }
  };

  const applyWrite = (w: StoreWrite) => {
    switch (w.kind) {
      case 'execution':
        saveExecution(w.execution);
        return;
      case 'step':
        s.upsertStep.run(stepParams(w.step));
        return;
      case 'journal':
        for (let i = 0; i < w.entries.length; i += JOURNAL_CHUNK) {
          const n = Math.min(JOURNAL_CHUNK, w.entries.length - i);
          const params: Param[] = [];
          for (let k = i; k < i + n; k++) params.push(...journalParams(w.executionId, w.entries[k]!));
          let stmt = journalStatements[n];
          if (!stmt) journalStatements[n] = stmt = s.upsertJournal(n);
          stmt.run(params);
        }
        return;
      case 'journalTrim':
        s.trimJournal.run([w.executionId, w.beforeSeq]);
        return;
      case 'circuit':
        s.upsertCircuit.run(circuitParams(w.circuit));
        return;
      default:
        throw new Orchestr8Error(
          ErrorCode.STORE,
          `unknown store write kind: ${String((w as { kind?: unknown }).kind)}`,
        );
    }
  };

  /** Upserts an execution row: an UPDATE of what changed when it exists as it was created. */
  const saveExecution = (e: ExecutionRecord) => {
    const p = executionParams(e);
    const params: Param[] = [];
    for (const i of UPDATE_ORDER) params.push(p[i] as Param);
    const updated = s.updateExecution.run(params);
    if (updated.changes === 0) s.upsertExecution.run(p);
  };

  /** Runs the rows (flat `params`, `width` per row) through multi-row statements of CHUNKS rows. */
  const upsertRows = (
    params: Param[],
    width: number,
    cache: Database.Statement[],
    prepareRows: (rows: number) => Database.Statement,
  ) => {
    let at = 0;
    while (at < params.length) {
      const left = (params.length - at) / width;
      // The largest chunk that fits (CHUNKS ends with 1).
      const n = CHUNKS.find((c) => c <= left) ?? 1;
      let stmt = cache[n];
      if (!stmt) cache[n] = stmt = prepareRows(n);
      stmt.run(at === 0 && n * width === params.length ? params : params.slice(at, at + n * width));
      at += n * width;
    }
  };

  /**
   * An engine batch as a few multi-row statements: its execution rows in order, then all its
   * step rows, then all its journal entries (of every execution), then trims and circuits.
   * The result is the batch applied in order: rows of one table keep their order (a later
   * upsert of a key wins) and the tables are independent, except that steps and entries need
   * their execution row (written first) and a trim only drops entries older than the ones
   * written after it. One native call per 32 rows instead of one per write.
   */
  const applyBulk = (batch: readonly StoreWrite[]) => {
    const steps: Param[] = [];
    const entries: Param[] = [];
    const rest: StoreWrite[] = [];
    for (const w of batch) {
      if (w.kind === 'execution') saveExecution(w.execution);
      else if (w.kind === 'step') steps.push(...stepParams(w.step));
      else if (w.kind === 'journal') {
        for (const e of w.entries) entries.push(...journalParams(w.executionId, e));
      } else rest.push(w);
    }
    if (steps.length > 0) upsertRows(steps, STEP_WIDTH, stepStatements, s.upsertSteps);
    if (entries.length > 0) upsertRows(entries, JOURNAL_WIDTH, journalStatements, s.upsertJournal);
    for (const w of rest) applyWrite(w);
  };

  /** Applies an engine batch in order; a write to a missing execution is NOT_FOUND, naming it. */
  const applyBatch = (batch: readonly StoreWrite[]) => {
    let current: StoreWrite | undefined;
    try {
      for (const w of batch) {
        current = w;
        applyWrite(w);
      }
    } catch (error) {
      if (sqliteCode(error) === 'SQLITE_CONSTRAINT_FOREIGNKEY' && current) {
        const id =
          current.kind === 'step'
            ? current.step.executionId
            : (current as { executionId: string }).executionId;
        throw new Orchestr8Error(
          ErrorCode.NOT_FOUND,
          `cannot write ${current.kind}: execution ${id} does not exist`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  };

  const listStatement = (
    statuses: number,
    byWorkflow: boolean,
    afterCursor: boolean,
    prefixes = 0,
    range: ListRange = NO_RANGE,
  ) => {
    const key = `${statuses}:${byWorkflow}:${afterCursor}:${prefixes}:${range.since}:${range.until}:${range.id}:${range.parent}:${range.fewCorrelated}`;
    let stmt = listStatements.get(key);
    if (!stmt) {
      const where: string[] = [];
      if (statuses > 0) where.push(`status IN (${Array(statuses).fill('?').join(', ')})`);
      if (byWorkflow) where.push('workflow_id = ?');
      // A prefix compared exactly (LIKE would read % and _ in it as wildcards).
      if (prefixes > 0)
        where.push(
          `(${Array(prefixes)
            .fill(range.fewCorrelated ? CORRELATION_PREFIX_WHERE : CORRELATION_PREFIX_SCAN)
            .join(' OR ')})`,
        );
      where.push(...listRangeWhere(range));
      if (afterCursor) where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      stmt = db.prepare(
        `SELECT ${EXECUTION_COLUMNS} FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      );
      listStatements.set(key, stmt);
    }
    return stmt;
  };

  /** One new execution (and its claim), inside the caller's transaction. */
  const createOne = (execution: ExecutionRecord, claim?: IdempotencyClaim): CreateExecutionResult => {
    if (claim) {
      // An expired claim no longer holds its key: the upsert replaces it.
      const inserted = s.claimKey.run([
        claim.key,
        claim.fingerprint,
        execution.id,
        clock.now(),
        claim.expiresAt,
      ]);
      // The primary key decided: someone holds a live claim on this key.
      if (inserted.changes === 0)
        return { created: false, existing: toIdempotency(s.getClaim.get([claim.key]) as Row) };
    }
    try {
      s.insertExecution.run(executionParams(execution));
    } catch (error) {
      if (sqliteCode(error)?.startsWith('SQLITE_CONSTRAINT')) {
        throw new Orchestr8Error(ErrorCode.CONFLICT, `execution ${execution.id} already exists`, {
          cause: error,
        });
      }
      throw error;
    }
    return { created: true, execution: { ...execution } };
  };

  const waits = createSqliteWaits(db, run, transaction);
  const store: SqliteStore = {
    kind: 'sqlite',
    waits,
    path,

    write(batch) {
      return run('write a batch', () => {
        if (batch.length === 0) return;
        try {
          transaction(() => applyBulk(batch));
        } catch (error) {
          // Rolled back. Which write named a missing execution? Apply them one by one to say.
          if (sqliteCode(error) !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
          transaction(() => applyBatch(batch));
        }
      });
    },

    createExecution(execution: ExecutionRecord, claim?: IdempotencyClaim) {
      return run('create an execution', () => transaction(() => createOne(execution, claim)));
    },

    createExecutions(items) {
      if (items.length === 1) {
        // Alone in its transaction: no savepoint needed (two native calls fewer per execution).
        const { execution, claim } = items[0]!;
        return run('create executions', (): PromiseSettledResult<CreateExecutionResult>[] => {
          try {
            return [{ status: 'fulfilled', value: transaction(() => createOne(execution, claim)) }];
          } catch (error) {
            return [
              { status: 'rejected', reason: toStoreError(error, path, 'create an execution', busyTimeoutMs) },
            ];
          }
        });
      }
      return run('create executions', () =>
        transaction(() =>
          // A savepoint each: one execution's failure (a duplicate id) undoes only its own rows.
          items.map((item): PromiseSettledResult<CreateExecutionResult> => {
            s.savepoint.run(NONE);
            try {
              const value = createOne(item.execution, item.claim);
              s.release.run(NONE);
              return { status: 'fulfilled', value };
            } catch (error) {
              s.rollbackTo.run(NONE);
              s.release.run(NONE);
              return {
                status: 'rejected',
                reason: toStoreError(error, path, 'create an execution', busyTimeoutMs),
              };
            }
          }),
        ),
      );
    },

    getExecution(id) {
      return run('read an execution', () => {
        const row = s.getExecution.get([id]) as Row | undefined;
        return row && toExecution(row);
      });
    },

    listExecutions(query: ExecutionQuery = {}) {
      return run('list executions', (): Page<ExecutionRecord> => {
        const limit = paging.pageSize(query.limit);
        const statuses =
          query.status === undefined
            ? []
            : [...new Set(typeof query.status === 'string' ? [query.status] : query.status)];
        if (query.status !== undefined && statuses.length === 0) return { items: [] };
        const cursor = query.cursor === undefined ? undefined : paging.decodeCursor(query.cursor);
        const params: Param[] = [...statuses];
        if (query.workflowId !== undefined) params.push(query.workflowId);
        const p = query.correlationIdPrefix;
        const prefixes = p === undefined ? [] : typeof p === 'string' ? [p] : [...p];
        if (p !== undefined && prefixes.length === 0) return { items: [] };
        for (const x of prefixes) params.push(...correlationPrefixParams(x));
        const range = listRange(query, prefixes.length > 0 && fewCorrelated(db, prefixes));
        params.push(...listRangeParams(query));
        if (cursor) params.push(cursor.createdAt, cursor.createdAt, cursor.id);
        params.push(limit + 1);
        const rows = listStatement(
          statuses.length,
          query.workflowId !== undefined,
          cursor !== undefined,
          prefixes.length,
          range,
        ).all(params) as Row[];
        const items = rows.slice(0, limit).map(toExecution);
        const last = items[items.length - 1];
        return rows.length > limit && last ? { items, nextCursor: paging.encodeCursor(last) } : { items };
      });
    },

    getSteps(executionId) {
      return run('read steps', () => (s.getSteps.all([executionId]) as Row[]).map(toStep));
    },

    readJournal(executionId, options = {}) {
      return run('read the journal', () =>
        (
          s.readJournal.all([
            executionId,
            options.afterSeq ?? Number.MIN_SAFE_INTEGER,
            options.limit ?? -1,
          ]) as Row[]
        ).map(toJournalEntry),
      );
    },

    putDefinition(definition: DefinitionRecord) {
      return run('store a definition', () =>
        transaction(() => {
          const inserted = s.insertDefinition.run([
            definition.id,
            definition.version,
            definition.hash,
            json(definition.document) ?? 'null',
            definition.createdAt,
          ]);
          if (inserted.changes === 1) return { ...definition };
          const existing = toDefinition(s.getDefinition.get([definition.id, definition.version]) as Row);
          if (existing.hash !== definition.hash) {
            throw new Orchestr8Error(
              ErrorCode.CONFLICT,
              `workflow ${definition.id} version ${definition.version} is already stored with a different document ` +
                `(hash ${existing.hash}, not ${definition.hash}); bump the version to change it`,
              {
                details: {
                  id: definition.id,
                  version: definition.version,
                  existingHash: existing.hash,
                  hash: definition.hash,
                },
              },
            );
          }
          return existing;
        }),
      );
    },

    getDefinition(id, version) {
      return run('read a definition', () => {
        if (version !== undefined) {
          const row = s.getDefinition.get([id, version]) as Row | undefined;
          return row && toDefinition(row);
        }
        return latestDefinition((s.getDefinitions.all([id]) as Row[]).map(toDefinition));
      });
    },

    getDefinitionByHash(hash) {
      return run('read a definition', () => {
        const row = s.getDefinitionByHash.get([hash]) as Row | undefined;
        return row && toDefinition(row);
      });
    },

    listDefinitions() {
      return run('list definitions', () => (s.listDefinitions.all(NONE) as Row[]).map(toDefinition));
    },

    findIdempotency(key, now) {
      return run('read an idempotency key', () => {
        const row = s.findLiveClaim.get([key, now]) as Row | undefined;
        return row && toIdempotency(row);
      });
    },

    loadCircuits() {
      return run('load circuits', () => (s.loadCircuits.all(NONE) as Row[]).map(toCircuit));
    },

    reopenExecution(executionId, statuses, batch, claim) {
      return run('reopen an execution', () =>
        transaction(() => reopenInTransaction(db, s, applyWrite, clock, executionId, statuses, batch, claim)),
      );
    },

    requestCancel(executionId, reason, at) {
      return run('request a cancellation', () =>
        transaction(() => {
          const row = s.getStatus.get([executionId]) as { status: string } | undefined;
          if (!row) return 'not_found' as const;
          if (TERMINAL_STATUSES.has(row.status)) return 'finished' as const;
          s.insertCancel.run([executionId, reason, at]);
          return 'requested' as const;
        }),
      );
    },

    pendingCancels(executionIds) {
      return run('read cancel requests', () => {
        if (executionIds.length === 0) return [];
        return (s.pendingCancels.all([JSON.stringify([...new Set(executionIds)])]) as Row[]).map((r) => ({
          executionId: r.execution_id as string,
          reason: r.reason as string,
          requestedAt: r.requested_at as number,
        }));
      });
    },

    prune({ finishedBefore, now }) {
      return run('prune', () =>
        transaction(() => ({
          // Steps, journal entries and cancel requests go with their execution (ON DELETE CASCADE).
          executions: s.pruneExecutions.run([finishedBefore]).changes,
          idempotencyKeys: s.pruneClaims.run([now]).changes,
        })),
      );
    },

    schemaVersion() {
      return run('read the schema version', () => readSchemaVersion(db));
    },

    checkpoint(mode = 'TRUNCATE') {
      return run('checkpoint', () => {
        const row = db.prepare(`PRAGMA wal_checkpoint(${mode})`).raw(true).get(NONE) as number[];
        return { busy: row[0] === 1, walFrames: row[1] ?? 0, checkpointedFrames: row[2] ?? 0 };
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      await checkpointer?.stop();
      // libsql keeps the file open while any prepared statement is alive (until GC), so
      // fold the WAL into the database file now, without waiting on other connections:
      // the file is then complete on its own, e.g. for a backup copy.
      try {
        db.exec('PRAGMA busy_timeout = 0');
        if (!db.memory) db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } catch {
        // Another connection is busy: it (or the next writer) checkpoints later.
      }
      listStatements.clear();
      journalStatements = [];
      stepStatements = [];
      waits.dispose();
      s = undefined as unknown as Statements;
      db.close();
    },
  };
  return store;
}
