/** The engine's public surface: its options, handles and methods (createEngine is in engine.ts). */
import type { Context, Tracer } from '@opentelemetry/api';
import type { Clock } from '@orchestr8/common';
import type { CircuitBreakerRegistry } from '@orchestr8/resilience';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { Agent, AgentLogger, AgentRegistry } from './agent.js';
import type { Capabilities } from './capabilities.js';
import type { EngineObserver, EventBus } from './events.js';
import type { ExecutionRequest } from './execution-request.js';
import type { ExecutionResult } from './execution-result.js';
import type { JournalLimits } from './journal.js';
import type { RerunPlan } from './rerun-plan.js';
import type { Store } from './store.js';
import type { WaitService } from './wait-service.js';
import type { CompileOptions } from './workflow-compiler.js';

export interface EngineOptions {
  registry: AgentRegistry;
  /** Defaults to an in-memory store. */
  store?: Store;
  clock?: Clock;
  /** For jitter; injectable for deterministic tests. */
  random?: () => number;
  tracer?: Tracer;
  journal?: Partial<JournalLimits>;
  /** The environment templates may read (filtered by each workflow's allowlist). Defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Environment variable names whose values are always redacted from journals. */
  secretEnv?: readonly string[];
  logger?: AgentLogger;
  /** Shared circuit breakers (e.g. to share state between engines in one process). */
  breakers?: CircuitBreakerRegistry;
  /**
   * How often to look for cancel requests from other processes, in ms (default 1000; 0 = never).
   * Never polled on the memory store the engine creates when none is given: nothing else can write to it.
   */
  cancelPollMs?: number;
  /** Synchronous observers (metrics, logs). */
  observers?: readonly EngineObserver[];
  /** Proxies for remote agent services: called for steps whose agent has a `url`. */
  remoteAgent?: (url: string, agentId: string) => Agent | undefined;
  /**
   * What documents may reach on this host (environment, egress, per-agent grants, nesting
   * depth). Default: nothing beyond the document's own data and public network addresses.
   */
  capabilities?: Capabilities;
  /**
   * How long the event inbox keeps an event for a wait that registers after it arrived, in
   * ms (default 5 minutes): an event sent just before its wait registered is not lost.
   */
  eventLookBackMs?: number;
  /**
   * Whether this engine wakes waits: on creation it loads the due waits from the store (late
   * timers fire at once, in due order) and keeps a timer for the next one. Default true;
   * a one-off `orchestr8 run` still wakes its own waits.
   */
  wakeWaits?: boolean;
  /** The longest sleep between looks for waits other processes registered, in ms (default 5000; 0: never). */
  waitPollMs?: number;
}

export interface StartOptions extends ExecutionRequest {
  /** Aborting it cancels the execution gracefully. */
  signal?: AbortSignal;
  /** Overrides the document's `policies.concurrency.maxConcurrentSteps`. */
  maxConcurrentSteps?: number;
  /** The trace context to continue (e.g. from an incoming W3C traceparent). */
  traceContext?: Context;
  /** Sub-workflow nesting depth (set for child executions; 0 at the top). */
  depth?: number;
}

export interface ExecutionHandle {
  readonly id: string;
  /** False when an idempotency key matched an existing execution. */
  readonly created: boolean;
  readonly result: Promise<ExecutionResult>;
  cancel(reason?: string): void;
}

/** An idempotency key for an operation, as for `start`: the same key and request do it once. */
export type OperationKey = Pick<ExecutionRequest, 'idempotencyKey' | 'fingerprint' | 'idempotencyTtlMs'>;

export interface RetryOptions extends OperationKey {
  /** Why, for the journal (default "retried"). */
  reason?: string;
}

/** A retried execution: `created` is false when an idempotency key matched an earlier retry. */
export interface RetryHandle extends ExecutionHandle {
  /** The steps that run again, in document order. */
  readonly retried: readonly string[];
}

export interface RerunOptions extends OperationKey {
  /** The step to run again, with every step downstream of it. */
  fromStep: string;
  /** Inputs that replace the original's (top-level keys); the rest are the original's. */
  inputs?: Record<string, unknown>;
  signal?: AbortSignal;
  maxConcurrentSteps?: number;
}

/** An engine. Its waits API (sendEvent, signal, decide, approvals) is the wait service's, declared and documented once there (wait-service-api.ts). */
export interface Engine extends Pick<WaitService, 'sendEvent' | 'signal' | 'decide' | 'approvals'> {
  readonly store: Store;
  readonly events: EventBus;
  readonly breakers: CircuitBreakerRegistry;
  /** Stores and starts an execution; resolves once it is recorded (before it finishes). */
  start(workflow: CompiledWorkflow, options?: StartOptions): Promise<ExecutionHandle>;
  /**
   * Checks a workflow against the operator's capabilities without starting it: throws a
   * CapabilityError (code CAPABILITY_DENIED) naming everything it asks for beyond them.
   * `start` does the same check before it records anything.
   */
  authorize(workflow: CompiledWorkflow): void;
  /**
   * Validates and compiles a workflow document (an object, or YAML/JSON text), checking its
   * agents against this engine's registry, as `orchestr8 validate` does. Throws a
   * ValidationError (code VALIDATION, `details`: the diagnostics) when it is invalid.
   * Compile once, execute many: the same object or text is compiled once.
   */
  compile(document: unknown, options?: CompileOptions): CompiledWorkflow;
  /** `compile` for a file (`.yaml`, `.yml` or `.json`). */
  compileFile(path: string): Promise<CompiledWorkflow>;
  /** Starts an execution and waits for its result. */
  execute(workflow: CompiledWorkflow, options?: StartOptions): Promise<ExecutionResult>;
  /** Cancels a running execution: graceful, or forced. False when it is not running here. */
  cancel(executionId: string, options?: { reason?: string; force?: boolean }): boolean;
  /** Resumes an execution left `running`/`queued` by a process that died. */
  resume(executionId: string, options?: { maxConcurrentSteps?: number }): Promise<ExecutionHandle>;
  /**
   * Runs a failed or cancelled execution again, in place: its failed, cancelled and unrun
   * steps and every step downstream of them start over with a fresh retry budget; completed
   * steps keep their outputs. Journaled (`execution.retried`). CONFLICT (details.reason
   * `not_retryable`) when the execution runs, waits or completed; with an idempotency key,
   * a repeated request returns the first retry's handle (`created: false`) instead.
   */
  retry(executionId: string, options?: RetryOptions): Promise<RetryHandle>;
  /** What `rerun` with these options would run again and reuse; starts nothing. */
  planRerun(executionId: string, options: Pick<RerunOptions, 'fromStep' | 'inputs'>): Promise<RerunPlan>;
  /**
   * Starts a new execution of a finished one's definition that reuses the outputs of the
   * steps the plan keeps (see `planRerun`) and runs the rest; its correlation id
   * (`rerun:<id>@<step>`) links it to the original. CONFLICT while the original runs.
   */
  rerun(executionId: string, options: RerunOptions): Promise<{ plan: RerunPlan; handle: ExecutionHandle }>;
  /** Resumes every execution left running. */
  resumeAll(): Promise<ExecutionHandle[]>;
  /** The result of an execution, running here or finished in the store. */
  getResult(executionId: string): Promise<ExecutionResult | undefined>;
  isRunning(executionId: string): boolean;
  /** What runs in this process now: executions and their running steps (for metrics). */
  stats(): { executions: number; runningSteps: number; eventsDropped: number };
  /**
   * Graceful process shutdown: no new step starts, running steps get `graceMs` (default
   * 5000) to finish, then executions are left `running` in the store to resume on the next
   * start. Flushes the store. With `cancel: true`, executions are cancelled instead.
   */
  shutdown(options?: { reason?: string; graceMs?: number; cancel?: boolean }): Promise<void>;
  /**
   * Ends everything the engine owns, for programs that embed it: running executions are
   * suspended as by `shutdown` (or cancelled with `cancel: true`; always cancelled on the
   * engine's own memory store, where nothing could resume them), pending writes are drained,
   * and the store is closed only if the engine created it (a store you pass in stays open:
   * close it yourself). Afterwards `start`, `execute` and `resume` throw. Idempotent.
   * Also `await using engine = createEngine(...)` where `Symbol.asyncDispose` exists.
   */
  close(options?: { reason?: string; graceMs?: number; cancel?: boolean }): Promise<void>;
}
