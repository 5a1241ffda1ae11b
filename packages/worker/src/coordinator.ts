/**
 * What workers and API instances share: compiled workflows by hash, the step runner, and
 * the transactions that change a distributed execution (start, commit a step, stop).
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import {
  assertSameRequest,
  type CommitPlan,
  type CreateExecutionResult,
  cancelStop,
  checkedInputs,
  type ExecutionRecord,
  type ExecutionRequest,
  type IdempotencyClaim,
  newExecution,
  type PlanInput,
  planCommit,
  resumeEntry,
  type StepStateRecord,
  type StepTaskRunner,
  startEntry,
  storeDefinition,
  timeoutStop,
} from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import type { PostgresStore } from '@orchestr8/store-postgres';
import {
  type BatchCommitResult,
  type CommitOptions,
  type CommitResult,
  type ExecutionState,
  type LockedExecution,
  TaskQueue,
} from '@orchestr8/store-postgres';

/** Compiled workflows by definition hash: each stored definition is validated once per process. */
export class WorkflowCache {
  private readonly byHash = new Map<string, Promise<CompiledWorkflow>>();

  constructor(private readonly store: PostgresStore) {}

  add(workflow: CompiledWorkflow): void {
    if (!this.byHash.has(workflow.hash)) this.byHash.set(workflow.hash, Promise.resolve(workflow));
  }

  get(hash: string): Promise<CompiledWorkflow> {
    let p = this.byHash.get(hash);
    if (!p) {
      p = this.load(hash);
      this.byHash.set(hash, p);
      p.catch(() => this.byHash.delete(hash));
    }
    return p;
  }

  private async load(hash: string): Promise<CompiledWorkflow> {
    const def = await this.store.getDefinitionByHash(hash);
    if (!def)
      throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no stored workflow definition with hash ${hash}`);
    const loaded = validateWorkflowObject(def.document);
    if (!loaded.ok || !loaded.workflow) {
      throw new Orchestr8Error(
        ErrorCode.VALIDATION,
        `the stored definition ${def.id}@${def.version} no longer validates`,
        {
          details: loaded.diagnostics,
        },
      );
    }
    return loaded.workflow;
  }
}

/** How an execution is started (the engine's StartOptions, less what only an in-process run has). */
export type LaunchOptions = ExecutionRequest;

export class Coordinator {
  readonly queue: TaskQueue;
  readonly workflows: WorkflowCache;
  private readonly savedDefinitions = new Map<string, string>();

  constructor(
    readonly store: PostgresStore,
    readonly runner: StepTaskRunner,
  ) {
    this.queue = new TaskQueue(store);
    this.workflows = new WorkflowCache(store);
  }

  /** Stores the definition once (by hash); returns the version it is stored under. */
  async ensureDefinition(workflow: CompiledWorkflow): Promise<string> {
    const known = this.savedDefinitions.get(workflow.hash);
    if (known !== undefined) return known;
    const version = await storeDefinition(this.store, workflow, this.runner.clock.now());
    this.savedDefinitions.set(workflow.hash, version);
    return version;
  }

  /**
   * Validates the inputs, stores the definition and starts the execution on the workers.
   * An idempotency key already used for the same request returns its execution
   * (`created: false`); for another request it is a CONFLICT.
   */
  async launch(
    workflow: CompiledWorkflow,
    opts: LaunchOptions = {},
  ): Promise<{ id: string; created: boolean }> {
    const inputs = checkedInputs(workflow, opts.inputs);
    // Refused before anything is stored when it asks for more than the operator grants.
    this.runner.grantsFor(workflow);
    const version = await this.ensureDefinition(workflow);
    const { record, claim } = newExecution(workflow, version, inputs, opts, this.runner.clock.now());
    const created = await this.start(workflow, record, claim);
    if (created.created) return { id: record.id, created: true };
    assertSameRequest(claim, created.existing);
    return { id: created.existing.executionId, created: false };
  }

  /**
   * Creates an execution whose steps run on workers: the record (already `running`), its
   * idempotency claim, the `execution.started` entry and its root steps' tasks commit in
   * one transaction, so an execution the API accepted is never lost.
   */
  start(
    workflow: CompiledWorkflow,
    record: ExecutionRecord,
    claim?: IdempotencyClaim,
  ): Promise<CreateExecutionResult> {
    this.workflows.add(workflow);
    const plan = planCommit(this.runner, {
      workflow,
      execution: record,
      stop: undefined,
      steps: [],
      tasks: new Map(),
      start: true,
    });
    plan.journal.unshift(startEntry(this.runner, workflow, record));
    const deadline =
      workflow.globalTimeoutMs !== undefined
        ? (record.startedAt ?? record.createdAt) + workflow.globalTimeoutMs
        : undefined;
    return this.queue.start(record, claim, plan, deadline);
  }

  /**
   * Commits a change planned against the execution's locked state. `withTasks`: the change
   * may stop the execution, so the plan needs to know which steps are running.
   */
  async change(
    executionId: string,
    finishing: { stepIds: readonly string[]; owner: string } | undefined,
    input: (
      locked: LockedExecution,
      workflow: CompiledWorkflow,
    ) => Omit<PlanInput, 'workflow' | 'execution' | 'stop' | 'steps' | 'tasks'> | undefined,
    options: CommitOptions & { workflow?: CompiledWorkflow } = {},
  ): Promise<CommitResult> {
    const { workflow: given, ...commitOptions } = options;
    let wf = given;
    if (!wf) {
      const rec = await this.store.getExecution(executionId);
      if (!rec) return { status: 'gone' };
      wf = await this.workflows.get(rec.definitionHash);
    }
    const compiled = wf;
    return this.queue.commit(
      executionId,
      finishing,
      (locked): CommitPlan | undefined => {
        const extra = input(locked, compiled);
        if (!extra) return undefined;
        return planCommit(this.runner, {
          workflow: compiled,
          execution: locked.execution,
          stop: locked.stop,
          steps: locked.steps,
          tasks: locked.tasks,
          ...extra,
        });
      },
      commitOptions,
    );
  }

  /**
   * Commits the step results of many executions in one statement, each planned against the
   * state the caller remembers (see `TaskQueue.commitMany`). Per item: its result, or
   * undefined when it must be committed with `change`.
   */
  changeMany(
    items: readonly {
      known: ExecutionState;
      stepIds: readonly string[];
      workflow: CompiledWorkflow;
      input: (
        locked: LockedExecution,
      ) => Omit<PlanInput, 'workflow' | 'execution' | 'stop' | 'steps' | 'tasks'>;
      /** Every step's full record, when the caller knows them all (see `BatchItem.full`). */
      full?: () => StepStateRecord[] | undefined;
    }[],
    owner: string,
    leaseMs: number,
  ): Promise<BatchCommitResult[]> {
    return this.queue.commitMany(
      items.map((it) => ({
        known: it.known,
        stepIds: it.stepIds,
        ...(it.full ? { full: it.full } : {}),
        decide: (locked) =>
          planCommit(this.runner, {
            workflow: it.workflow,
            execution: locked.execution,
            stop: locked.stop,
            steps: locked.steps,
            tasks: locked.tasks,
            ...it.input(locked),
          }),
      })),
      owner,
      leaseMs,
    );
  }

  /**
   * Hands an execution an in-process engine left running (its process died) to the workers:
   * its unfinished steps whose dependencies are done become tasks; a pending cancel request
   * is honoured. 'gone' when workers run it already, or it finished.
   */
  async adopt(executionId: string): Promise<CommitResult> {
    const rec = await this.store.getExecution(executionId);
    if (!rec) return { status: 'gone' };
    const workflow = await this.workflows.get(rec.definitionHash);
    const [cancel] = await this.store.pendingCancels([executionId]);
    return this.queue.adopt(
      executionId,
      (locked) => {
        const plan = planCommit(this.runner, {
          workflow,
          execution: locked.execution,
          stop: undefined,
          steps: locked.steps,
          tasks: locked.tasks,
          resume: true,
          ...(cancel ? { stopRequest: cancelStop(cancel.reason) } : {}),
        });
        plan.journal.unshift(resumeEntry(this.runner, workflow, locked.execution));
        return plan;
      },
      (execution) =>
        workflow.globalTimeoutMs !== undefined
          ? (execution.startedAt ?? execution.createdAt) + workflow.globalTimeoutMs
          : undefined,
    );
  }

  /** Stops an execution as cancelled: steps not started are cancelled now, running ones are told to stop. */
  async cancel(executionId: string, reason: string): Promise<CommitResult> {
    return this.change(
      executionId,
      undefined,
      (locked) => (locked.stop ? undefined : { stopRequest: cancelStop(reason) }),
      { withTasks: true },
    );
  }

  /** Stops an execution past its global timeout as failed. */
  async timeout(executionId: string): Promise<CommitResult> {
    return this.change(
      executionId,
      undefined,
      (locked, workflow) => (locked.stop ? undefined : { stopRequest: timeoutStop(workflow) }),
      { withTasks: true },
    );
  }
}
