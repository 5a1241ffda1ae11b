/**
 * @module @orchestr8/worker
 * Distributed orchestr8 on PostgreSQL. `startWorker` claims ready steps from the store's
 * task queue (leases, heartbeats, `FOR UPDATE SKIP LOCKED`) and commits each result with
 * the steps it releases in one transaction; `createDistributedEngine` is the `Engine` API
 * instances use to start, follow and cancel executions that workers run. Wait steps run on
 * workers too: a waiting execution holds no task, and a wake (timer, event, signal,
 * decision) puts its step back in the queue exactly once.
 *
 * @example
 * import { openPostgresStore } from '@orchestr8/store-postgres';
 * import { startWorker } from '@orchestr8/worker';
 * import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
 * const store = await openPostgresStore({ url: process.env.ORCHESTR8_STORE! });
 * const worker = await startWorker({ store, registry: createAgentRegistry(builtinAgents), concurrency: 8 });
 * process.once('SIGTERM', async () => {
 *   await worker.stop({ graceMs: 5000 });
 *   await store.close();
 * });
 */
export { Coordinator, type LaunchOptions, WorkflowCache } from './coordinator.js';
export {
  createDistributedEngine,
  type DistributedEngine,
  type DistributedEngineOptions,
} from './distributed-engine.js';
export { ExecutionWatcher } from './watcher.js';
export { startWorker } from './worker.js';
export { DEFAULT_QUEUE, type Worker, type WorkerOptions } from './worker-options.js';
export { DEFAULT_STALE_MS, listWorkers, type WorkersView, workersRoute } from './workers-route.js';
