import type {
  CircuitStateRecord,
  DefinitionRecord,
  ExecutionRecord,
  ExecutionStatus,
  IdempotencyRecord,
  JournalEntry,
  StepStateRecord,
} from './types.js';
import type { WaitStore } from './waits.js';

/**
 * A durable write. The engine groups the writes of one scheduler turn into a batch and
 * hands the batch to `Store.write`, which applies it in one transaction (group commit).
 */
export type StoreWrite =
  | { kind: 'execution'; execution: ExecutionRecord }
  | { kind: 'step'; step: StepStateRecord }
  | { kind: 'journal'; executionId: string; entries: readonly JournalEntry[] }
  /** Drops journal entries with seq < beforeSeq (the per-execution size cap). */
  | { kind: 'journalTrim'; executionId: string; beforeSeq: number }
  | { kind: 'circuit'; circuit: CircuitStateRecord };

/** A recorded request to cancel an execution (see `Store.requestCancel`). */
export interface CancelRequest {
  executionId: string;
  reason: string;
  requestedAt: number;
}

export interface ExecutionQuery {
  status?: ExecutionStatus | readonly ExecutionStatus[];
  workflowId?: string;
  /**
   * Only executions whose correlation id starts with this, or with any of these (e.g.
   * `['trigger:nightly@', 'trigger:nightly#']`: what the trigger `nightly` started).
   * Compared exactly, no wildcards.
   */
  correlationIdPrefix?: string | readonly string[];
  /** Only executions created at or after this time (epoch ms). */
  since?: number;
  /** Only executions created before this time (epoch ms). */
  until?: number;
  /** Only executions whose id starts with this (compared exactly, no wildcards). */
  idPrefix?: string;
  /** Only the sub-workflow executions this execution started. */
  parentExecutionId?: string;
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface IdempotencyClaim {
  key: string;
  fingerprint: string;
  expiresAt: number;
}

export type CreateExecutionResult =
  | { created: true; execution: ExecutionRecord }
  | { created: false; existing: IdempotencyRecord };

/** What `Store.reopenExecution` did: `status` is absent when there is no such execution. */
export type ReopenResult =
  | { reopened: true }
  | { reopened: false; status?: ExecutionStatus; existing?: IdempotencyRecord };

/**
 * Where executions live. The engine depends only on this interface; implementations
 * (memory, SQLite, PostgreSQL) live in their own packages and all pass the same
 * contract suite (`@orchestr8/core/test/store-contract`).
 */
export interface Store {
  /** e.g. "memory", "sqlite", "postgres". */
  readonly kind: string;

  /**
   * Durable waits and the event inbox (`wait` steps). A store without them refuses wait
   * steps: the step fails with a clear error instead of waiting in memory.
   */
  readonly waits?: WaitStore;

  /** Applies the writes in order, atomically and durably. Upserts by primary key. */
  write(batch: readonly StoreWrite[]): Promise<void>;

  /**
   * Inserts a new execution (and its idempotency record, when a claim is given) in one
   * transaction. A live (unexpired) record with the same key wins: nothing is inserted and
   * the existing record is returned. Enforced by a unique constraint, not check-then-insert.
   */
  createExecution(execution: ExecutionRecord, claim?: IdempotencyClaim): Promise<CreateExecutionResult>;

  /**
   * `createExecution` for several executions in one transaction, each settled as
   * `createExecution` would (one's failure is its own). Optional: the engine groups the
   * executions started in one event-loop turn into one call when a store has it.
   */
  createExecutions?(
    items: readonly { execution: ExecutionRecord; claim?: IdempotencyClaim }[],
  ): Promise<PromiseSettledResult<CreateExecutionResult>[]>;

  getExecution(id: string): Promise<ExecutionRecord | undefined>;
  /** Newest first. */
  listExecutions(query?: ExecutionQuery): Promise<Page<ExecutionRecord>>;
  getSteps(executionId: string): Promise<StepStateRecord[]>;
  /** Entries with seq > afterSeq, ascending, at most `limit`. */
  readJournal(executionId: string, options?: { afterSeq?: number; limit?: number }): Promise<JournalEntry[]>;

  /** Same id+version+hash is a no-op returning the stored record; same id+version with another hash is a CONFLICT error. */
  putDefinition(definition: DefinitionRecord): Promise<DefinitionRecord>;
  /** The given version, or the newest when omitted. */
  getDefinition(id: string, version?: string): Promise<DefinitionRecord | undefined>;
  getDefinitionByHash(hash: string): Promise<DefinitionRecord | undefined>;
  listDefinitions(): Promise<DefinitionRecord[]>;

  findIdempotency(key: string, now: number): Promise<IdempotencyRecord | undefined>;

  loadCircuits(): Promise<CircuitStateRecord[]>;

  /**
   * Durably records a request to cancel an execution, for the process that runs it (often
   * another one) to act on: engines poll `pendingCancels` for their live runs and check it
   * before resuming. Returns `'requested'` when recorded (a second request while one is
   * pending keeps the first, and still returns `'requested'`), `'finished'` when the
   * execution is already terminal (nothing is recorded), `'not_found'` when there is no
   * such execution. Atomic with respect to other writers.
   */
  requestCancel(
    executionId: string,
    reason: string,
    at: number,
  ): Promise<'requested' | 'finished' | 'not_found'>;
  /**
   * The cancel requests recorded for those of the given executions that are not terminal
   * (queued or running): one per execution, in no particular order. A request is removed
   * with its execution by `prune`.
   */
  pendingCancels(executionIds: readonly string[]): Promise<CancelRequest[]>;

  /**
   * Applies `batch` in one transaction if, and only if, execution `executionId` is in one of
   * `statuses` then (checked under the write lock: of concurrent callers expecting a status,
   * one wins). With a `claim`, its key is recorded for the execution in the same transaction,
   * as by `createExecution`; a live claim on the key wins and nothing is written. A cancel
   * request recorded for the execution is dropped with the same transaction (it was acted
   * on, or came too late; the reopened execution starts without one). This is how
   * `engine.retry` takes a finished execution back exactly once. Optional: without it, a
   * store cannot retry executions.
   */
  reopenExecution?(
    executionId: string,
    statuses: readonly ExecutionStatus[],
    batch: readonly StoreWrite[],
    claim?: IdempotencyClaim,
  ): Promise<ReopenResult>;

  /** Removes finished executions (with steps, journals and cancel requests) that finished before `finishedBefore`, and expired idempotency records. */
  prune(options: {
    finishedBefore: number;
    now: number;
  }): Promise<{ executions: number; idempotencyKeys: number }>;

  close(): Promise<void>;
}
