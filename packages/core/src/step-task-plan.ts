/**
 * What a commit of distributed work changes, decided from fresh state: pure, so every
 * worker (and every API instance starting or cancelling an execution) decides the same
 * way, and the caller applies the plan in the transaction that read the state.
 *
 * A plan takes the execution's stored steps and tasks, applies what happened (a step's
 * outcome, a start, a stop request), releases what became ready (dependents whose
 * dependencies are all terminal: run, or skip with cascade, via `decideStep`, as the
 * in-process scheduler does), and finishes the execution once nothing is left: outputs
 * rendered, or the stop's status when it was stopped.
 */
import { CancelledError, ErrorCode, Orchestr8Error, serializeError, TimeoutError } from '@orchestr8/common';
import { type CompiledStep, type CompiledWorkflow, renderValue } from '@orchestr8/schema';
import { EventType } from './events.js';
import { Journal } from './journal.js';
import { decideStep } from './readiness.js';
import type { StepTaskOutcome, StepTaskRunner, StopRecord } from './step-task-run.js';
import type { ExecutionRecord, JournalEntry, StepStateRecord, StepStatus } from './types.js';

const TERMINAL: ReadonlySet<StepStatus> = new Set(['completed', 'failed', 'skipped', 'cancelled']);
const DEFAULT_QUEUE = 'default';

/** The queue a step's task goes on. */
export function queueOf(step: CompiledStep): string {
  return step.queue ?? DEFAULT_QUEUE;
}

export type TaskState = 'ready' | 'leased';

export interface PlanInput {
  workflow: CompiledWorkflow;
  /** Under the execution's row lock. */
  execution: ExecutionRecord;
  /** Set once the execution is stopping. */
  stop: StopRecord | undefined;
  steps: readonly StepStateRecord[];
  /** The execution's other tasks (not the one being committed), by step id. */
  tasks: ReadonlyMap<string, TaskState>;
  /** Steps that finished on the committing worker (several, when it batches its commits). */
  outcomes?: readonly StepTaskOutcome[];
  /** The execution starts: its root steps become tasks. */
  start?: boolean;
  /**
   * The execution was run by an in-process engine that is gone: every step that is not
   * finished and whose dependencies are becomes a task (steps that were running run again).
   */
  resume?: boolean;
  /** Stop the execution (cancel, global timeout), unless it is stopping already. */
  stopRequest?: StopRecord & { event?: { type: string; data: Record<string, unknown> } };
  /** Whether the committing worker takes a newly ready step itself (capacity, queues). */
  takeSelf?: (step: CompiledStep) => boolean;
}

export interface PlannedTask {
  stepId: string;
  queue: string;
  /** Leased by the committing worker at once, instead of waiting in the queue. */
  self: boolean;
}

export interface CommitPlan {
  /** Step records to upsert, in order. */
  steps: StepStateRecord[];
  /** Journal entries in order; the committer numbers them after the execution's last seq. */
  journal: JournalEntry[];
  tasks: PlannedTask[];
  /** Ready tasks to delete (their steps were cancelled). */
  dropTasks: string[];
  /** Set when the execution starts stopping in this commit. */
  stop?: StopRecord;
  /** The execution record when it finished in this commit. */
  finished?: ExecutionRecord;
}

/** Builds the journal entries of a commit with the engine's caps and redaction. */
function journalFor(runner: StepTaskRunner, workflow: CompiledWorkflow): Journal {
  return new Journal(runner.clock, runner.journalLimits, runner.redactorFor(workflow).redactor, 0);
}

export function planCommit(runner: StepTaskRunner, input: PlanInput): CommitPlan {
  const { workflow, execution } = input;
  const clock = runner.clock;
  const now = clock.now();
  const startedAt = execution.startedAt ?? execution.createdAt;
  const states = new Map<string, StepStateRecord>();
  for (const s of input.steps) states.set(s.stepId, s);
  const written = new Map<string, StepStateRecord>();
  const put = (rec: StepStateRecord) => {
    states.set(rec.stepId, rec);
    written.set(rec.stepId, rec);
  };
  const journal: JournalEntry[] = [];
  const j = journalFor(runner, workflow);
  const log = (type: string, stepId?: string, attempt?: number, data?: Record<string, unknown>) => {
    journal.push(j.entry(type, stepId, attempt, data));
  };
  const plan: CommitPlan = { steps: [], journal, tasks: [], dropTasks: [] };
  const tasks = new Map(input.tasks);
  const statusOf = (id: string): StepStatus => states.get(id)?.status ?? 'pending';
  const onErrorOf = (id: string) => workflow.stepById.get(id)!.onError;
  const isTerminal = (id: string) => TERMINAL.has(statusOf(id));

  const outcomes = input.outcomes ?? [];
  for (const o of outcomes) {
    for (const rec of o.steps) put(rec);
    journal.push(...o.journal);
  }

  // ---- stopping ------------------------------------------------------------------------
  let stop = input.stop;
  const halt = outcomes.find((o) => o.halt !== undefined)?.halt;
  const newStop = stop ? undefined : (halt ?? input.stopRequest);
  if (newStop) {
    stop = { status: newStop.status, reason: newStop.reason, error: newStop.error };
    plan.stop = stop;
    const event = input.stopRequest === newStop ? input.stopRequest.event : undefined;
    if (event) log(event.type, undefined, undefined, event.data);
    log(EventType.executionCancelling, undefined, undefined, {
      status: stop.status,
      reason: stop.reason,
      gracePeriodMs: workflow.gracePeriodMs,
      error: stop.error,
    });
    // Steps that have not started are cancelled now; running ones get the grace period.
    for (const c of workflow.steps) {
      if (c.fallbackOnly || isTerminal(c.id) || tasks.get(c.id) === 'leased') continue;
      if (tasks.get(c.id) === 'ready') {
        plan.dropTasks.push(c.id);
        tasks.delete(c.id);
      }
      cancelStep(
        c.id,
        `execution ${stop.status === 'cancelled' ? 'cancelled' : 'failed'} before the step started`,
      );
    }
  }

  function cancelStep(stepId: string, reason: string) {
    const prev = states.get(stepId);
    const rec: StepStateRecord = {
      executionId: execution.id,
      stepId,
      status: 'cancelled',
      attempts: prev?.attempts ?? 0,
      statusReason: reason,
      finishedAt: now,
    };
    if (prev?.startedAt !== undefined) rec.startedAt = prev.startedAt;
    if (prev?.idempotencyKey !== undefined) rec.idempotencyKey = prev.idempotencyKey;
    put(rec);
    log(EventType.stepCancelled, stepId, rec.attempts || undefined, { reason });
  }

  // ---- releasing what became ready ---------------------------------------------------
  if (!stop) {
    const candidates: string[] = [];
    if (input.start) for (const c of workflow.steps) if (c.dependencies.length === 0) candidates.push(c.id);
    if (input.resume) for (const c of workflow.steps) if (!isTerminal(c.id)) candidates.push(c.id);
    for (const o of outcomes) candidates.push(...workflow.stepById.get(o.stepId)!.dependents);
    for (let i = 0; i < candidates.length; i++) {
      const c = workflow.stepById.get(candidates[i]!)!;
      if (c.fallbackOnly || isTerminal(c.id) || tasks.has(c.id)) continue;
      const r = decideStep(c, statusOf, onErrorOf);
      if (r.kind === 'wait') continue;
      if (r.kind === 'run') {
        const self = input.takeSelf?.(c) ?? false;
        plan.tasks.push({ stepId: c.id, queue: queueOf(c), self });
        tasks.set(c.id, self ? 'leased' : 'ready');
        if (self)
          put({ executionId: execution.id, stepId: c.id, status: 'running', attempts: 0, startedAt: now });
        continue;
      }
      put({
        executionId: execution.id,
        stepId: c.id,
        status: 'skipped',
        attempts: states.get(c.id)?.attempts ?? 0,
        statusReason: r.reason,
        skipReason: r.reason,
        finishedAt: now,
      });
      log(EventType.stepSkipped, c.id, undefined, { reason: r.reason });
      candidates.push(...c.dependents);
    }
  }

  // ---- finishing -----------------------------------------------------------------------
  let leased = false;
  for (const t of tasks.values()) if (t === 'leased') leased = true;
  const allTerminal = workflow.steps.every((c) => c.fallbackOnly || isTerminal(c.id));
  if (stop ? !leased : allTerminal && tasks.size === 0) {
    if (stop) {
      for (const c of workflow.steps)
        if (!c.fallbackOnly && !isTerminal(c.id)) cancelStep(c.id, 'execution stopped');
    }
    // Fallback-only steps that were never needed are recorded as skipped.
    for (const c of workflow.steps) {
      if (c.fallbackOnly && !isTerminal(c.id)) {
        put({
          executionId: execution.id,
          stepId: c.id,
          status: 'skipped',
          attempts: states.get(c.id)?.attempts ?? 0,
          statusReason: 'fallback not needed',
          skipReason: 'fallback not needed',
        });
      }
    }
    plan.finished = finish(runner, input, [...states.values()], stop, now, startedAt, log);
  }

  plan.steps = [...written.values()];
  for (const e of journal) e.elapsedMs = Math.max(0, e.ts - startedAt);
  return plan;
}

function finish(
  runner: StepTaskRunner,
  input: PlanInput,
  steps: StepStateRecord[],
  stop: StopRecord | undefined,
  now: number,
  startedAt: number,
  log: (type: string, stepId?: string, attempt?: number, data?: Record<string, unknown>) => void,
): ExecutionRecord {
  const { workflow } = input;
  const rec: ExecutionRecord = { ...input.execution };
  let outputs: unknown;
  if (stop) {
    rec.status = stop.status;
    rec.error = stop.error;
    rec.statusReason = stop.reason;
  } else {
    rec.status = 'completed';
    try {
      outputs = renderOutputs(runner, workflow, input.execution, steps);
      rec.result = outputs;
      rec.statusReason = 'all steps finished';
    } catch (e) {
      const error =
        e instanceof Orchestr8Error
          ? e
          : new Orchestr8Error(ErrorCode.EXPRESSION, 'could not render the workflow outputs', { cause: e });
      rec.status = 'failed';
      const redactor = runner.redactorFor(workflow).redactor;
      const serialized = serializeError(error);
      rec.error = redactor.active ? (redactor.redact(serialized) as typeof serialized) : serialized;
      rec.statusReason = 'outputs could not be rendered';
    }
  }
  rec.finishedAt = now;
  rec.updatedAt = now;
  const type =
    rec.status === 'completed'
      ? EventType.executionCompleted
      : rec.status === 'failed'
        ? EventType.executionFailed
        : EventType.executionCancelled;
  const data: Record<string, unknown> = { durationMs: now - startedAt };
  if (rec.status === 'completed') data.outputs = outputs;
  else data.error = rec.error;
  log(type, undefined, undefined, data);
  return rec;
}

function renderOutputs(
  runner: StepTaskRunner,
  workflow: CompiledWorkflow,
  execution: ExecutionRecord,
  steps: readonly StepStateRecord[],
): unknown {
  if (workflow.outputs !== undefined) {
    const { run } = runner.rebuild(workflow, execution, steps);
    return renderValue(workflow.outputs, run.scope);
  }
  const byId = new Map(steps.map((s) => [s.stepId, s]));
  const out: Record<string, unknown> = {};
  for (const c of workflow.steps) {
    const s = byId.get(c.id);
    if (c.dependents.length === 0 && !c.fallbackOnly && s?.status === 'completed') out[c.id] = s.output;
  }
  return out;
}

/** The first journal entry of an execution started for workers. */
export function startEntry(
  runner: StepTaskRunner,
  workflow: CompiledWorkflow,
  execution: ExecutionRecord,
): JournalEntry {
  const e = journalFor(runner, workflow).entry(EventType.executionStarted, undefined, undefined, {
    workflowId: workflow.id,
    workflowVersion: workflow.version,
    inputs: execution.inputs,
  });
  e.elapsedMs = 0;
  return e;
}

/** The first journal entry when workers take over an execution an in-process engine ran. */
export function resumeEntry(
  runner: StepTaskRunner,
  workflow: CompiledWorkflow,
  execution: ExecutionRecord,
): JournalEntry {
  return journalFor(runner, workflow).entry(EventType.executionResumed, undefined, undefined, {
    workflowId: workflow.id,
    workflowVersion: workflow.version,
    inputs: execution.inputs,
    by: 'workers',
  });
}

/** A stop request for a cancellation. */
export function cancelStop(reason: string): StopRecord {
  return { status: 'cancelled', reason, error: serializeError(new CancelledError(reason)) };
}

/** A stop request for an execution past its global timeout. */
export function timeoutStop(workflow: CompiledWorkflow): PlanInput['stopRequest'] {
  const error = new TimeoutError(`workflow exceeded its global timeout of ${workflow.globalTimeoutMs} ms`);
  return {
    status: 'failed',
    reason: 'global timeout exceeded',
    error: serializeError(error),
    event: { type: EventType.timeoutExceeded, data: { timeoutMs: workflow.globalTimeoutMs } },
  };
}
