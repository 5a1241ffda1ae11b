/**
 * Retry (in place) and rerun (a new execution reusing outputs) of finished executions, for
 * the engine: planned purely (operations.ts, rerun-plan.ts), written with one conditional
 * store call, then run like a resume.
 */
import type { Clock } from '@orchestr8/common';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { ExecutionHandle, RerunOptions, RetryHandle, RetryOptions } from './engine-api.js';
import { assertSameRequest, checkedInputs, newExecution } from './execution-request.js';
import { ExecutionRun } from './execution-run.js';
import type { WorkflowGrants } from './grants.js';
import {
  notRetryable,
  RETRYABLE_STATUSES,
  rerunCorrelationId,
  rerunEntry,
  rerunInputs,
  retryWrites,
  reusedSteps,
} from './operations.js';
import type { Redactor } from './redaction.js';
import { type RerunPlan, rerunPlan, retryPlan } from './rerun-plan.js';
import type { EngineRuntime } from './runtime.js';
import type { Store } from './store.js';
import { type ExecutionRecord, type StepStateRecord, TERMINAL_EXECUTION_STATUSES } from './types.js';
import { waitId } from './waits.js';

/** What the operations use of the engine that made them. */
export interface OperationsContext {
  store: Store;
  clock: Clock;
  rt: EngineRuntime;
  runs: ReadonlyMap<string, ExecutionRun>;
  resume(executionId: string): Promise<ExecutionHandle>;
  storedWorkflow(record: ExecutionRecord): Promise<CompiledWorkflow>;
  requireRecord(executionId: string): Promise<ExecutionRecord>;
  grantsFor(workflow: CompiledWorkflow): WorkflowGrants;
  /** Restores the circuits' stored state before the first run (undefined once done). */
  ensureCircuits(): Promise<void> | undefined;
  redactorFor(workflow: CompiledWorkflow): { redactor: Redactor; values: string[] };
  launch(run: ExecutionRun, resumed: boolean, signal?: AbortSignal): ExecutionRun;
  existingHandle(executionId: string): ExecutionHandle;
  assertOpen(): void;
}

export function createOperations(ctx: OperationsContext) {
  const { store, clock, rt, runs, storedWorkflow, requireRecord, grantsFor, redactorFor, launch } = ctx;
  const { existingHandle, assertOpen } = ctx;

  /** The retry an idempotency key already made: its handle, and what it ran again. */
  async function replayedRetry(executionId: string, claimed: string): Promise<RetryHandle> {
    if (claimed !== executionId) {
      throw new Orchestr8Error(
        ErrorCode.CONFLICT,
        `the idempotency key was already used for a different request (execution ${claimed})`,
        { retryable: false, details: { executionId: claimed } },
      );
    }
    const journal = await store.readJournal(executionId);
    const last = journal.findLast((e) => e.type === 'execution.retried');
    const steps = (last?.data as { steps?: string[] } | undefined)?.steps ?? [];
    return { ...existingHandle(executionId), retried: steps };
  }

  async function retry(executionId: string, opts: RetryOptions): Promise<RetryHandle> {
    assertOpen();
    if (store.reopenExecution === undefined) {
      throw new Orchestr8Error(ErrorCode.VALIDATION, `the ${store.kind} store cannot retry executions`, {
        retryable: false,
      });
    }
    const now = clock.now();
    const claim =
      opts.idempotencyKey === undefined
        ? undefined
        : {
            key: opts.idempotencyKey,
            fingerprint: opts.fingerprint ?? `retry:${executionId}`,
            expiresAt: now + (opts.idempotencyTtlMs ?? 24 * 60 * 60 * 1000),
          };
    if (claim) {
      const found = await store.findIdempotency(claim.key, now);
      if (found) {
        assertSameRequest(claim, found);
        return replayedRetry(executionId, found.executionId);
      }
    }
    const record = await requireRecord(executionId);
    if (runs.has(executionId) || !RETRYABLE_STATUSES.includes(record.status)) {
      throw notRetryable(executionId, runs.has(executionId) ? 'running' : record.status);
    }
    const workflow = await storedWorkflow(record);
    const [steps, journal] = await Promise.all([store.getSteps(executionId), store.readJournal(executionId)]);
    const retried = retryPlan(workflow, steps);
    const lastSeq = journal.length > 0 ? journal[journal.length - 1]!.seq : 0;
    const writes = retryWrites(workflow, record, steps, retried, lastSeq, now, opts.reason ?? 'retried');
    const outcome = await store.reopenExecution(executionId, RETRYABLE_STATUSES, writes, claim);
    if (!outcome.reopened) {
      if (outcome.existing) {
        assertSameRequest(claim, outcome.existing);
        return replayedRetry(executionId, outcome.existing.executionId);
      }
      if (outcome.status === undefined)
        throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`);
      throw notRetryable(executionId, outcome.status);
    }
    // A wait step that runs again registers a new wait: the old one (and its outcome) goes.
    const ws = store.waits;
    if (ws !== undefined) {
      for (const id of retried) {
        if (workflow.steps.some((c) => c.id === id && c.wait !== undefined))
          await ws.deleteWait(waitId(executionId, id)).catch(() => {});
      }
    }
    const handle = await ctx.resume(executionId);
    return { ...handle, created: true, retried };
  }

  /** The original of a rerun, its workflow and steps, and the plan. */
  async function prepareRerun(executionId: string, opts: Pick<RerunOptions, 'fromStep' | 'inputs'>) {
    const record = await requireRecord(executionId);
    if (runs.has(executionId) || !TERMINAL_EXECUTION_STATUSES.has(record.status)) {
      throw new Orchestr8Error(
        ErrorCode.CONFLICT,
        `execution "${executionId}" is ${runs.has(executionId) ? 'running' : record.status}: ` +
          'rerun it once it has finished (or cancel it first)',
        { retryable: false, details: { executionId, status: record.status, reason: 'not_finished' } },
      );
    }
    const workflow = await storedWorkflow(record);
    const step = workflow.steps.find((c) => c.id === opts.fromStep);
    if (step === undefined || step.fallbackOnly) {
      const ids = workflow.steps.filter((c) => !c.fallbackOnly).map((c) => c.id);
      throw new Orchestr8Error(
        ErrorCode.VALIDATION,
        step === undefined
          ? `workflow "${workflow.id}" has no step "${opts.fromStep}" (its steps: ${ids.join(', ')})`
          : `step "${opts.fromStep}" is a fallback: rerun from the step it stands in for`,
        { retryable: false, details: { fromStep: opts.fromStep, steps: ids } },
      );
    }
    const inputs = checkedInputs(workflow, rerunInputs(record.inputs, opts.inputs));
    const steps = await store.getSteps(executionId);
    const plan = rerunPlan(workflow, steps, opts.fromStep, record.inputs, inputs);
    return { record, workflow, steps, inputs, plan };
  }

  async function rerun(
    executionId: string,
    opts: RerunOptions,
  ): Promise<{ plan: RerunPlan; handle: ExecutionHandle }> {
    assertOpen();
    const { record, workflow, steps, inputs, plan } = await prepareRerun(executionId, opts);
    const grants = grantsFor(workflow);
    await ctx.ensureCircuits();
    const now = clock.now();
    const created = newExecution(
      workflow,
      record.workflowVersion,
      inputs,
      {
        correlationId: rerunCorrelationId(executionId, opts.fromStep),
        ...(opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
        ...(opts.fingerprint !== undefined ? { fingerprint: opts.fingerprint } : {}),
        ...(opts.idempotencyTtlMs !== undefined ? { idempotencyTtlMs: opts.idempotencyTtlMs } : {}),
      },
      now,
    );
    const stored = await store.createExecution(created.record, created.claim);
    if (!stored.created) {
      assertSameRequest(created.claim, stored.existing);
      return { plan, handle: existingHandle(stored.existing.executionId) };
    }
    const id = created.record.id;
    const reused: StepStateRecord[] = reusedSteps(workflow, steps, plan, id);
    await store.write([
      ...reused.map((step) => ({ kind: 'step' as const, step })),
      { kind: 'journal', executionId: id, entries: [rerunEntry(executionId, opts.fromStep, plan, now)] },
    ]);
    const { redactor, values } = redactorFor(workflow);
    const run = new ExecutionRun(
      rt,
      workflow,
      created.record,
      redactor,
      values,
      {
        journalSeq: 1,
        previous: reused,
        ...(opts.maxConcurrentSteps !== undefined ? { maxConcurrentSteps: opts.maxConcurrentSteps } : {}),
      },
      grants,
    );
    return { plan, handle: handleOf(launch(run, false, opts.signal), true) };
  }

  return { retry, rerun, prepareRerun };
}

export function handleOf(run: ExecutionRun, created: boolean): ExecutionHandle {
  return {
    id: run.record.id,
    created,
    result: run.result,
    cancel: (reason) => run.cancel(reason ?? 'cancelled'),
  };
}
