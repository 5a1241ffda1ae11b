/**
 * What a step needs from the execution it runs in. The step runner and the agent call see
 * this interface, not `ExecutionRun` (which calls them): no import cycle between them.
 */
import type { Span } from '@opentelemetry/api';
import type { Orchestr8Error, SerializedError } from '@orchestr8/common';
import type { CancelToken } from '@orchestr8/resilience';
import type { CompiledStep, CompiledWorkflow, TemplateScope } from '@orchestr8/schema';
import type { WorkflowGrants } from './grants.js';
import type { Journal } from './journal.js';
import type { EngineRuntime } from './runtime.js';
import type { StoreWrite } from './store.js';
import type { ExecutionRecord, StepStateRecord } from './types.js';

/** Mutable per-step state of a run. `record` is the persisted shape, mutated in place. */
export interface StepRun {
  readonly compiled: CompiledStep;
  /** Its position in `workflow.steps` (and in the run's `steps`). */
  readonly index: number;
  readonly record: StepStateRecord;
  /** Dependencies not yet in a terminal state. */
  waiting: number;
  terminal: boolean;
  startMono: number;
  span: Span | undefined;
  /** The write batch this step's record was last queued in. */
  savedEpoch: number;
  /** The store write of `record`, made once: the batch holds the record by reference. */
  readonly write: StoreWrite;
  /**
   * After a restart: attempts already used up. A step that was `retrying` after attempt N
   * continues at N+1; one that was running attempt N runs attempt N again (it never finished).
   */
  resumeFrom: number;
}

/** Why an execution is stopping. */
export interface Stop {
  status: 'failed' | 'cancelled';
  error: Orchestr8Error;
  reason: string;
}

/** The execution a step runs in, as the step runner and the agent call use it. */
export interface RunHost {
  readonly rt: EngineRuntime;
  readonly workflow: CompiledWorkflow;
  readonly record: ExecutionRecord;
  readonly scope: TemplateScope;
  readonly journal: Journal;
  readonly cancelToken: CancelToken;
  readonly grants: WorkflowGrants;
  readonly depth: number;
  /** `<executionId>:`, the start of each step's default idempotency key. */
  readonly stepKeyPrefix: string;
  readonly stop: Stop | undefined;
  /** The execution's span, when tracing is on. */
  readonly span: Span | undefined;
  stepRun(id: string): StepRun | undefined;
  /** Journals (and publishes) an entry. */
  log(type: string, stepId?: string, attempt?: number, data?: Record<string, unknown>, mono?: number): void;
  /** Queues the step's record for the next commit. */
  saveStep(sr: StepRun): void;
  /** An error as stored in records: serialised, secrets redacted. */
  errorRecord(error: unknown): SerializedError;
  skip(sr: StepRun, reason: string): void;
  halt(status: 'failed' | 'cancelled', error: Orchestr8Error, reason: string): void;
  recordCancelled(sr: StepRun, reason: string): void;
  isAbandoned(sr: StepRun): boolean;
  /** The step reached a terminal state (or was abandoned). */
  stepDone(sr: StepRun): void;
  /** Even recording the step's failure threw (an engine bug). */
  stepCrashed(error: unknown): void;
  /** A wait step registered its wait and gives back its slot. */
  stepWaiting(sr: StepRun): void;
  /** Runs a wait step (wait-step.ts): registers its wait, or takes its outcome. */
  runWaitStep(sr: StepRun): void;
}
