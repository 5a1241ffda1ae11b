/**
 * An `Engine` whose executions run on workers. `start` commits the execution with the
 * tasks of its root steps and returns; workers (`orchestr8 worker`, or one in this process
 * with `worker`) run the steps. Any number of API instances can use it side by side on one
 * database: idempotency keys are decided by the database, results and events come from it.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import {
  type AgentRegistry,
  buildResult,
  createWaitService,
  createWorkflowCompiler,
  DEFAULT_EVENT_LOOK_BACK_MS,
  type Engine,
  type EngineObserver,
  type ExecutionHandle,
  type ExecutionResult,
  type StartOptions,
  StepTaskRunner,
  TERMINAL_EXECUTION_STATUSES,
} from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { PostgresStore } from '@orchestr8/store-postgres';
import { Coordinator } from './coordinator.js';
import { ExecutionWatcher } from './watcher.js';
import { startWorker } from './worker.js';
import type { Worker, WorkerOptions } from './worker-options.js';

/** The API side's engine: what it shares with a worker's options means the same there. */
export interface DistributedEngineOptions
  extends Pick<WorkerOptions, 'env' | 'secretEnv' | 'journal' | 'logger' | 'remoteAgent' | 'capabilities'> {
  store: PostgresStore;
  registry: AgentRegistry;
  /** Told of the journal entries of the steps the in-process worker runs (e.g. for metrics). */
  observers?: readonly EngineObserver[];
  /** Also run a worker in this process (e.g. `orchestr8 serve --worker`). */
  worker?: boolean | Omit<WorkerOptions, 'store' | 'registry'>;
  /** How often waiters re-check the database besides notifications (default 1 s). */
  pollMs?: number;
  /** How long the event inbox keeps events for waits that register later, in ms (default 5 minutes). */
  eventLookBackMs?: number;
}

export interface DistributedEngine extends Engine {
  /** The worker running in this process, if any. */
  readonly worker: Worker | undefined;
}

export async function createDistributedEngine(options: DistributedEngineOptions): Promise<DistributedEngine> {
  const { store } = options;
  const runner = new StepTaskRunner({
    registry: options.registry,
    ...(options.env ? { env: options.env } : {}),
    ...(options.secretEnv ? { secretEnv: options.secretEnv } : {}),
    ...(options.journal ? { journal: options.journal } : {}),
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  });
  const coordinator = new Coordinator(store, runner);
  const watcher = new ExecutionWatcher(store, runner.bus, options.pollMs ?? 1000);
  await watcher.start();
  let worker: Worker | undefined;
  if (options.worker) {
    worker = await startWorker({
      store,
      registry: options.registry,
      ...(options.env ? { env: options.env } : {}),
      ...(options.secretEnv ? { secretEnv: options.secretEnv } : {}),
      ...(options.journal ? { journal: options.journal } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.remoteAgent ? { remoteAgent: options.remoteAgent } : {}),
      ...(options.observers ? { observers: options.observers } : {}),
      ...(options.capabilities ? { capabilities: options.capabilities } : {}),
      ...(options.eventLookBackMs !== undefined ? { eventLookBackMs: options.eventLookBackMs } : {}),
      ...(typeof options.worker === 'object' ? options.worker : {}),
    });
  }

  const cancel = (id: string, reason: string) => {
    // Recorded first, so the request survives this process; then applied at once.
    void store
      .requestCancel(id, reason, Date.now())
      .then((r) => (r === 'requested' ? coordinator.cancel(id, reason) : undefined))
      .catch((e) => options.logger?.error(`cancelling execution ${id} failed`, { error: String(e) }));
  };

  const handle = (id: string, created: boolean): ExecutionHandle => {
    let result: Promise<ExecutionResult> | undefined;
    return {
      id,
      created,
      // Followed only when someone asks: an API instance answering 202 never waits.
      get result() {
        result ??= watcher.wait(id, { fresh: created });
        return result;
      },
      cancel: (reason) => cancel(id, reason ?? 'cancelled'),
    };
  };

  // Events, signals and decisions. Timers are fired by the workers (each one may: the
  // claim is versioned), so this service does not scan.
  const waits = createWaitService({
    store,
    clock: runner.clock,
    logger: options.logger ?? { debug() {}, info() {}, warn() {}, error() {} },
    lookBackMs: options.eventLookBackMs ?? DEFAULT_EVENT_LOOK_BACK_MS,
    pollMs: 0,
    // An execution an in-process engine left waiting, woken here: handed to the workers.
    resume: (id) => engine.resume(id),
    wakeLive: () => false,
    isLive: () => false,
  });

  const compiler = createWorkflowCompiler(options.registry);
  const engine: DistributedEngine = {
    store,
    events: runner.bus,
    breakers: runner.resilience.breakers,
    worker,

    // Wait steps are not distributed yet: a document with one is refused when it runs.
    // Nothing waits here (wait steps are refused), so an event wakes nothing.
    // A wake claims the wait and inserts its step's task in one statement: workers resume it.
    sendEvent: (e) => waits.sendEvent(e),
    signal: (...a: Parameters<Engine['signal']>) => waits.signal(...a),
    decide: (...a: Parameters<Engine['decide']>) => waits.decide(...a),
    approvals: (query) => waits.approvals(query),
    // Retry and rerun run in one engine process for now (memory or SQLite store).
    retry: () => Promise.reject(operationUnsupported('retry')),
    planRerun: () => Promise.reject(operationUnsupported('rerun')),
    rerun: () => Promise.reject(operationUnsupported('rerun')),

    async start(workflow: CompiledWorkflow, opts: StartOptions = {}) {
      const { id, created } = await coordinator.launch(workflow, {
        ...(opts.inputs !== undefined ? { inputs: opts.inputs } : {}),
        ...(opts.executionId !== undefined ? { executionId: opts.executionId } : {}),
        ...(opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
        ...(opts.fingerprint !== undefined ? { fingerprint: opts.fingerprint } : {}),
        ...(opts.idempotencyTtlMs !== undefined ? { idempotencyTtlMs: opts.idempotencyTtlMs } : {}),
        ...(opts.correlationId !== undefined ? { correlationId: opts.correlationId } : {}),
        ...(opts.parentExecutionId !== undefined ? { parentExecutionId: opts.parentExecutionId } : {}),
        ...(opts.parentStepId !== undefined ? { parentStepId: opts.parentStepId } : {}),
      });
      const signal = opts.signal;
      if (signal && created) {
        const onAbort = () => cancel(id, 'aborted');
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      return handle(id, created);
    },

    authorize(workflow) {
      runner.grantsFor(workflow);
    },

    compile: compiler.compile,
    compileFile: compiler.compileFile,

    async execute(workflow, opts) {
      return (await engine.start(workflow, opts)).result;
    },

    cancel(executionId, opts = {}) {
      cancel(executionId, opts.reason ?? 'cancelled');
      return true;
    },

    async resume(executionId) {
      const record = await store.getExecution(executionId);
      if (!record) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`);
      // Workers carry on with a distributed execution (expired leases return to the queue);
      // one an in-process engine left running is handed to them.
      if (!TERMINAL_EXECUTION_STATUSES.has(record.status)) await coordinator.adopt(executionId);
      return handle(executionId, false);
    },

    async resumeAll() {
      const handles: ExecutionHandle[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listExecutions({
          status: ['running', 'queued'],
          limit: 100,
          ...(cursor ? { cursor } : {}),
        });
        for (const e of page.items) {
          if ((await coordinator.adopt(e.id)).status === 'committed') handles.push(handle(e.id, false));
        }
        cursor = page.nextCursor;
      } while (cursor);
      return handles;
    },

    async getResult(executionId) {
      const record = await store.getExecution(executionId);
      if (!record) return undefined;
      return buildResult(record, await store.getSteps(executionId));
    },

    isRunning: () => false,

    stats() {
      return { executions: 0, runningSteps: worker?.running ?? 0, eventsDropped: runner.bus.droppedTotal };
    },

    async shutdown(opts = {}) {
      await worker?.stop(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {});
      waits.close();
      watcher.close();
    },

    // Executions live in the database and carry on with other workers, so closing is the
    // shutdown of this process's part; the store was passed in, so it stays open.
    close(opts = {}) {
      closing ??= engine.shutdown(opts);
      return closing;
    },
  };
  let closing: Promise<void> | undefined;
  if (typeof Symbol.asyncDispose === 'symbol') {
    (engine as unknown as Record<symbol, unknown>)[Symbol.asyncDispose] = () => engine.close();
  }
  return engine;
}

function operationUnsupported(op: 'retry' | 'rerun'): Orchestr8Error {
  return new Orchestr8Error(
    ErrorCode.VALIDATION,
    `${op} is not supported by the distributed engine (PostgreSQL workers) yet: ${op} executions on the SQLite store`,
    { retryable: false },
  );
}
