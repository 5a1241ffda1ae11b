import type { SerializedError } from '@orchestr8/common';

export const StepStatus = {
  pending: 'pending',
  running: 'running',
  retrying: 'retrying',
  /** A `wait` step whose wait is registered in the store; it ends when woken (timer, event, decision). */
  waiting: 'waiting',
  completed: 'completed',
  failed: 'failed',
  skipped: 'skipped',
  cancelled: 'cancelled',
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export const ExecutionStatus = {
  queued: 'queued',
  running: 'running',
  /**
   * Every unfinished step waits (a timer, an event, a decision): the execution is held in the
   * store only, and is resumed when a wait ends.
   */
  waiting: 'waiting',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

export const TERMINAL_EXECUTION_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
]);

/** One execution of one workflow definition, as persisted. */
export interface ExecutionRecord {
  id: string;
  workflowId: string;
  workflowVersion: string;
  /** sha256 of the canonical document; links to the stored definition. */
  definitionHash: string;
  status: ExecutionStatus;
  inputs: unknown;
  result?: unknown;
  error?: SerializedError;
  idempotencyKey?: string;
  correlationId?: string;
  parentExecutionId?: string;
  parentStepId?: string;
  /** Why the status last changed (e.g. "cancelled by user: ..."). */
  statusReason?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  updatedAt: number;
}

/** The state of one step within one execution, as persisted. */
export interface StepStateRecord {
  executionId: string;
  stepId: string;
  status: StepStatus;
  /** Attempts started so far (survives a restart, so retry budgets are not reset by a crash). */
  attempts: number;
  output?: unknown;
  error?: SerializedError;
  startedAt?: number;
  finishedAt?: number;
  /** Why the step was skipped or cancelled. */
  statusReason?: string;
  /** Skipped steps only: the same as `statusReason` (kept for readers of earlier versions). */
  skipReason?: string;
  /** Set on a step whose output came from its fallback step: the fallback's id. */
  aliasFor?: string;
  /** Stable across re-runs after a crash, so agents can deduplicate side effects. */
  idempotencyKey?: string;
  /**
   * While the step waits out a retry back-off: when its next attempt is due (epoch ms), so a
   * resume after a crash waits for the rest of the delay instead of retrying at once.
   */
  nextAttemptAt?: number;
}

export interface JournalEntry {
  seq: number;
  /** Wall-clock epoch ms. */
  ts: number;
  /** Monotonic ms since the execution started (in this process). */
  elapsedMs: number;
  type: string;
  stepId?: string;
  attempt?: number;
  data?: unknown;
}

export interface DefinitionRecord {
  id: string;
  version: string;
  hash: string;
  document: unknown;
  createdAt: number;
}

export interface IdempotencyRecord {
  key: string;
  fingerprint: string;
  executionId: string;
  createdAt: number;
  expiresAt: number;
}

export interface CircuitStateRecord {
  key: string;
  state: 'closed' | 'open' | 'halfOpen';
  failures: number;
  /** Epoch ms when an open circuit may probe again. */
  openUntil?: number;
  updatedAt: number;
}
