import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import {
  type CancelRequest,
  type CreateExecutionResult,
  type DefinitionRecord,
  type ExecutionQuery,
  type ExecutionRecord,
  type IdempotencyClaim,
  latestDefinition,
  type Page,
  paging,
  type Store,
} from '@orchestr8/core';
import type pg from 'pg';
import { encodeParams } from './array-param.js';
import { segmentBatch, segmentStatements } from './batch.js';
import { type ConnectionSettings, createPool, parseConnection } from './connection.js';
import type { Database, Tx } from './database.js';
import { pgCode, SqlState, toStoreError } from './errors.js';
import { Listener } from './listener.js';
import { checkSchema, LATEST_SCHEMA_VERSION, migrate } from './migrations.js';
import { correlationPrefixWhere, listRangeWhere, reopenInTransaction } from './postgres-operations.js';
import { PostgresWaits } from './postgres-waits.js';
import {
  EXECUTION_COLUMNS,
  EXECUTION_SELECT,
  executionParams,
  JOURNAL_SELECT,
  json,
  type Row,
  STEP_SELECT,
  toCircuit,
  toDefinition,
  toExecution,
  toIdempotency,
  toJournalEntry,
  toStep,
} from './rows.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`; `?schema=name` puts the tables in that schema. */
  url: string;
  /** Overrides the URL's `schema` parameter. Default "public". */
  schema?: string;
  /** Pooled connections (default 10). */
  poolSize?: number;
  /** Decides whether an idempotency claim has expired; stamps migrations. */
  clock?: Clock;
  /** Apply pending migrations on open (default true). When false, an old schema is refused. */
  migrate?: boolean;
}

export interface PostgresStore extends Store, Database {
  readonly kind: 'postgres';
  /** Waits and the event inbox, shared by every process on the database. */
  readonly waits: PostgresWaits;
  /** user@host:port/database (and schema): for messages, never the password. */
  readonly where: string;
  readonly schema: string;
  /** The highest migration applied. */
  schemaVersion(): Promise<number>;
  /**
   * Calls `handler` with the payload of every NOTIFY on `channel` (a name local to this
   * schema). One shared connection serves every channel; it reconnects on failure and then
   * calls `onReconnect` handlers, since notifications sent meanwhile are lost.
   */
  listen(channel: string, handler: (payload: string) => void, onReconnect?: () => void): Promise<() => void>;
  /**
   * Whether the execution's steps run on workers (started by a distributed engine): such an
   * execution must not be resumed by an in-process engine, the workers carry it on.
   */
  isDistributed(executionId: string): Promise<boolean>;
  /** The PostgreSQL channel name for a channel of this schema. */
  channel(name: string): string;
}

const TERMINAL = "('completed', 'failed', 'cancelled')";
const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/**
 * Opens an orchestr8 store on PostgreSQL: a connection pool, migrated on open. Every
 * `write` is one transaction (one statement when the batch has no journal trim), so the
 * engine's group commit maps to one round trip.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const settings = parseConnection(options.url, options.schema);
  const clock = options.clock ?? systemClock;
  const pool = createPool(settings, options.poolSize ?? 10);
  try {
    const client = await pool.connect();
    try {
      if (options.migrate === false) {
        const version = await checkSchema(client, settings.where);
        if (version < LATEST_SCHEMA_VERSION) {
          throw new Orchestr8Error(
            ErrorCode.STORE,
            `PostgreSQL ${settings.where} is at orchestr8 schema version ${version}, older than ${LATEST_SCHEMA_VERSION}; ` +
              'open it once with migrations on to upgrade it',
            { details: { database: settings.where, schemaVersion: version } },
          );
        }
      } else {
        await migrate(client, { schema: settings.schema, where: settings.where, now: () => clock.now() });
      }
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw toStoreError(error, settings.where, 'open the database');
  }
  return createPostgresStore(pool, settings, clock);
}

function createPostgresStore(pool: pg.Pool, settings: ConnectionSettings, clock: Clock): PostgresStore {
  const { where } = settings;
  let closed = false;
  let listener: Listener | undefined;
  let outbox: { channels: string[]; payloads: string[] } | undefined;
  let sending: Promise<unknown> = Promise.resolve();
  const flushNotifications = () => {
    const batch = outbox;
    outbox = undefined;
    if (!batch || closed) return;
    // A transaction that only notifies writes no WAL before its commit record: it commits
    // without waiting for a flush, so holding PostgreSQL's notify lock costs microseconds.
    sending = pool
      .query({
        name: 'o8_notify',
        text: 'SELECT count(pg_notify(c, p)) FROM unnest($1::text[], $2::text[]) AS x(c, p)',
        values: encodeParams([batch.channels, batch.payloads]),
      })
      .catch(() => {});
  };

  const closedError = () =>
    new Orchestr8Error(ErrorCode.STORE, `postgres store ${where} is closed`, {
      details: { database: where },
    });

  const query = async <R extends Row = Row>(
    action: string,
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<pg.QueryResult<R>> => {
    if (closed) throw closedError();
    try {
      return await pool.query<R>(
        name ? { name, text, values: encodeParams(values) } : { text, values: encodeParams(values) },
      );
    } catch (error) {
      throw toStoreError(error, where, action);
    }
  };

  const transaction = async <T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T> => {
    if (closed) throw closedError();
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw toStoreError(error, where, action);
      }
      let broken = false;
      const tx: Tx = {
        query: <R extends Row = Row>(text: string, values?: unknown[], name?: string) =>
          client.query<R>(
            name ? { name, text, values: encodeParams(values) } : { text, values: encodeParams(values) },
          ),
      };
      try {
        await client.query('BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        const code = pgCode(error);
        if ((code === SqlState.deadlockDetected || code === SqlState.serializationFailure) && attempt < 5) {
          continue;
        }
        throw toStoreError(error, where, action);
      } finally {
        client.release(broken);
      }
    }
  };

  const notFoundFor = (error: unknown): Orchestr8Error | undefined => {
    if (pgCode(error) !== SqlState.foreignKeyViolation) return undefined;
    const detail = String((error as { detail?: unknown }).detail ?? '');
    const m = /\(execution_id\)=\((.*)\) is not present/.exec(detail);
    return new Orchestr8Error(
      ErrorCode.NOT_FOUND,
      `cannot write to execution ${m ? m[1] : '(unknown)'}: it does not exist`,
      { cause: error },
    );
  };

  let waits: PostgresWaits | undefined;
  const store: PostgresStore = {
    kind: 'postgres',
    get waits() {
      waits ??= new PostgresWaits(store);
      return waits;
    },
    where,
    schema: settings.schema,
    transaction,
    query,
    channel: (name) => `${settings.schema}.${name}`,

    async isDistributed(executionId) {
      const r = await query('read an execution', 'SELECT distributed FROM executions WHERE id = $1', [
        executionId,
      ]);
      return r.rows[0]?.distributed === true;
    },

    notify(channel, payload) {
      if (closed) return;
      if (!outbox) {
        outbox = { channels: [], payloads: [] };
        setImmediate(flushNotifications);
      }
      outbox.channels.push(store.channel(channel));
      outbox.payloads.push(payload);
    },

    async write(batch) {
      if (closed) throw closedError();
      if (batch.length === 0) return;
      const statements = segmentBatch(batch).flatMap(segmentStatements);
      try {
        if (statements.length === 1) {
          const s = statements[0]!;
          await pool.query({ name: s.name, text: s.text, values: encodeParams(s.values) });
          return;
        }
        await transaction('write a batch', async (tx) => {
          for (const s of statements) await tx.query(s.text, s.values, s.name);
        });
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause ?? error;
        throw notFoundFor(cause) ?? notFoundFor(error) ?? toStoreError(error, where, 'write a batch');
      }
    },

    async createExecution(
      execution: ExecutionRecord,
      claim?: IdempotencyClaim,
    ): Promise<CreateExecutionResult> {
      const insert = `INSERT INTO executions (${EXECUTION_SELECT}) VALUES (${EXECUTION_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
      const conflict = (error: unknown) =>
        pgCode(error) === SqlState.uniqueViolation
          ? new Orchestr8Error(ErrorCode.CONFLICT, `execution ${execution.id} already exists`, {
              cause: error,
            })
          : undefined;
      if (!claim) {
        try {
          await query('create an execution', insert, executionParams(execution), 'o8_insert_execution');
        } catch (error) {
          throw conflict((error as { cause?: unknown }).cause) ?? error;
        }
        return { created: true, execution: { ...execution } };
      }
      try {
        return await transaction('create an execution', async (tx) => {
          const existing = await claimKey(tx, claim, execution.id, clock.now());
          if (existing) return { created: false, existing };
          await tx.query(insert, executionParams(execution), 'o8_insert_execution');
          return { created: true, execution: { ...execution } };
        });
      } catch (error) {
        throw conflict((error as { cause?: unknown }).cause) ?? error;
      }
    },

    async getExecution(id) {
      const r = await query(
        'read an execution',
        `SELECT ${EXECUTION_SELECT} FROM executions WHERE id = $1`,
        [id],
        'o8_get_execution',
      );
      return r.rows[0] && toExecution(r.rows[0]);
    },

    async listExecutions(q: ExecutionQuery = {}): Promise<Page<ExecutionRecord>> {
      const limit = paging.pageSize(q.limit);
      const statuses =
        q.status === undefined ? [] : [...new Set(typeof q.status === 'string' ? [q.status] : q.status)];
      if (q.status !== undefined && statuses.length === 0) return { items: [] };
      const cursor = q.cursor === undefined ? undefined : paging.decodeCursor(q.cursor);
      const where: string[] = [];
      const values: unknown[] = [];
      if (statuses.length > 0) {
        values.push(statuses);
        where.push(`status = ANY($${values.length}::text[])`);
      }
      if (q.workflowId !== undefined) {
        values.push(q.workflowId);
        where.push(`workflow_id = $${values.length}`);
      }
      if (q.correlationIdPrefix !== undefined) {
        const p = q.correlationIdPrefix;
        const prefixes = typeof p === 'string' ? [p] : [...p];
        if (prefixes.length === 0) return { items: [] };
        where.push(correlationPrefixWhere(prefixes, values));
      }
      const range = listRangeWhere(q, values);
      where.push(...range.where);
      if (cursor) {
        values.push(cursor.createdAt, cursor.id);
        where.push(`(created_at, id) < ($${values.length - 1}, $${values.length})`);
      }
      values.push(limit + 1);
      const name = `o8_list_${statuses.length > 0 ? 's' : ''}${q.workflowId !== undefined ? 'w' : ''}${q.correlationIdPrefix !== undefined ? `p${typeof q.correlationIdPrefix === 'string' ? 1 : q.correlationIdPrefix.length}` : ''}${range.shape}${cursor ? 'c' : ''}`;
      const r = await query(
        'list executions',
        `SELECT ${EXECUTION_SELECT} FROM executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT $${values.length}`,
        values,
        name,
      );
      const items = r.rows.slice(0, limit).map(toExecution);
      const last = items[items.length - 1];
      return r.rows.length > limit && last ? { items, nextCursor: paging.encodeCursor(last) } : { items };
    },

    async getSteps(executionId) {
      const r = await query(
        'read steps',
        `SELECT ${STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`,
        [executionId],
        'o8_get_steps',
      );
      return r.rows.map(toStep);
    },

    async readJournal(executionId, options = {}) {
      const r = await query(
        'read the journal',
        `SELECT ${JOURNAL_SELECT} FROM journal WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [executionId, options.afterSeq ?? Number.MIN_SAFE_INTEGER, options.limit ?? null],
        'o8_read_journal',
      );
      return r.rows.map(toJournalEntry);
    },

    async putDefinition(definition: DefinitionRecord) {
      const inserted = await query(
        'store a definition',
        `INSERT INTO definitions (id, version, hash, document, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id, version) DO NOTHING RETURNING id`,
        [
          definition.id,
          definition.version,
          definition.hash,
          json(definition.document) ?? 'null',
          definition.createdAt,
        ],
      );
      if (inserted.rowCount === 1) return { ...definition };
      const found = await query(
        'read a definition',
        'SELECT * FROM definitions WHERE id = $1 AND version = $2',
        [definition.id, definition.version],
      );
      const existing = toDefinition(found.rows[0]!);
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
    },

    async getDefinition(id, version) {
      if (version !== undefined) {
        const r = await query(
          'read a definition',
          'SELECT * FROM definitions WHERE id = $1 AND version = $2',
          [id, version],
        );
        return r.rows[0] && toDefinition(r.rows[0]);
      }
      const r = await query('read a definition', 'SELECT * FROM definitions WHERE id = $1', [id]);
      return latestDefinition(r.rows.map(toDefinition));
    },

    async getDefinitionByHash(hash) {
      const r = await query(
        'read a definition',
        'SELECT * FROM definitions WHERE hash = $1 ORDER BY id, created_at, version LIMIT 1',
        [hash],
        'o8_definition_by_hash',
      );
      return r.rows[0] && toDefinition(r.rows[0]);
    },

    async listDefinitions() {
      const r = await query('list definitions', 'SELECT * FROM definitions ORDER BY id, created_at, version');
      return r.rows.map(toDefinition);
    },

    async findIdempotency(key, now) {
      const r = await query(
        'read an idempotency key',
        'SELECT * FROM idempotency WHERE "key" = $1 AND expires_at > $2',
        [key, now],
        'o8_find_idempotency',
      );
      return r.rows[0] && toIdempotency(r.rows[0]);
    },

    async loadCircuits() {
      const r = await query('load circuits', 'SELECT * FROM circuits ORDER BY "key"');
      return r.rows.map(toCircuit);
    },

    async reopenExecution(executionId, statuses, batch, claim) {
      if (closed) throw closedError();
      try {
        return await transaction('reopen an execution', (tx) =>
          reopenInTransaction(tx, executionId, statuses, batch, claim, clock.now()),
        );
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause ?? error;
        throw notFoundFor(cause) ?? notFoundFor(error) ?? error;
      }
    },

    async requestCancel(executionId, reason, at) {
      return transaction('request a cancellation', async (tx) => {
        // The row lock orders this against a concurrent finish of the execution.
        const r = await tx.query<{ status: string }>(
          'SELECT status FROM executions WHERE id = $1 FOR NO KEY UPDATE',
          [executionId],
        );
        const row = r.rows[0];
        if (!row) return 'not_found' as const;
        if (TERMINAL_STATUSES.has(row.status)) return 'finished' as const;
        await tx.query(
          `INSERT INTO cancel_requests (execution_id, reason, requested_at) VALUES ($1, $2, $3)
           ON CONFLICT (execution_id) DO NOTHING`,
          [executionId, reason, at],
        );
        return 'requested' as const;
      }).then((r) => {
        if (r === 'requested') store.notify('cancel', executionId);
        return r;
      });
    },

    async pendingCancels(executionIds): Promise<CancelRequest[]> {
      if (executionIds.length === 0) return [];
      const r = await query(
        'read cancel requests',
        `SELECT c.execution_id, c.reason, c.requested_at FROM cancel_requests c
         JOIN executions e ON e.id = c.execution_id
         WHERE c.execution_id = ANY($1::text[]) AND e.status NOT IN ${TERMINAL}`,
        [[...new Set(executionIds)]],
        'o8_pending_cancels',
      );
      return r.rows.map((row) => ({
        executionId: row.execution_id as string,
        reason: row.reason as string,
        requestedAt: row.requested_at as number,
      }));
    },

    async prune({ finishedBefore, now }) {
      return transaction('prune', async (tx) => {
        // Steps, journal entries, tasks, waits and cancel requests go with their execution (ON DELETE CASCADE).
        const executions = await tx.query(
          `DELETE FROM executions WHERE status IN ${TERMINAL} AND coalesce(finished_at, updated_at) < $1`,
          [finishedBefore],
        );
        const keys = await tx.query('DELETE FROM idempotency WHERE expires_at <= $1', [now]);
        await tx.query('DELETE FROM wait_answers WHERE expires_at <= $1', [now]);
        return { executions: executions.rowCount ?? 0, idempotencyKeys: keys.rowCount ?? 0 };
      });
    },

    async schemaVersion() {
      const r = await query<{ v: number | null }>(
        'read the schema version',
        'SELECT max(version) AS v FROM schema_migrations',
      );
      return r.rows[0]?.v ?? 0;
    },

    async listen(channel, handler, onReconnect) {
      if (closed) throw closedError();
      listener ??= new Listener(settings);
      return listener.listen(store.channel(channel), handler, onReconnect);
    },

    async close() {
      if (closed) return;
      flushNotifications();
      closed = true;
      await sending;
      await listener?.close();
      await pool.end();
    },
  };
  return store;
}

/**
 * Claims an idempotency key for `executionId` inside a transaction. The primary key
 * decides between concurrent claimants (on any number of API instances): the loser's
 * insert waits for the winner's transaction and then does nothing. Returns the live
 * record that holds the key, or undefined when this claim now holds it.
 */
export async function claimKey(
  tx: Tx,
  claim: IdempotencyClaim,
  executionId: string,
  now: number,
): Promise<ReturnType<typeof toIdempotency> | undefined> {
  // An expired claim no longer holds its key: remove it so the insert below can win.
  await tx.query(
    'DELETE FROM idempotency WHERE "key" = $1 AND expires_at <= $2',
    [claim.key, now],
    'o8_expire_claim',
  );
  const inserted = await tx.query(
    `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT ("key") DO NOTHING RETURNING "key"`,
    [claim.key, claim.fingerprint, executionId, now, claim.expiresAt],
    'o8_insert_claim',
  );
  if (inserted.rowCount === 1) return undefined;
  const r = await tx.query('SELECT * FROM idempotency WHERE "key" = $1', [claim.key], 'o8_get_claim');
  return toIdempotency(r.rows[0]!);
}
