import { type Clock, ErrorCode, Orchestr8Error } from '@orchestr8/common';
import {
  type CreateExecutionResult,
  type DefinitionRecord,
  definitionConflict,
  type ExecutionQuery,
  type ExecutionRecord,
  type IdempotencyClaim,
  latestDefinition,
  type Page,
  paging,
  type Store,
} from '@orchestr8/core';
import type Database from 'libsql';
import { createCheckpointer } from './checkpointer.js';
import { sqliteCode, toStoreError } from './errors.js';
import { readSchemaVersion } from './migrations.js';
import {
  executionParams,
  json,
  toCircuit,
  toDefinition,
  toExecution,
  toIdempotency,
  toJournalEntry,
  toStep,
} from './rows.js';
import {
  correlationPrefixParams,
  fewCorrelated,
  listRange,
  listRangeParams,
  reopenInTransaction,
} from './sqlite-operations.js';
import {
  listStatementFor,
  prepareStatements,
  type Statements,
  TERMINAL_STATUSES,
} from './sqlite-statements.js';
import { createSqliteWaits } from './sqlite-waits.js';
import { createBatchWriter } from './sqlite-writes.js';

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

/** The store over an open, migrated connection (see openSqliteStore). */

export function createSqliteStore(
  db: Database.Database,
  path: string,
  clock: Clock,
  busyTimeoutMs: number,
  backgroundCheckpoints: boolean,
): SqliteStore {
  // Dropped on close: libsql keeps the file open while a statement is reachable.
  let s: Statements = prepareStatements(db);
  let writer = createBatchWriter(s);
  const listStatements = new Map<string, Database.Statement>();
  const listStatement = listStatementFor(db, listStatements);
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
          transaction(() => writer.applyBulk(batch));
        } catch (error) {
          // Rolled back. Which write named a missing execution? Apply them one by one to say.
          if (sqliteCode(error) !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error;
          transaction(() => writer.applyBatch(batch));
        }
      });
    },

    createExecution(execution: ExecutionRecord, claim?: IdempotencyClaim) {
      return run('create an execution', () => transaction(() => createOne(execution, claim)));
    },

    createExecutions(items) {
      if (items.length === 1) {
        // Alone in its transaction: no savepoint needed (two native calls fewer per execution).
        // Still a transaction, not an autocommit INSERT: one that fails on another connection's
        // lock keeps its read snapshot in libsql, and the next BEGIN IMMEDIATE gets SQLITE_BUSY_SNAPSHOT.
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
          if (existing.hash !== definition.hash) throw definitionConflict(definition, existing);
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
        transaction(() =>
          reopenInTransaction(db, s, (w) => writer.applyWrite(w), clock, executionId, statuses, batch, claim),
        ),
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
      writer = undefined as unknown as typeof writer;
      waits.dispose();
      s = undefined as unknown as Statements;
      db.close();
    },
  };
  return store;
}
