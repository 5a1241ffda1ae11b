/**
 * The API's resource shapes, as the OpenAPI document describes them. Declared here (not
 * imported from the engine) so the client has no dependencies.
 */

export type ExecutionStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export type StepStatus =
  | 'pending'
  | 'running'
  | 'retrying'
  | 'completed'
  | 'failed'
  | 'skipped'
  | 'cancelled';

export interface SerializedError {
  name: string;
  code: string;
  message: string;
  retryable: boolean;
  attempts?: number;
  retryAfterMs?: number;
  details?: unknown;
  cause?: SerializedError;
}

export interface Diagnostic {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  pointer: string;
  file?: string;
  line?: number;
  column?: number;
  hint?: string;
}

/** RFC 9457 problem details, with the API's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: Diagnostic[];
  warnings?: Diagnostic[];
  [extension: string]: unknown;
}

export interface StepState {
  executionId: string;
  stepId: string;
  status: StepStatus;
  attempts: number;
  output?: unknown;
  error?: SerializedError;
  startedAt?: number;
  finishedAt?: number;
  /** Why the step was skipped or cancelled. */
  statusReason?: string;
  /** Skipped steps only: the same as `statusReason`. */
  skipReason?: string;
  aliasFor?: string;
  idempotencyKey?: string;
}

export interface Execution {
  executionId: string;
  workflowId: string;
  workflowVersion: string;
  status: ExecutionStatus;
  outputs?: unknown;
  error?: SerializedError;
  statusReason?: string;
  steps: Record<string, StepState>;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  journalDropped?: number;
}

export interface ExecutionSummary {
  executionId: string;
  workflowId: string;
  workflowVersion: string;
  status: ExecutionStatus;
  statusReason?: string;
  correlationId?: string;
  createdAt: number;
  updatedAt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: SerializedError;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface JournalEntry {
  seq: number;
  ts: number;
  elapsedMs: number;
  type: string;
  stepId?: string;
  attempt?: number;
  data?: unknown;
}

/** An event of a stream: a journal entry of one execution. */
export interface ExecutionEvent extends JournalEntry {
  executionId: string;
  workflowId: string;
}

export interface WorkflowVersion {
  id: string;
  version: string;
  hash: string;
  createdAt: number;
  latestVersion?: string;
}

export interface WorkflowDefinition extends WorkflowVersion {
  document: Record<string, unknown>;
}

export interface WorkflowListItem {
  id: string;
  latestVersion?: string;
  versions: WorkflowVersion[];
}

export interface ExecuteBody {
  /** A document object, or its YAML/JSON text. */
  workflow?: Record<string, unknown> | string;
  workflowId?: string;
  version?: string;
  inputs?: Record<string, unknown>;
  options?: { correlationId?: string; maxConcurrentSteps?: number };
}
