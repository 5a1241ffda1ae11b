import type { Context, Span } from '@opentelemetry/api';
import { type SerializedError, serializeError, type TimerHandle } from '@orchestr8/common';
import { CancelToken } from '@orchestr8/resilience';
import type { CompiledWorkflow, TemplateScope } from '@orchestr8/schema';
import { EventType } from './events.js';
import type { ExecutionResult } from './execution-result.js';
import type { WorkflowGrants } from './grants.js';
import { Journal } from './journal.js';
import type { Redactor } from './redaction.js';
import type { StepRun, Stop } from './run-host.js';
import type { EngineRuntime } from './runtime.js';
import { positionsOf, secretsFor, stepRunsOf } from './step-runs.js';
import type { StoreWrite } from './store.js';
import { addSpanEvent, globalTracingEnabled, SPAN_EVENTS } from './tracing.js';
import type { ExecutionRecord, StepStateRecord } from './types.js';
import type { JournalWriter } from './write-batcher.js';

/**
 * The state of one execution in memory: its records, its steps' run state, its journal, and
 * how they are saved (group commit) and published. The scheduling (execution-run.ts) and
 * the stopping (execution-stop.ts) build on it.
 */
export abstract class ExecutionState implements JournalWriter {
  /** This execution's journal write in the open batch (see JournalWriter). */
  journalWrite: JournalWriter['journalWrite'] = undefined;
  journalEpoch = 0;
  readonly steps: StepRun[];
  /** Step id -> index in `steps` (shared by every run of the compiled workflow). */
  protected readonly positions: ReadonlyMap<string, number>;
  readonly journal: Journal;
  /** Aborted when the execution stops; its AbortSignal is made only if an agent reads one. */
  readonly cancelToken = new CancelToken();
  readonly scope: TemplateScope;
  readonly result: Promise<ExecutionResult>;
  stop: Stop | undefined;
  protected savedEpoch = 0;
  protected readonly recordWrite: StoreWrite;
  protected warnedJournalCap = false;
  /** Set by suspend(): no new step starts; the execution stays `running` in the store. */
  protected suspended: { resolve: () => void; timer: TimerHandle | undefined } | undefined;
  protected suspendedPromise: Promise<void> | undefined;
  /** After a suspension's grace period: late outcomes of abandoned steps are not recorded. */
  detached = false;
  /** Steps in `waiting` (a registered wait): they hold no concurrency slot. */
  protected waitingSteps = 0;
  /** Set once every unfinished step waits: the run is leaving memory (status `waiting`). */
  parking = false;
  protected resolveResult!: (r: ExecutionResult) => void;
  protected ready: StepRun[] = [];
  protected readyHead = 0;
  protected running = 0;
  /** Inside pump(): a step that finishes synchronously does not pump again (no recursion). */
  protected pumping = false;
  /** Inside releaseDependents(): skips it causes are queued in `cascade`, not recursed into. */
  protected releasing = false;
  protected cascade: StepRun[] | undefined;
  protected unfinished = 0;
  protected finalizing = false;
  protected graceTimer: TimerHandle | undefined;
  protected globalTimer: TimerHandle | undefined;
  protected readonly maxConcurrent: number;
  protected startMono = 0;
  /** The execution's span, when tracing is on (a registered SDK or an explicit tracer). */
  span: Span | undefined;
  readonly tracing: boolean;
  protected readonly traceParent: Context | undefined;
  readonly depth: number;
  readonly stepKeyPrefix: string;

  constructor(
    readonly rt: EngineRuntime,
    readonly workflow: CompiledWorkflow,
    readonly record: ExecutionRecord,
    readonly redactor: Redactor,
    readonly secretValues: readonly string[],
    options: {
      maxConcurrentSteps?: number;
      journalSeq?: number;
      previous?: readonly StepStateRecord[];
      traceContext?: Context;
      /** Sub-workflow nesting: 0 for a top-level execution. */
      depth?: number;
    },
    /** What the operator grants this workflow: each step's agent config, the readable environment. */
    readonly grants: WorkflowGrants,
  ) {
    this.depth = options.depth ?? 0;
    // Flat (join), so each step's key is one concatenation onto it, not two.
    this.stepKeyPrefix = [record.id, ''].join(':');
    this.recordWrite = { kind: 'execution', execution: record };
    this.tracing = rt.tracingExplicit || globalTracingEnabled();
    this.traceParent = options.traceContext;
    this.maxConcurrent = Math.max(1, options.maxConcurrentSteps ?? workflow.maxConcurrentSteps);
    this.journal = new Journal(
      rt.clock,
      rt.journalLimits,
      redactor,
      options.journalSeq ?? 0,
      record.id,
      workflow.id,
    );
    this.result = new Promise((r) => {
      this.resolveResult = r;
    });
    const { steps, view } = stepRunsOf(workflow, record.id, options.previous);
    this.scope = {
      steps: view,
      inputs: record.inputs,
      variables: workflow.variables,
      env: grants.env,
      secrets: secretsFor(workflow, rt.env),
    } as TemplateScope;
    this.steps = steps;
    this.positions = positionsOf(workflow);
  }

  /** A step's run state by id (one index per compiled workflow, not a map per execution). */
  stepRun(id: string): StepRun | undefined {
    const i = this.positions.get(id);
    return i === undefined ? undefined : this.steps[i];
  }

  // ---- journal + events -------------------------------------------------------------

  log(type: string, stepId?: string, attempt?: number, data?: Record<string, unknown>, mono?: number): void {
    // A detached run (process shutting down) must not write over the execution's next owner.
    if (this.detached) return;
    const entry = this.journal.entry(type, stepId, attempt, data, mono);
    this.rt.batcher.addJournal(this.record.id, entry, this);
    const trimBefore = this.journal.enforceCap();
    if (trimBefore !== undefined) {
      this.rt.batcher.add({ kind: 'journalTrim', executionId: this.record.id, beforeSeq: trimBefore });
      // Later entries go in a write after the trim.
      this.journalWrite = undefined;
      if (!this.warnedJournalCap) {
        this.warnedJournalCap = true;
        this.log(EventType.journalDropped, undefined, undefined, {
          maxExecutionBytes: this.rt.journalLimits.maxExecutionBytes,
          dropped: this.journal.dropped,
        });
      }
    }
    // The entry's data, not the caller's: it is the redacted copy.
    if (this.span !== undefined && SPAN_EVENTS.has(type))
      addSpanEvent(
        (stepId !== undefined ? this.stepRun(stepId)?.span : undefined) ?? this.span,
        type,
        stepId,
        attempt,
        entry.data as Record<string, unknown> | undefined,
      );
    if (this.rt.bus.hasSubscribers || this.rt.observers.length > 0) {
      const event = entry;
      if (this.rt.bus.hasSubscribers) this.rt.bus.publish(event);
      const observers = this.rt.observers;
      for (let i = 0; i < observers.length; i++) {
        try {
          observers[i]!.onEvent?.(event);
        } catch {
          // observers must not break executions
        }
      }
    }
  }

  /**
   * Queues the step's record for the next commit. The batch holds the record itself and is
   * serialised when it is written, so saving twice in one batch writes the latest state once.
   */
  saveStep(sr: StepRun): void {
    if (this.detached) return;
    const batcher = this.rt.batcher;
    if (sr.savedEpoch === batcher.epoch) return;
    sr.savedEpoch = batcher.epoch;
    batcher.add(sr.write);
  }

  /** An error as stored in step and execution records: serialised, with secrets redacted. */
  errorRecord(error: unknown): SerializedError {
    const e = serializeError(error);
    return this.redactor.active ? (this.redactor.redact(e) as SerializedError) : e;
  }

  saveExecution(now: number = this.rt.clock.now()): void {
    this.record.updatedAt = now;
    const batcher = this.rt.batcher;
    if (this.savedEpoch === batcher.epoch) return;
    this.savedEpoch = batcher.epoch;
    batcher.add(this.recordWrite);
  }
}
