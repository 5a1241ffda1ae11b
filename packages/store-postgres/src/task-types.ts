/**
 * The shapes the task queue and its commits exchange with workers, and the SQL pieces they
 * share.
 */
import type {
  CancelRequest,
  CommitPlan,
  ExecutionRecord,
  StepStateRecord,
  StopRecord,
  TaskState,
  WaitRecord,
} from '@orchestr8/core';
import { STEP_COLUMNS } from './rows.js';

/** The database clock in epoch ms. */
export const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * The tasks at the keys in array parameters `e` and `s` that `owner` (a parameter) leases,
 * looked up key by key through the primary key and locked in key order (as every statement
 * locking several tasks does). Joined to the keys instead, the planner read the whole
 * `tasks_leased` index: it keeps the entries of deleted tasks until vacuum, thousands per
 * statement under load, and a bitmap scan never marks them dead.
 */
export function leasedAt(owner: string, e: string, s: string): string {
  return `SELECT k.execution_id, k.step_id
    FROM (SELECT u.e, u.s FROM unnest(${e}::text[], ${s}::text[]) AS u(e, s)
          ORDER BY u.e COLLATE "C", u.s COLLATE "C") x
    CROSS JOIN LATERAL (
      SELECT t.execution_id, t.step_id FROM tasks t
      WHERE t.execution_id = x.e AND t.step_id = x.s AND t.status = 'leased' AND t.lease_owner = ${owner}
      FOR UPDATE OF t) k`;
}

export const Channel = {
  /** A queue got ready tasks: payload is the queue name. */
  tasks: 'tasks',
  /** An execution's journal grew: payload JSON `[executionId, firstSeq, lastSeq, finished 0|1, workflowId]`. */
  exec: 'exec',
  /** An execution started stopping: payload is its id. */
  stop: 'stop',
  /** A cancel request was recorded: payload is the execution id. */
  cancel: 'cancel',
  /** A distributed step registered a wait with a due time: payload is the due time (epoch ms). */
  waits: 'waits',
} as const;

/**
 * What a commit does to waits, besides the plan: the waits its steps registered (inserted
 * in the commit that deletes their tasks, so no wake can find a wait whose task still
 * exists), and the waits whose outcome a step took (deleted with the step's result). Only
 * those of steps the commit still holds count; a commit that finishes the execution deletes
 * all of its waits instead.
 */
export interface CommitWaits {
  put: { wait: WaitRecord; queue: string }[];
  /** Wait ids, by the step that took them. */
  done: { stepId: string; id: string }[];
}

export interface ClaimedTask {
  executionId: string;
  stepId: string;
  queue: string;
  /** How many times this task was leased and not given back unstarted (above 1: a previous worker lost it). */
  claims: number;
  leaseExpiresAt: number;
  execution: ExecutionRecord;
  stop: StopRecord | undefined;
  /**
   * The step's own state after the claim (`running`, attempts so far); the caller adds the
   * states of the steps it reads (see `stepsOf`).
   */
  steps: StepStateRecord[];
  /** The execution's state when claimed, for planning the commit without reading it again. */
  state: ExecutionState;
}

/**
 * What a worker remembers of an execution between its commits: enough to plan the next
 * one without reading (the commit's guard checks it is still current). Only for an
 * execution that is not stopping: a stop moves the journal too, so a state remembered
 * before it fails the guard, but one taken after it must not be remembered.
 */
export interface ExecutionState {
  execution: ExecutionRecord;
  /** The execution's last journal seq: every commit moves it, so it identifies the state. */
  journalSeq: number;
  /** Every step's state as far as statuses go (no outputs). */
  steps: StepStateRecord[];
}

/** An execution's state read under its row lock, for planning a commit. */
export interface LockedExecution {
  execution: ExecutionRecord;
  /** The committed tasks whose leases this worker still holds (the others' results are dropped). */
  finishing: string[];
  stop: StopRecord | undefined;
  journalSeq: number;
  /**
   * Every step's state: without `output` and `error` (a commit decides on statuses), except
   * when `full` (the plan finishes the execution and renders its outputs).
   */
  steps: StepStateRecord[];
  full: boolean;
  /**
   * The execution's other tasks (not the one being committed), read only when the commit
   * may stop the execution or it is stopping (what runs decides what is left to cancel).
   * Otherwise empty: a task that already exists is not inserted twice.
   */
  tasks: Map<string, TaskState>;
}

/** How a single commit goes (see `TaskQueue.commit`). */
export interface CommitOptions {
  leaseMs?: number;
  /** The change may stop the execution: the plan needs to know which steps are running. */
  withTasks?: boolean;
  /** The state the caller remembers: the cheapest commit plans on it. */
  known?: ExecutionState;
  waits?: CommitWaits;
  /** Another worker's commit of the execution just won: take its lock at once. */
  contended?: boolean;
}

export type CommitResult =
  | {
      status: 'committed';
      locked: LockedExecution;
      plan: CommitPlan;
      lastSeq: number;
      leaseExpiresAt: number;
    }
  /** None of the tasks is this worker's any more (their leases expired and others took them): nothing was written. */
  | { status: 'lost' }
  /** The execution is gone or finished: the task was dropped, nothing else written. */
  | { status: 'gone' };

/**
 * Per item of a batch commit: its result; 'contended' when the execution changed since it
 * was planned on (another worker committed it, or a lease was taken back; nothing written);
 * undefined when the batch did not take it. The caller commits the last two on their own.
 */
export type BatchCommitResult = CommitResult | { status: 'contended' } | undefined;

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  agents: string[];
  startedAt: number;
  heartbeatAt: number;
  stepsDone: number;
  /** The steps this worker holds leases on now. */
  running: { executionId: string; stepId: string; leaseExpiresAt: number; claims: number }[];
}

export interface RunningStep {
  executionId: string;
  stepId: string;
  status: StepStateRecord['status'];
  attempts: number;
}

export interface HeartbeatResult {
  /** Tasks this worker no longer holds (its lease lapsed and another worker took them). */
  lost: { executionId: string; stepId: string }[];
  /** Executions of running steps that are stopping (or finished), with why. */
  stops: Map<string, StopRecord>;
  /** Cancel requests recorded for executions of running steps, not acted on yet. */
  cancels: CancelRequest[];
  /** False when this worker's row was gone (it was taken for dead): it registered again. */
  known: boolean;
}

export const parseStop = (text: unknown): StopRecord | undefined =>
  typeof text === 'string' ? (JSON.parse(text) as StopRecord) : undefined;

/** How commits went, for metrics and benchmarks. */
export interface CommitStats {
  /** Planned on a remembered state, written with a guard: one round trip. */
  remembered: number;
  /** Planned on a fresh read, written with a guard: two round trips. */
  read: number;
  /** Under the execution's row lock (a guard failed, or the execution stops): four or more. */
  locked: number;
  /** Guards that failed because another commit of the execution came first. */
  conflicts: number;
}

export function lightSteps(
  executionId: string,
  ids: readonly string[],
  statuses: readonly StepStateRecord['status'][],
): StepStateRecord[] {
  return ids.map((stepId, i) => ({ executionId, stepId, status: statuses[i]!, attempts: 0 }));
}

/** What a commit decides on: every column but the step's output and error. */
export const LIGHT_STEP_SELECT = STEP_COLUMNS.map(([c]) =>
  c === 'output' || c === 'error' ? `NULL AS ${c}` : c,
).join(', ');

export const TERMINAL_EXECUTION: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);
