/**
 * @module @orchestr8/store-postgres
 * The orchestr8 store on PostgreSQL: a connection pool, versioned migrations applied on
 * open, one transaction per engine batch (group commit), idempotency enforced by a primary
 * key across any number of API instances. It also holds the task queue that distributes
 * ready steps to `orchestr8 worker` processes (`FOR UPDATE SKIP LOCKED`, leases), and the
 * waits and event inbox of wait steps, shared by every process on the database.
 *
 * @example
 * import { openPostgresStore } from '@orchestr8/store-postgres';
 * const store = await openPostgresStore({ url: 'postgres://orchestr8@localhost/orchestr8' });
 * // ... hand `store` to the engine; on shutdown:
 * await store.close();
 */

export type { Database, Tx } from './database.js';
export {
  LATEST_SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION,
  MIGRATIONS,
  type Migration,
} from './migrations.js';
export {
  openPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from './postgres-store.js';
export { PostgresWaits } from './postgres-waits.js';
export type { BatchItem } from './task-commit-batch.js';
export {
  type BatchCommitResult,
  Channel,
  type ClaimedTask,
  type CommitOptions,
  type CommitResult,
  type CommitStats,
  type CommitWaits,
  type ExecutionState,
  type HeartbeatResult,
  type LockedExecution,
  type RunningStep,
  type WorkerInfo,
} from './task-types.js';
export { TaskQueue } from './tasks.js';
