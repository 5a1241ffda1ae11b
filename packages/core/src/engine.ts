import { ErrorCode, Orchestr8Error, type TimerHandle } from '@orchestr8/common';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { Engine, EngineOptions, ExecutionHandle, StartOptions } from './engine-api.js';
import { createAuthorization } from './engine-authorization.js';
import { createOperations, handleOf } from './engine-operations.js';
import { createRecovery } from './engine-recovery.js';
import { createRuntime } from './engine-runtime.js';
import { assertSameRequest, checkedInputs, newExecution, storeDefinition } from './execution-request.js';
import { buildResult, ExecutionRun } from './execution-run.js';
import { LiveMap } from './live-map.js';
import { createParkedResults } from './parked-results.js';
import { createWaitService } from './wait-service.js';
import { DEFAULT_EVENT_LOOK_BACK_MS } from './waits.js';
import { createWorkflowCompiler } from './workflow-compiler.js';

export type {
  Engine,
  EngineOptions,
  ExecutionHandle,
  OperationKey,
  RerunOptions,
  RetryHandle,
  RetryOptions,
  StartOptions,
} from './engine-api.js';

export function createEngine(options: EngineOptions): Engine {
  // Option defaults, the runtime (engine-runtime.ts); grants, secrets (engine-authorization.ts).
  const {
    clock,
    ownsStore,
    store,
    resilience,
    batcher,
    createExecution,
    bus,
    logger,
    env,
    capabilities,
    rt,
  } = createRuntime(options, () => engine);
  const { grantsFor, redactorFor } = createAuthorization(options, capabilities, env);
  const compiler = createWorkflowCompiler(options.registry);
  // Not a plain Map: a finished run must not outlive it in the Map's old hash tables (live-map.ts).
  const runs = new LiveMap<string, ExecutionRun>();
  // The result promises of runs that left memory for their waits (a resolver each, not the run).
  const parkedResults = createParkedResults({ store, getResult: (id) => engine.getResult(id), logger });
  const lookBackMs = options.eventLookBackMs ?? DEFAULT_EVENT_LOOK_BACK_MS;
  rt.eventLookBackMs = lookBackMs;
  const waits = createWaitService({
    store,
    clock,
    logger,
    lookBackMs,
    pollMs: ownsStore ? 0 : (options.waitPollMs ?? 5000),
    resume: (id) => engine.resume(id),
    wakeLive: (id, stepId) => runs.get(id)?.wakeStep(stepId) ?? false,
    isLive: (id) => runs.has(id),
    afterScan: () => parkedResults.sweep(),
  });
  rt.waitRegistered = (w) => waits.registered(w);
  // Cancel requests come from whoever else holds the store; nobody else holds the memory
  // store the engine created for itself, so there is nothing to poll for.
  const cancelPollMs = ownsStore ? 0 : (options.cancelPollMs ?? 1000);
  let closing: Promise<void> | undefined;
  const assertOpen = () => {
    if (closing !== undefined) {
      throw new Orchestr8Error(ErrorCode.CONFLICT, 'the engine is closed', { retryable: false });
    }
  };
  const savedDefinitions = new Map<string, string>(); // hash -> stored version
  let circuitsLoaded: Promise<void> | undefined;

  // Circuit state survives restarts: transitions are persisted, and restored on first use.
  resilience.breakers.onTransition((t) => {
    rt.circuitLog.record(t.key, t.from, t.to, t.at);
    const snap = resilience.breakers.snapshot().find((s) => s.key === t.key);
    if (!snap) return;
    batcher.add({
      kind: 'circuit',
      circuit: {
        key: snap.key,
        state: snap.state,
        failures: snap.failures,
        ...(snap.openUntil !== undefined ? { openUntil: snap.openUntil } : {}),
        updatedAt: clock.now(),
      },
    });
  });
  let circuitsReady = false;
  const loadCircuits = () => {
    circuitsLoaded ??= store.loadCircuits().then(
      (c) => {
        resilience.breakers.restore(c);
        circuitsReady = true;
      },
      () => {
        circuitsReady = true;
      },
    );
    return circuitsLoaded;
  };

  async function ensureDefinition(workflow: CompiledWorkflow): Promise<string> {
    const known = savedDefinitions.get(workflow.hash);
    if (known !== undefined) return known;
    const version = await storeDefinition(store, workflow, clock.now());
    savedDefinitions.set(workflow.hash, version);
    return version;
  }

  // Cancel requests recorded in the store by other processes (`orchestr8 cancel`, another
  // API instance) are picked up about once a second while this engine runs executions.
  let pollTimer: TimerHandle | undefined;
  const pollCancels = () => {
    pollTimer = undefined;
    if (runs.size === 0) return;
    store.pendingCancels([...runs.keys()]).then(
      (requests) => {
        for (const r of requests) runs.get(r.executionId)?.cancel(r.reason);
        schedulePoll();
      },
      () => schedulePoll(),
    );
  };
  const schedulePoll = () => {
    if (pollTimer === undefined && runs.size > 0 && cancelPollMs > 0) {
      // A poll never keeps the process alive: the executions it watches do.
      pollTimer = clock.setTimeout(pollCancels, cancelPollMs, { unref: true });
    }
  };

  function launch(
    run: ExecutionRun,
    resumed: boolean,
    signal?: AbortSignal,
    cancelReason?: string,
  ): ExecutionRun {
    const id = run.record.id;
    runs.set(id, run);
    schedulePoll();
    if (signal) {
      if (signal.aborted) queueMicrotask(() => run.cancel(abortReason(signal)));
      else {
        const onAbort = () => run.cancel(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        // A signal that outlives its executions (a server's shutdown signal) must not keep
        // every finished run reachable through its listeners.
        void run.result.then(() => signal.removeEventListener('abort', onAbort));
      }
    }
    run.onFinished = forget;
    run.onParked = parked;
    const earlier = parkedResults.take(id);
    if (earlier !== undefined) void run.result.then(earlier);
    run.begin(resumed, cancelReason);
    return run;
  }
  const forget = (run: ExecutionRun) => {
    runs.delete(run.record.id);
  };
  const parked = (run: ExecutionRun) => {
    const id = run.record.id;
    runs.delete(id);
    parkedResults.park(id, run.resultResolver());
    waits.parked(id);
  };

  /** Starts an execution: the run, or the handle of the existing one an idempotency key matched. */
  async function startRun(
    workflow: CompiledWorkflow,
    opts: StartOptions,
  ): Promise<ExecutionRun | ExecutionHandle> {
    assertOpen();
    // Plain JavaScript callers pass a document (or its text) here as easily as to compile().
    if (!(workflow?.stepById instanceof Map)) throw notCompiled(workflow);
    if (store.waits === undefined && workflow.steps.some((s) => s.wait !== undefined)) {
      throw new Orchestr8Error(
        ErrorCode.VALIDATION,
        `workflow "${workflow.id}" has wait steps, which the ${store.kind} store does not support yet: use the SQLite or memory store`,
        { retryable: false },
      );
    }
    const inputs = checkedInputs(workflow, opts.inputs);
    const grants = grantsFor(workflow);
    // Hot path: after the first execution of a definition both are known; skip the awaits.
    if (!circuitsReady) await loadCircuits();
    const version = savedDefinitions.get(workflow.hash) ?? (await ensureDefinition(workflow));
    const { record, claim } = newExecution(workflow, version, inputs, opts, clock.now());
    const created = await createExecution(record, claim);
    if (!created.created) {
      assertSameRequest(claim, created.existing);
      return existingHandle(created.existing.executionId);
    }
    const { redactor, values } = redactorFor(workflow);
    const run = new ExecutionRun(
      rt,
      workflow,
      record,
      redactor,
      values,
      // Read field by field (absent ones are undefined): no spread objects per execution.
      { maxConcurrentSteps: opts.maxConcurrentSteps, traceContext: opts.traceContext, depth: opts.depth },
      grants,
    );
    return launch(run, false, opts.signal);
  }

  const notCompiled = (value: unknown) =>
    new Orchestr8Error(
      ErrorCode.VALIDATION,
      `start() and execute() take a compiled workflow, not ${
        typeof value === 'string'
          ? 'document text'
          : value === null || typeof value !== 'object'
            ? String(value)
            : 'a document'
      }: pass engine.compile(document) or await engine.compileFile(path)`,
      { retryable: false },
    );

  // Resume, resumeAll and what they read back from the store (engine-recovery.ts).
  const recovery = createRecovery({
    store,
    rt,
    runs,
    capabilities,
    savedDefinitions,
    loadCircuits,
    grantsFor,
    redactorFor,
    launch,
    existingHandle,
    assertOpen,
    self: () => engine,
  });
  const { storedWorkflow, requireRecord } = recovery;

  const engine: Engine = {
    store,
    events: bus,
    breakers: resilience.breakers,

    async start(workflow, opts = {}) {
      const started = await startRun(workflow, opts);
      return started instanceof ExecutionRun ? handleOf(started, true) : started;
    },

    authorize(workflow) {
      grantsFor(workflow);
    },

    compile: compiler.compile,
    compileFile: compiler.compileFile,

    async execute(workflow, opts = {}) {
      return (await startRun(workflow, opts)).result;
    },

    cancel(executionId, opts = {}) {
      const run = runs.get(executionId);
      if (!run) return false;
      run.cancel(opts.reason ?? 'cancelled', opts.force ?? false);
      return true;
    },

    resume: recovery.resume,

    retry: (executionId, opts = {}) => retry(executionId, opts),

    async planRerun(executionId, opts) {
      return (await prepareRerun(executionId, opts)).plan;
    },

    rerun: (executionId, opts) => rerun(executionId, opts),

    resumeAll: recovery.resumeAll,

    async getResult(executionId) {
      const run = runs.get(executionId);
      if (run) return run.toResult();
      const record = await store.getExecution(executionId);
      if (!record) return undefined;
      return buildResult(record, await store.getSteps(executionId));
    },

    isRunning: (id) => runs.has(id),

    sendEvent: (event) => waits.sendEvent(event),
    signal: (executionId, name, payload, id, opts) => waits.signal(executionId, name, payload, id, opts),
    decide: (executionId, stepId, decision) => waits.decide(executionId, stepId, decision),
    approvals: (query) => waits.approvals(query),

    stats() {
      let runningSteps = 0;
      for (const run of runs.values()) runningSteps += run.runningSteps;
      return { executions: runs.size, runningSteps, eventsDropped: bus.droppedTotal };
    },

    async shutdown(opts = {}) {
      const live = [...runs.values()];
      if (opts.cancel) {
        for (const run of live) run.cancel(opts.reason ?? 'engine shutting down');
        await Promise.all(live.map((r) => r.result));
      } else {
        await Promise.all(live.map((r) => r.suspend(opts.graceMs ?? 5000)));
        for (const run of live) runs.delete(run.record.id);
      }
      pollTimer?.cancel();
      pollTimer = undefined;
      waits.close();
      await batcher.drain().catch(() => {});
    },

    close(opts = {}) {
      closing ??= (async () => {
        const cancel = opts.cancel ?? (ownsStore && store.kind === 'memory');
        await engine.shutdown({ ...opts, cancel });
        if (ownsStore) await store.close();
      })();
      return closing;
    },
  };
  if (options.wakeWaits !== false && store.waits !== undefined) waits.start();
  if (typeof Symbol.asyncDispose === 'symbol') {
    (engine as unknown as Record<symbol, unknown>)[Symbol.asyncDispose] = () => engine.close();
  }

  const { retry, rerun, prepareRerun } = createOperations({
    store,
    clock,
    rt,
    runs,
    resume: (id) => engine.resume(id),
    storedWorkflow,
    requireRecord,
    grantsFor,
    ensureCircuits: () => (circuitsReady ? undefined : loadCircuits()),
    redactorFor,
    launch,
    existingHandle,
    assertOpen,
  });

  function existingHandle(executionId: string): ExecutionHandle {
    const live = runs.get(executionId);
    if (live) return handleOf(live, false);
    return {
      id: executionId,
      created: false,
      result: engine.getResult(executionId).then((r) => {
        if (!r) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`);
        return r;
      }),
      cancel: () => {},
    };
  }

  return engine;
}

function abortReason(signal: AbortSignal): string {
  const r = signal.reason as { message?: unknown } | undefined;
  return typeof r?.message === 'string' ? r.message : 'aborted';
}
