/**
 * A worker's commits. Commits go in rounds: one round writes, in ONE statement (one
 * transaction, one WAL flush), the outcomes of every execution that finished steps since
 * the last round; an execution the round cannot take commits on its own. After a commit,
 * the steps it leased to this worker are tracked and started (see `launchReleased`).
 */
import type { Clock } from '@orchestr8/common';
import { EventType, type StepStateRecord, type StepTaskOutcome } from '@orchestr8/core';
import type { CompiledStep, CompiledWorkflow } from '@orchestr8/schema';
import type {
  BatchCommitResult,
  ClaimedTask,
  CommitResult,
  CommitWaits,
  ExecutionState,
} from '@orchestr8/store-postgres';
import type { Coordinator } from './coordinator.js';
import type { ExecutionMemory } from './execution-memory.js';
import { commitWaits, light, type PendingCommit, type Running } from './leased-steps.js';
import { stepReads } from './step-reads.js';
import type { WorkerWaits } from './task-waits.js';

/** Rounds of commits in flight at once (see `flushCommits`). */
const MAX_ROUNDS = 2;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What commits need of the worker that runs the steps. */
export interface CommitHost {
  readonly id: string;
  readonly leaseMs: number;
  readonly coordinator: Coordinator;
  readonly waits: WorkerWaits;
  readonly clock: Clock;
  /** Every step the worker holds a lease on. */
  readonly active: ReadonlyMap<string, Running>;
  stopping(): boolean;
  /** Holds a step a commit leased to this worker (undefined: held already). */
  track(claimed: ClaimedTask, leaseUntil: number): Running | undefined;
  untrack(entry: Running): void;
  /** Starts a released step, or queues it for the next free slot. */
  begin(entry: Running, released: boolean): void;
  /** Which released steps this worker takes itself, out of one budget per round. */
  selfBudget(): (c: CompiledStep) => boolean;
  report(message: string, error: unknown): void;
}

export class CommitRounds {
  /** Outcomes given to `commit` and not committed yet. */
  uncommitted = 0;
  /** Steps whose results this worker committed. */
  stepsDone = 0;
  rounds = 0;
  /** Outcomes waiting for the next round of commits, by execution. */
  private readonly pendingCommits = new Map<string, PendingCommit[]>();
  /** Executions with a commit in flight. */
  private readonly committing = new Set<string>();
  private roundsInFlight = 0;

  constructor(
    private readonly host: CommitHost,
    private readonly memory: ExecutionMemory,
  ) {}

  /**
   * Commits a step's outcome. Commits go in rounds: one round writes, in ONE statement (one
   * transaction, one WAL flush), the outcomes of every execution that finished steps since
   * the last round, each planned against the state this worker remembers of it (see
   * `TaskQueue.commitMany`); the next round gathers what finished meanwhile. An execution
   * has at most one commit in flight (the next one plans on its result), and its outcomes
   * that finish meanwhile go together in its next one. An execution the round cannot take
   * (nothing remembered, stopping, waits) or whose guard failed commits on its own.
   */
  commit(entry: Running, workflow: CompiledWorkflow, outcome: StepTaskOutcome): Promise<void> {
    const id = entry.claimed.executionId;
    this.uncommitted++;
    return new Promise<void>((resolve, reject) => {
      let list = this.pendingCommits.get(id);
      if (!list) {
        list = [];
        this.pendingCommits.set(id, list);
      }
      list.push({ entry, workflow, outcome, resolve, reject });
      this.flushCommits();
    }).finally(() => {
      this.uncommitted--;
    });
  }

  /**
   * Starts a round with the outcomes pending, unless `MAX_ROUNDS` rounds are in flight (then
   * the next round to finish gathers them). A second round in flight means an outcome that
   * finishes just after a round left does not wait for that round's flush (latency), while
   * under load the outcomes still group: the rounds' executions differ (one commit in flight
   * per execution), so they do not contend with each other.
   */
  private flushCommits(): void {
    while (this.roundsInFlight < MAX_ROUNDS) {
      const round: [string, PendingCommit[]][] = [];
      for (const [id, batch] of this.pendingCommits) if (!this.committing.has(id)) round.push([id, batch]);
      if (round.length === 0) return;
      const together: [string, PendingCommit[]][] = [];
      for (const [id, batch] of round) {
        this.pendingCommits.delete(id);
        this.committing.add(id);
        const workflow = batch[0]!.workflow;
        if (
          this.memory.state(id) !== undefined &&
          !batch.some((b) => b.outcome.halt !== undefined) &&
          commitWaits(id, workflow, batch) === undefined
        )
          together.push([id, batch]);
        else this.commitAlone(id, batch);
      }
      if (together.length === 0) continue;
      this.roundsInFlight++;
      void this.commitRound(together).finally(() => {
        this.roundsInFlight--;
        this.flushCommits();
      });
    }
  }

  /**
   * Commits one execution's outcomes on their own (see `commitBatch`), then lets its next ones
   * go. `contended`: its commit in a round lost to another worker's commit of it.
   */
  private commitAlone(executionId: string, batch: PendingCommit[], contended = false): void {
    this.commitBatch(executionId, batch, contended)
      .then(
        () => {
          for (const b of batch) b.resolve();
        },
        (error: unknown) => {
          for (const b of batch) b.reject(error);
        },
      )
      .finally(() => this.committed(executionId));
  }

  private committed(executionId: string): void {
    this.committing.delete(executionId);
    if (this.pendingCommits.has(executionId)) this.flushCommits();
  }

  /** One round: the outcomes of many executions in one statement. */
  private async commitRound(round: [string, PendingCommit[]][]): Promise<void> {
    const items = round.map(([id, batch]) => {
      const outcomes = batch.map((b) => b.outcome);
      const known = this.memory.state(id)!;
      return {
        known,
        stepIds: batch.map((b) => b.entry.claimed.stepId),
        workflow: batch[0]!.workflow,
        input: () => ({ outcomes, takeSelf: this.host.selfBudget() }),
        full: () => this.memory.fullSteps(id, known.steps),
      };
    });
    let results: BatchCommitResult[];
    this.rounds++;
    const sentAt = Date.now();
    try {
      results = await this.host.coordinator.changeMany(items, this.host.id, this.host.leaseMs);
    } catch (error) {
      // Each commits on its own below, with retries.
      this.host.report('a round of commits failed', error);
      results = round.map(() => undefined);
    }
    round.forEach(([id, batch], i) => {
      const result = results[i];
      if (result?.status !== 'committed') {
        this.memory.forgetState(id);
        // Contended: another worker's commit of it won, and would likely beat a fresh
        // optimistic read again.
        this.commitAlone(id, batch, result?.status === 'contended');
        return;
      }
      const workflow = batch[0]!.workflow;
      this.afterCommit(result, workflow, batch, undefined, sentAt)
        .then(
          () => {
            for (const b of batch) b.resolve();
          },
          (error: unknown) => {
            for (const b of batch) b.reject(error);
          },
        )
        .finally(() => this.committed(id));
    });
  }

  private async commitBatch(executionId: string, batch: PendingCommit[], contended: boolean): Promise<void> {
    const workflow = batch[0]!.workflow;
    const outcomes = batch.map((b) => b.outcome);
    const stepIds = batch.map((b) => b.entry.claimed.stepId);
    const waits = commitWaits(executionId, workflow, batch);
    for (let attempt = 1; ; attempt++) {
      const sentAt = Date.now();
      let result: CommitResult;
      try {
        result = await this.host.coordinator.change(
          executionId,
          { stepIds, owner: this.host.id },
          (locked) => {
            const held = new Set(locked.finishing);
            return {
              outcomes: outcomes.filter((o) => held.has(o.stepId)),
              takeSelf: this.host.selfBudget(),
            };
          },
          {
            leaseMs: this.host.leaseMs,
            withTasks: outcomes.some((o) => o.halt !== undefined),
            workflow,
            ...(this.memory.state(executionId) !== undefined
              ? { known: this.memory.state(executionId)! }
              : {}),
            ...(waits ? { waits } : {}),
            ...(contended && attempt === 1 ? { contended: true } : {}),
          },
        );
      } catch (error) {
        if (attempt >= 5 || this.host.stopping()) throw error;
        await sleep(100 * 2 ** attempt);
        continue;
      }
      if (result.status !== 'committed') this.memory.forgetState(executionId);
      else await this.afterCommit(result, workflow, batch, waits, sentAt);
      return;
    }
  }

  /** What follows a commit: the count, the steps it leased to this worker, the waits. */
  private async afterCommit(
    result: Extract<CommitResult, { status: 'committed' }>,
    workflow: CompiledWorkflow,
    batch: readonly PendingCommit[],
    waits: CommitWaits | undefined,
    sentAt: number,
  ): Promise<void> {
    this.stepsDone += result.locked.finishing.length;
    this.host.coordinator.queue.stepsDone = this.stepsDone;
    await this.launchReleased(
      result,
      workflow,
      batch.map((b) => b.outcome),
      sentAt,
    );
    if (!result.plan.finished && workflow.steps.some((s) => s.wait !== undefined))
      await this.afterWaits(result.locked.execution.id, result, waits);
  }

  /** Starts the steps this worker leased in its commit, with the states they read. */
  private async launchReleased(
    result: Extract<CommitResult, { status: 'committed' }>,
    workflow: CompiledWorkflow,
    outcomes: readonly StepTaskOutcome[],
    sentAt: number,
  ): Promise<void> {
    const executionId = result.locked.execution.id;
    // What this commit leaves: the plan for the next commit of the execution, unread.
    let state: ExecutionState | undefined;
    // A stopping execution commits under locks: nothing to remember.
    if (result.plan.finished || result.plan.stop || result.locked.stop) {
      this.memory.forgetState(executionId);
      this.memory.forgetRecords(executionId);
    } else {
      for (const o of outcomes) this.memory.keepRecords(executionId, o.steps);
      this.memory.keepRecords(executionId, result.plan.steps);
      const statuses = new Map<string, StepStateRecord>();
      for (const s of result.locked.steps) statuses.set(s.stepId, light(s));
      for (const s of result.plan.steps) statuses.set(s.stepId, light(s));
      state = {
        execution: result.locked.execution,
        journalSeq: result.lastSeq,
        steps: [...statuses.values()],
      };
      this.memory.remember(state);
    }
    const self = result.plan.tasks.filter((p) => p.self);
    if (self.length === 0 || !state) {
      // Records are kept while the execution has steps here (outputs may be large).
      const committed = new Set(outcomes.map((o) => o.stepId));
      let here = false;
      for (const e of this.host.active.values())
        if (e.claimed.executionId === executionId && !committed.has(e.claimed.stepId)) here = true;
      if (!here) this.memory.forgetRecords(executionId);
      return;
    }
    // Tracked at once (heartbeats extend their leases), started once their reads are known.
    const entries: Running[] = [];
    for (const p of self) {
      const entry = this.host.track(
        {
          executionId,
          stepId: p.stepId,
          queue: p.queue,
          claims: 1,
          leaseExpiresAt: result.leaseExpiresAt,
          execution: result.locked.execution,
          stop: undefined,
          steps: [],
          state,
        },
        sentAt + this.host.leaseMs,
      );
      if (entry) entries.push(entry);
    }
    // Known without a read: finished steps committed or read here, what this commit wrote,
    // and the steps that just finished.
    const known = new Map<string, StepStateRecord>(this.memory.recordsOf(executionId));
    for (const o of outcomes) for (const s of o.steps) known.set(s.stepId, s);
    for (const s of result.plan.steps) known.set(s.stepId, s);
    const missing = new Set<string>();
    for (const e of entries)
      for (const id of stepReads(workflow, e.claimed.stepId)) if (!known.has(id)) missing.add(id);
    if (missing.size > 0) {
      try {
        const read = await this.host.coordinator.queue.stepsOf([{ executionId, stepIds: [...missing] }]);
        for (const s of read.get(executionId) ?? []) known.set(s.stepId, s);
        this.memory.keepRecords(executionId, read.get(executionId) ?? []);
      } catch (error) {
        // Left to their leases.
        for (const e of entries) this.host.untrack(e);
        throw error;
      }
    }
    const steps = [...known.values()];
    for (const e of entries) {
      e.claimed.steps = steps;
      this.host.begin(e, true);
    }
  }

  /**
   * After a commit of a workflow with wait steps that released nothing: marks the execution
   * `waiting` when nothing of it is left to run (checked under its row lock). Then
   * announces the due times of the waits this commit registered and re-reads the inbox
   * for them.
   */
  private async afterWaits(
    executionId: string,
    result: Extract<CommitResult, { status: 'committed' }>,
    waits: CommitWaits | undefined,
  ): Promise<void> {
    const held = new Set(result.locked.finishing);
    const waiting = new Set(result.plan.steps.filter((s) => s.status === 'waiting').map((s) => s.stepId));
    const put = (waits?.put ?? []).filter((p) => held.has(p.wait.stepId) && waiting.has(p.wait.stepId));
    if (result.plan.tasks.length > 0 && put.length === 0) return;
    try {
      const execution = result.locked.execution;
      const startedAt = execution.startedAt ?? execution.createdAt;
      if (
        result.plan.tasks.length === 0 &&
        (await this.host.coordinator.queue.park(executionId, (steps) => {
          const ts = this.host.clock.now();
          return {
            ts,
            elapsedMs: Math.max(0, ts - startedAt),
            type: EventType.executionWaiting,
            data: { steps },
          };
        }))
      )
        this.memory.forgetState(executionId);
      for (const p of put) await this.host.waits.registered(p.wait);
    } catch (error) {
      // The waits are committed: timers are found by the next poll, events by their senders.
      this.host.report(`after the waits of execution ${executionId} were registered`, error);
    }
  }
}
