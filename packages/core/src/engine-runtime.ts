/**
 * The engine's options with their defaults, gathered in the runtime its runs share: the store
 * (a memory store of its own when none is given), clock, resilience, group commit, event bus,
 * logger, capabilities, and the starting of sub-workflows on the engine itself.
 */
import { trace } from '@opentelemetry/api';
import { ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import { createResilience, type Resilience } from '@orchestr8/resilience';
import { validateWorkflowObject } from '@orchestr8/schema';
import { resolveCapabilities } from './capabilities.js';
import { CircuitLog } from './circuit-log.js';
import type { Engine, EngineOptions } from './engine-api.js';
import { EventBus } from './events.js';
import { createExecutionCreator } from './execution-creator.js';
import { DEFAULT_JOURNAL_LIMITS } from './journal.js';
import { createMemoryStore } from './memory-store.js';
import { type EngineRuntime, silentLogger } from './runtime.js';
import { compiledOrThrow } from './workflow-compiler.js';
import { WriteBatcher } from './write-batcher.js';

/** The runtime of the engine `self()` returns (sub-workflows start on it, once it exists). */
export function createRuntime(options: EngineOptions, self: () => Engine) {
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
      const engine = self();
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
  return {
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
  };
}
