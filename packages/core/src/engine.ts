import { trace } from '@opentelemetry/api';
import { ErrorCode, Orchestr8Error, systemClock, type TimerHandle } from '@orchestr8/common';
import { createResilience, type Resilience } from '@orchestr8/resilience';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { resolveCapabilities } from './capabilities.js';
import { CircuitLog } from './circuit-log.js';
import type { Engine, EngineOptions, ExecutionHandle, StartOptions } from './engine-api.js';
import { createOperations, handleOf } from './engine-operations.js';
import { EventBus } from './events.js';
import { createExecutionCreator } from './execution-creator.js';
import { assertSameRequest, checkedInputs, newExecution, storeDefinition } from './execution-request.js';
import { buildResult, ExecutionRun } from './execution-run.js';
import { grantWorkflow, type WorkflowGrants } from './grants.js';
import { DEFAULT_JOURNAL_LIMITS } from './journal.js';
import { LiveMap } from './live-map.js';
import { createMemoryStore } from './memory-store.js';
import { createParkedResults } from './parked-results.js';
import { createRedactor, noRedaction, type Redactor, secretValuesOf } from './redaction.js';
import { type EngineRuntime, silentLogger } from './runtime.js';
import { type ExecutionRecord, TERMINAL_EXECUTION_STATUSES } from './types.js';
import { createWaitService } from './wait-service.js';
import { DEFAULT_EVENT_LOOK_BACK_MS } from './waits.js';
import { compiledOrThrow, createWorkflowCompiler } from './workflow-compiler.js';
import { WriteBatcher } from './write-batcher.js';

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
  const clock = options.clock ?? systemClock;
  const ownsStore = options.store === undefined;
  const store = options.store ?? createMemoryStore({ clock });
  const resilience: Resilience = createResilience({
    clock,
    ...(options.random ? { random: options.random } : {}),
    ...(options.breakers ? { breakers: options.breakers } : {}),
  });
  // Group commit: in memory a commit is free, so commit per microtask wave; a durable store
  // commits once per event-loop turn, so a wave of completing steps shares a transaction.
  const batcher = new WriteBatcher(store, store.kind === 'memory' ? 'microtask' : 'macrotask');
  // New executions too: those started in one turn share a transaction (durable stores).
  const createExecution = createExecutionCreator(store);
  const storeObservers = (options.observers ?? []).filter((o) => o.onStoreWrite);
  if (storeObservers.length > 0) {
    batcher.onFlush = (ms, writes) => {
      for (const o of storeObservers) {
        try {
          o.onStoreWrite!(ms, writes);
        } catch {
          // observers must not break executions
        }
      }
    };
  }
  const bus = new EventBus();
  const logger = options.logger ?? silentLogger;
  bus.onDrop = (capacity) =>
    logger.warn(
      `an event subscriber fell behind by more than its capacity (${capacity}) while its handler's promise was pending: ` +
        "the oldest events are being dropped (see the subscription's `dropped`; raise `capacity` or handle events faster)",
      { capacity },
    );
  const env = options.env ?? process.env;
  const capabilities = resolveCapabilities(options.capabilities);
  const grantsCache = new WeakMap<CompiledWorkflow, WorkflowGrants>();
  const grantsFor = (workflow: CompiledWorkflow): WorkflowGrants => {
    let g = grantsCache.get(workflow);
    if (g === undefined) {
      g = grantWorkflow(workflow, options.registry, capabilities, env);
      grantsCache.set(workflow, g);
    }
    return g;
  };
  const rt: EngineRuntime = {
    store,
    batcher,
    bus,
    clock,
    registry: options.registry,
    resilience,
    journalLimits: { ...DEFAULT_JOURNAL_LIMITS, ...options.journal },
    env,
    capabilities,
    tracer: options.tracer ?? trace.getTracer('orchestr8'),
    tracingExplicit: options.tracer !== undefined,
    logger,
    circuitLog: new CircuitLog(),
    observers: options.observers ?? [],
    remoteAgent: options.remoteAgent,
    runChild: async (req) => {
      if (req.depth > capabilities.maxWorkflowDepth) {
        throw new Orchestr8Error(
          ErrorCode.LIMIT_EXCEEDED,
          `sub-workflows nest ${req.depth} deep, beyond the limit of ${capabilities.maxWorkflowDepth} ` +
            '(a workflow that calls itself?); the operator sets the limit with capabilities.maxWorkflowDepth',
          { retryable: false, details: { depth: req.depth, limit: capabilities.maxWorkflowDepth } },
        );
      }
      const child = compiledOrThrow(
        validateWorkflowObject(req.document, { knownAgents: options.registry.list().map((a) => a.id) }),
        'sub-workflow',
      );
      const startChild = (idempotencyKey: string) =>
        engine.start(child, {
          inputs: req.inputs ?? {},
          parentExecutionId: req.parentExecutionId,
          parentStepId: req.parentStepId,
          idempotencyKey,
          signal: req.signal,
          depth: req.depth,
        });
      let handle = await startChild(req.idempotencyKey);
      if (!handle.created) {
        // Found again (a retry, or a re-run after a crash): reuse a child that is running
        // or completed; a failed or cancelled one is not worth waiting for: retry it fresh.
        const previous = await handle.result;
        if (previous.status === 'failed' || previous.status === 'cancelled') {
          handle = await startChild(`${req.idempotencyKey}#${req.attempt}`);
        }
      }
      return { id: handle.id, result: handle.result };
    },
  };
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

  const NO_SECRETS = { redactor: noRedaction, values: [] as string[] };
  function redactorFor(workflow: CompiledWorkflow): { redactor: Redactor; values: string[] } {
    // The common case, on the hot path: nothing to redact, nothing to allocate.
    if (options.secretEnv === undefined && isEmpty(workflow.secretRefs)) return NO_SECRETS;
    // context.secretRefs (name -> environment variable) and secretEnv; the same rule as the
    // views of stored executions (redactorForDefinition), so what is hidden here is hidden there.
    const values = secretValuesOf(workflow.secretRefs, env, options.secretEnv);
    if (values.length === 0) return NO_SECRETS;
    return { redactor: createRedactor(values), values };
  }

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

    async resume(executionId, opts = {}) {
      assertOpen();
      const live = runs.get(executionId);
      if (live) return handleOf(live, false);
      const record = await store.getExecution(executionId);
      if (!record) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`);
      if (TERMINAL_EXECUTION_STATUSES.has(record.status)) return existingHandle(executionId);
      const workflow = await storedWorkflow(record);
      await loadCircuits();
      const [steps, journal] = await Promise.all([
        store.getSteps(executionId),
        store.readJournal(executionId),
      ]);
      const lastSeq = journal.length > 0 ? journal[journal.length - 1]!.seq : 0;
      const [request] = await store.pendingCancels([executionId]);
      // The operator's grants may have changed since it started: they apply to what runs now.
      const grants = grantsFor(workflow);
      const { redactor, values } = redactorFor(workflow);
      const run = new ExecutionRun(
        rt,
        workflow,
        record,
        redactor,
        values,
        {
          journalSeq: lastSeq,
          previous: steps,
          depth: await depthOf(record),
          ...(opts.maxConcurrentSteps !== undefined ? { maxConcurrentSteps: opts.maxConcurrentSteps } : {}),
        },
        grants,
      );
      return handleOf(launch(run, true, undefined, request?.reason), true);
    },

    retry: (executionId, opts = {}) => retry(executionId, opts),

    async planRerun(executionId, opts) {
      return (await prepareRerun(executionId, opts)).plan;
    },

    rerun: (executionId, opts) => rerun(executionId, opts),

    async resumeAll() {
      const handles: ExecutionHandle[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listExecutions({
          status: ['running', 'queued'],
          limit: 100,
          ...(cursor ? { cursor } : {}),
        });
        for (const e of page.items) if (!runs.has(e.id)) handles.push(await engine.resume(e.id));
        cursor = page.nextCursor;
      } while (cursor);
      return handles;
    },

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
    approvals: () => waits.approvals(),

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

  /** The definition an execution was started with, compiled again. */
  async function storedWorkflow(record: ExecutionRecord): Promise<CompiledWorkflow> {
    const def = await store.getDefinitionByHash(record.definitionHash);
    if (!def) {
      throw new Orchestr8Error(
        ErrorCode.NOT_FOUND,
        `the definition of execution "${record.id}" is missing from the store`,
      );
    }
    const loaded = validateWorkflowObject(def.document);
    if (!loaded.ok || !loaded.workflow) {
      throw new Orchestr8Error(
        ErrorCode.VALIDATION,
        `the stored definition of execution "${record.id}" no longer validates`,
        { details: loaded.diagnostics },
      );
    }
    // The stored definition is the one that started it; keep its content hash as the key.
    savedDefinitions.set(loaded.workflow.hash, def.version);
    return loaded.workflow;
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

  async function requireRecord(executionId: string): Promise<ExecutionRecord> {
    const record = await store.getExecution(executionId);
    if (!record) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`);
    return record;
  }

  /** A resumed execution's nesting depth: its chain of parents in the store. */
  async function depthOf(record: ExecutionRecord): Promise<number> {
    let depth = 0;
    let parent = record.parentExecutionId;
    while (parent !== undefined && depth <= capabilities.maxWorkflowDepth) {
      depth++;
      parent = (await store.getExecution(parent))?.parentExecutionId;
    }
    return depth;
  }

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

function isEmpty(o: object | undefined): boolean {
  if (o === undefined) return true;
  for (const _ in o) return false;
  return true;
}

function abortReason(signal: AbortSignal): string {
  const r = signal.reason as { message?: unknown } | undefined;
  return typeof r?.message === 'string' ? r.message : 'aborted';
}
