/**
 * Running one step of a stored execution outside the in-process scheduler, for workers
 * that take steps from a shared queue. The step runs through the engine's own
 * `runStep` (conditions, templates, resilience, fallback, journal), on an `ExecutionRun`
 * rebuilt from the stored step states, so a step behaves the same wherever it runs. Its
 * writes are collected, not committed: the worker commits them, with what they release,
 * in one transaction (see `planCommit`).
 */
import { trace } from '@opentelemetry/api';
import {
  CancelledError,
  type Clock,
  type Orchestr8Error,
  type SerializedError,
  serializeError,
  systemClock,
  type TimerHandle,
} from '@orchestr8/common';
import { type CircuitBreakerRegistry, createResilience, type Resilience } from '@orchestr8/resilience';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { Agent, AgentLogger, AgentRegistry } from './agent.js';
import { type Capabilities, resolveCapabilities } from './capabilities.js';
import { CircuitLog } from './circuit-log.js';
import { type EngineObserver, EventBus } from './events.js';
import { type ExecutionResult, ExecutionRun, type StepRun } from './execution-run.js';
import { grantWorkflow, type WorkflowGrants } from './grants.js';
import { DEFAULT_JOURNAL_LIMITS, type JournalLimits } from './journal.js';
import { createRedactor, noRedaction, type Redactor } from './redaction.js';
import { type ChildRequest, type EngineRuntime, silentLogger } from './runtime.js';
import { runStep } from './step-runner.js';
import type { Store, StoreWrite } from './store.js';
import type { CircuitStateRecord, ExecutionRecord, JournalEntry, StepStateRecord } from './types.js';
import type { WaitStore } from './waits.js';
import { WriteBatcher } from './write-batcher.js';

export interface StepTaskRunnerOptions {
  registry: AgentRegistry;
  clock?: Clock;
  random?: () => number;
  breakers?: CircuitBreakerRegistry;
  journal?: Partial<JournalLimits>;
  /** The environment templates may read. Defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Environment variable names whose values are always redacted from journals. */
  secretEnv?: readonly string[];
  logger?: AgentLogger;
  remoteAgent?: (url: string, agentId: string) => Agent | undefined;
  /** Starts a child execution for `ctx.runWorkflow`. Without it, sub-workflows fail. */
  runChild?: (request: ChildRequest) => Promise<{ id: string; result: Promise<ExecutionResult> }>;
  /** Told of every journal entry of the steps run (e.g. for metrics). */
  observers?: readonly EngineObserver[];
  /** Circuit transitions to persist (the store's `circuit` write). */
  onCircuit?: (circuit: CircuitStateRecord) => void;
  /** What documents may reach on this host (see EngineOptions.capabilities). */
  capabilities?: Capabilities;
  /** How far back a wait step looks in the event inbox when it registers (ms). */
  eventLookBackMs?: number;
}

/** Why an execution stops (cancel, fail-fast, global timeout), as stored with it. */
export interface StopRecord {
  status: 'failed' | 'cancelled';
  reason: string;
  error: SerializedError;
}

/** What running one step produced, to be committed by the caller. */
export interface StepTaskOutcome {
  stepId: string;
  /** The records written: the step, and its fallback step when one ran. */
  steps: StepStateRecord[];
  /** In order, numbered from 1: the committer renumbers them after the execution's last seq. */
  journal: JournalEntry[];
  /** The step failed with `onError: fail`: the execution is to stop. */
  halt?: StopRecord;
}

/** The state of one step while it runs, for heartbeats. */
export interface StepTaskProgress {
  status: StepStateRecord['status'];
  attempts: number;
}

export interface StepTask {
  readonly executionId: string;
  readonly stepId: string;
  /** Runs the step once; never rejects (failures are step state). */
  run(): Promise<StepTaskOutcome>;
  /**
   * The execution is stopping: aborts the step (its agent sees the abort signal). A step
   * that does not stop within the workflow's grace period is recorded cancelled and its
   * late outcome ignored.
   */
  stop(stop: StopRecord): void;
  /** Records the step cancelled without running it (its execution stopped meanwhile). */
  cancelled(reason: string): Promise<StepTaskOutcome>;
  progress(): StepTaskProgress;
  /**
   * The journal entries logged so far while it runs (numbered from 1), e.g. to publish
   * `step.started` of a long step before it finishes. The outcome repeats them.
   */
  journalSoFar(): JournalEntry[];
}

/**
 * An ExecutionRun that runs one step and nothing else: skipping a step does not release
 * its dependents, and a failing step asks for the execution to stop instead of stopping
 * it (what the step releases or stops is decided at commit, against fresh state).
 */
class OneStepRun extends ExecutionRun {
  haltRequest: StopRecord | undefined;
  private onDone: (() => void) | undefined;
  private onCrash: ((error: unknown) => void) | undefined;

  /** Runs the step; resolves once it is terminal (rejects only on an engine bug). */
  runOne(sr: StepRun): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.onDone = resolve;
      this.onCrash = reject;
      runStep(this, sr);
    });
  }

  override stepDone(_sr: StepRun): void {
    this.onDone?.();
  }

  /** A wait step registered its wait: this run is done (the worker commits it as waiting). */
  override stepWaiting(_sr: StepRun): void {
    this.onDone?.();
  }

  override stepCrashed(error: unknown): void {
    this.onCrash?.(error);
  }

  override settle(_sr: StepRun, _durable: boolean): void {}

  override halt(status: 'failed' | 'cancelled', error: Orchestr8Error, reason: string): void {
    if (this.stop || this.haltRequest) return;
    if (this.redactor.active) reason = this.redactor.redact(reason) as string;
    this.haltRequest = { status, reason, error: this.errorRecord(error) };
  }
}

/** Collects the writes of one step instead of committing them. */
class Collector {
  readonly writes: StoreWrite[] = [];
  write(batch: readonly StoreWrite[]): Promise<void> {
    for (const w of batch) this.writes.push(w);
    return Promise.resolve();
  }
}

/**
 * Runs steps of stored executions, one at a time each, sharing agents, circuit breakers and
 * the redaction of secrets. One per worker process.
 */
export class StepTaskRunner {
  readonly clock: Clock;
  readonly resilience: Resilience;
  readonly bus = new EventBus();
  readonly journalLimits: JournalLimits;
  readonly base: Omit<EngineRuntime, 'batcher' | 'store'>;
  private readonly redactors = new WeakMap<CompiledWorkflow, { redactor: Redactor; values: string[] }>();

  constructor(private readonly options: StepTaskRunnerOptions) {
    this.clock = options.clock ?? systemClock;
    this.resilience = createResilience({
      clock: this.clock,
      ...(options.random ? { random: options.random } : {}),
      ...(options.breakers ? { breakers: options.breakers } : {}),
    });
    this.journalLimits = { ...DEFAULT_JOURNAL_LIMITS, ...options.journal };
    const circuitLog = new CircuitLog();
    this.base = {
      bus: this.bus,
      clock: this.clock,
      registry: options.registry,
      resilience: this.resilience,
      journalLimits: this.journalLimits,
      env: options.env ?? process.env,
      capabilities: resolveCapabilities(options.capabilities),
      ...(options.eventLookBackMs !== undefined ? { eventLookBackMs: options.eventLookBackMs } : {}),
      tracer: trace.getTracer('orchestr8'),
      tracingExplicit: false,
      logger: options.logger ?? silentLogger,
      circuitLog,
      observers: options.observers ?? [],
      remoteAgent: options.remoteAgent,
      runChild:
        options.runChild ??
        (() => Promise.reject(new Error('sub-workflows are not available on this worker'))),
    };
    this.resilience.breakers.onTransition((t) => {
      circuitLog.record(t.key, t.from, t.to, t.at);
      const snap = this.resilience.breakers.snapshot().find((s) => s.key === t.key);
      if (!snap || !options.onCircuit) return;
      options.onCircuit({
        key: snap.key,
        state: snap.state,
        failures: snap.failures,
        ...(snap.openUntil !== undefined ? { openUntil: snap.openUntil } : {}),
        updatedAt: this.clock.now(),
      });
    });
  }

  get env(): Readonly<Record<string, string | undefined>> {
    return this.base.env;
  }

  /** The redactor for a workflow's secrets (its `secretRefs` and the runner's `secretEnv`). */
  redactorFor(workflow: CompiledWorkflow): { redactor: Redactor; values: string[] } {
    let r =
      this.redactors.get(workflow) ?? this.redactors.get(Object.getPrototypeOf(workflow) as CompiledWorkflow);
    if (r) return r;
    const names = new Set<string>(this.options.secretEnv ?? []);
    for (const n of Object.values(workflow.secretRefs ?? {})) names.add(n);
    const values: string[] = [];
    for (const n of names) {
      const v = this.base.env[n];
      if (typeof v === 'string' && v.length > 0) values.push(v);
    }
    r = { redactor: values.length > 0 ? createRedactor(values) : noRedaction, values };
    this.redactors.set(workflow, r);
    return r;
  }

  private readonly grants = new WeakMap<CompiledWorkflow, WorkflowGrants>();

  /** The operator's grants for a workflow (throws CapabilityError when it asks for more). */
  grantsFor(workflow: CompiledWorkflow): WorkflowGrants {
    let g = this.grants.get(workflow);
    if (g === undefined) {
      g = grantWorkflow(workflow, this.base.registry, this.base.capabilities, this.base.env);
      this.grants.set(workflow, g);
    }
    return g;
  }

  private readonly views = new WeakMap<CompiledWorkflow, Map<string, CompiledWorkflow>>();

  /** The workflow seen through the steps one step reads (everything else from the original). */
  private view(workflow: CompiledWorkflow, stepId: string, reads: readonly string[]): CompiledWorkflow {
    let byStep = this.views.get(workflow);
    if (!byStep) {
      byStep = new Map();
      this.views.set(workflow, byStep);
    }
    let v = byStep.get(stepId);
    if (!v) {
      const wanted = new Set(reads);
      const steps = workflow.steps.filter((s) => wanted.has(s.id));
      v = Object.create(workflow, { steps: { value: steps, enumerable: true } }) as CompiledWorkflow;
      byStep.set(stepId, v);
    }
    return v;
  }

  /**
   * An ExecutionRun over stored state: its `scope` is what templates see. `waits`: where a
   * wait step registers its wait (without it, wait steps fail as on a store without waits).
   */
  rebuild(
    workflow: CompiledWorkflow,
    execution: ExecutionRecord,
    steps: readonly StepStateRecord[],
    waits?: WaitStore,
  ): { run: ExecutionRun; collector: Collector } {
    const collector = new Collector();
    const { redactor, values } = this.redactorFor(workflow);
    const rt: EngineRuntime = {
      ...this.base,
      store: {
        kind: 'distributed',
        write: (b: readonly StoreWrite[]) => collector.write(b),
        waits,
      } as unknown as Store,
      batcher: new WriteBatcher({
        write: (b: readonly StoreWrite[]) => collector.write(b),
      } as unknown as Store),
    };
    const run = new OneStepRun(
      rt,
      workflow,
      { ...execution },
      redactor,
      values,
      { previous: steps },
      this.grantsFor(workflow),
    );
    return { run, collector };
  }

  /**
   * Prepares one step of an execution, given the execution's stored step states. `reads`:
   * the steps it needs (its own, its fallback's, those its templates read); only these are
   * rebuilt, so preparing a step of a wide workflow costs what the step reads, not the width.
   */
  prepare(
    workflow: CompiledWorkflow,
    execution: ExecutionRecord,
    steps: readonly StepStateRecord[],
    stepId: string,
    reads?: readonly string[],
    waits?: WaitStore,
  ): StepTask {
    const { run, collector } = this.rebuild(
      reads ? this.view(workflow, stepId, reads) : workflow,
      execution,
      steps,
      waits,
    );
    const sr = run.stepRun(stepId);
    if (!sr) throw new Error(`workflow ${workflow.id} has no step "${stepId}"`);
    return new Task(run as OneStepRun, sr, collector, this.clock);
  }
}

class Task implements StepTask {
  private forced: ((outcome: StepTaskOutcome) => void) | undefined;
  private graceTimer: TimerHandle | undefined;
  private done = false;

  constructor(
    private readonly er: OneStepRun,
    private readonly sr: StepRun,
    private readonly collector: Collector,
    private readonly clock: Clock,
  ) {}

  get executionId(): string {
    return this.er.record.id;
  }

  get stepId(): string {
    return this.sr.compiled.id;
  }

  progress(): StepTaskProgress {
    return { status: this.sr.record.status, attempts: this.sr.record.attempts };
  }

  async run(): Promise<StepTaskOutcome> {
    const forced = new Promise<StepTaskOutcome>((resolve) => {
      this.forced = resolve;
    });
    const ran = this.er.runOne(this.sr).then(
      () => this.collect(),
      (error: unknown) => {
        // runStep never throws; should it, the step still ends in a terminal state.
        this.er.recordCancelled(this.sr, `internal error: ${serializeError(error).message}`);
        return this.collect();
      },
    );
    const outcome = await Promise.race([ran, forced]);
    this.done = true;
    this.graceTimer?.cancel();
    return outcome;
  }

  stop(stop: StopRecord): void {
    const run = this.er;
    if (run.stop || this.done) return;
    run.stop = {
      status: stop.status,
      reason: stop.reason,
      error: new CancelledError(stop.reason) as Orchestr8Error,
    };
    run.cancelToken.abort(
      stop.status === 'cancelled'
        ? new CancelledError(stop.reason)
        : new CancelledError(`execution stopping: ${stop.reason}`),
    );
    this.graceTimer = this.clock.setTimeout(() => {
      if (this.done || this.sr.terminal) return;
      // Abandoned: its late outcome is ignored (isAbandoned sees `terminal`).
      run.recordCancelled(this.sr, 'did not stop within the grace period');
      this.sr.terminal = true;
      void this.collect().then((o) => this.forced?.(o));
    }, run.workflow.gracePeriodMs);
  }

  journalSoFar(): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (const w of this.collector.writes) if (w.kind === 'journal') out.push(...w.entries);
    return out;
  }

  cancelled(reason: string): Promise<StepTaskOutcome> {
    this.done = true;
    this.er.recordCancelled(this.sr, reason);
    return this.collect();
  }

  private async collect(): Promise<StepTaskOutcome> {
    await this.er.rt.batcher.drain();
    const steps = new Map<string, StepStateRecord>();
    const journal: JournalEntry[] = [];
    for (const w of this.collector.writes) {
      if (w.kind === 'step') steps.set(w.step.stepId, w.step);
      else if (w.kind === 'journal') journal.push(...w.entries);
      // journalTrim: the cap is per execution and cannot be enforced by one step; circuit
      // transitions are persisted by the runner's onCircuit.
    }
    const outcome: StepTaskOutcome = { stepId: this.stepId, steps: [...steps.values()], journal };
    if (this.er.haltRequest && !this.er.stop) outcome.halt = this.er.haltRequest;
    return outcome;
  }
}
