import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import type { Store } from '@orchestr8/core';
import type pg from 'pg';
import { encodeParams } from './array-param.js';
import { segmentBatch, segmentStatements } from './batch.js';
import { type ConnectionSettings, createPool, parseConnection } from './connection.js';
import type { Database, Tx } from './database.js';
import { pgCode, SqlState, toStoreError } from './errors.js';
import { Listener } from './listener.js';
import { checkSchema, LATEST_SCHEMA_VERSION, migrate } from './migrations.js';
import { cancelMethods } from './postgres-cancel.js';
import { definitionMethods } from './postgres-definitions.js';
import { idempotencyMethods } from './postgres-idempotency.js';
import { reopenInTransaction } from './postgres-operations.js';
import { pruneMethods } from './postgres-prune.js';
import { readMethods } from './postgres-reads.js';
import { PostgresWaits } from './postgres-waits.js';
import type { Row } from './rows.js';
import { startStatisticsUpkeep } from './statistics-upkeep.js';

// Claiming an idempotency key moved to postgres-idempotency.ts; exported here as before.
export { claimKey } from './postgres-idempotency.js';

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
  /**
   * How often (ms) the store looks whether a table of its own has grown enough since
   * PostgreSQL last analyzed it (never, or to more than twice the rows) and analyzes it
   * then, so that the statements' plans keep using the indexes while a fresh database fills
   * up faster than autovacuum looks (see statistics-upkeep.ts). Default 5,000; 0: never.
   */
  statisticsUpkeepMs?: number;
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

/**
 * Opens an orchestr8 store on PostgreSQL: a connection pool, migrated on open. Every
 * `write` is one transaction (one statement when the batch has no journal trim), so the
 * engine's group commit maps to one round trip.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const settings = parseConnection(options.url, options.schema);
  const statisticsUpkeepMs = options.statisticsUpkeepMs ?? 5000;
  // setTimeout takes up to 2^31 - 1 ms (and turns anything else into 1 ms).
  if (!Number.isInteger(statisticsUpkeepMs) || statisticsUpkeepMs < 0 || statisticsUpkeepMs > 2 ** 31 - 1)
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      `statisticsUpkeepMs must be a whole number of milliseconds from 0 (never) to 2147483647, got ${String(statisticsUpkeepMs)}`,
    );
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
  return createPostgresStore(pool, settings, clock, statisticsUpkeepMs);
}

function createPostgresStore(
  pool: pg.Pool,
  settings: ConnectionSettings,
  clock: Clock,
  statisticsUpkeepMs: number,
): PostgresStore {
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

  // Statements run, for the statistics upkeep (it looks only after activity).
  let ran = 0;
  const query = async <R extends Row = Row>(
    action: string,
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<pg.QueryResult<R>> => {
    if (closed) throw closedError();
    ran++;
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
    ran++;
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

  // What the method groups need of the store (notify goes through the store, as it did).
  const db: Database = { query, transaction, notify: (channel, payload) => store.notify(channel, payload) };
  const statistics = startStatisticsUpkeep(db, settings.schema, statisticsUpkeepMs, () => ran);
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
    ...readMethods(db),
    ...definitionMethods(db),
    ...idempotencyMethods(db, clock),
    ...cancelMethods(db),
    ...pruneMethods(db),

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
      ran++;
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
      await statistics.stop();
      await sending;
      await listener?.close();
      await pool.end();
    },
  };
  return store;
}
