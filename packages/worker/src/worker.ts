/**
 * A worker: claims ready steps from PostgreSQL, runs them with the engine's step logic,
 * and commits each result with the steps it releases in one transaction. Any number of
 * workers, on any machines, share the queue.
 *
 * Flow of one step: claim (lease) -> rebuild the execution's state -> runStep -> commit
 * (result + journal + task done + dependents enqueued, under the execution's row lock). A
 * dependent that becomes ready in that commit is leased by this worker at once when it has
 * a free slot and serves the step's queue: the next step starts without a round trip to
 * the queue. Other ready steps wait in the queue and NOTIFY idle workers.
 *
 * While steps run, a heartbeat extends their leases; a worker that dies stops extending
 * them, and once they expire any worker returns them to the queue and another takes them.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import {
  type Agent,
  type AgentLogger,
  type AgentRegistry,
  type Capabilities,
  DEFAULT_EVENT_LOOK_BACK_MS,
  type EngineObserver,
  EventType,
  type ExecutionResult,
  type JournalLimits,
  queueOf,
  type StepStateRecord,
  type StepTask,
  type StepTaskOutcome,
  StepTaskRunner,
  type StopRecord,
  waitId,
} from '@orchestr8/core';
import { type CompiledStep, type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import {
  Channel,
  type ClaimedTask,
  type CommitResult,
  type CommitStats,
  type CommitWaits,
  type ExecutionState,
  type PostgresStore,
} from '@orchestr8/store-postgres';
import { Coordinator } from './coordinator.js';
import { ProgressJournal } from './progress-journal.js';
import { stepReads } from './step-reads.js';
import { TaskWaits, WorkerWaits } from './task-waits.js';
import { ExecutionWatcher } from './watcher.js';

export const DEFAULT_QUEUE = 'default';

export interface WorkerOptions {
  store: PostgresStore;
  registry: AgentRegistry;
  /** Steps run at once (default 8). */
  concurrency?: number;
  /** The queues this worker takes steps from (default ["default"]). */
  queues?: readonly string[];
  /** How long a claimed step stays this worker's without a heartbeat (default 30 s). */
  leaseMs?: number;
  /** Default a third of the lease. */
  heartbeatMs?: number;
  /** How often an idle worker looks for work it was not notified of (default 1 s). */
  pollMs?: number;
  /** How often expired leases, cancel requests and global timeouts are handled (default 1 s). */
  sweepMs?: number;
  /**
   * A step still running after this long has its journal so far (`step.started`, retries)
   * published, and again every second: followers see long steps start. Default 200; 0: only
   * when they finish.
   */
  progressMs?: number;
  /** Default a random UUID. */
  id?: string;
  env?: Readonly<Record<string, string | undefined>>;
  secretEnv?: readonly string[];
  journal?: Partial<JournalLimits>;
  /** For agents (ctx.logger) and for the worker's own errors. */
  logger?: AgentLogger;
  remoteAgent?: (url: string, agentId: string) => Agent | undefined;
  /** Told of every journal entry of the steps this worker runs (e.g. for metrics). */
  observers?: readonly EngineObserver[];
  /** What documents may reach on this host (see EngineOptions.capabilities). */
  capabilities?: Capabilities;
  /**
   * How far back a wait step looks in the event inbox when it registers, in ms (default 5
   * minutes): an event sent just before the step waits is not lost.
   */
  eventLookBackMs?: number;
  /**
   * The longest sleep between looks for due timers, in ms (default 5000). Timers registered
   * on any worker are also announced to every worker, which fires them on time.
   */
  waitPollMs?: number;
}

export interface Worker {
  readonly id: string;
  /** Steps running now. */
  readonly running: number;
  /** Steps whose results this worker committed. */
  readonly stepsDone: number;
  readonly runner: StepTaskRunner;
  /**
   * How its commits went (one round trip, two, or under locks), how many claims it made and
   * how many rounds of commits (each one statement for many executions).
   */
  stats(): CommitStats & { claims: number; rounds: number };
  /**
   * Stops taking steps, lets running ones finish within `graceMs` (default 5000), then
   * returns the steps still running to the queue (another worker runs them again) and
   * deregisters.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

interface Running {
  claimed: ClaimedTask;
  task: StepTask | undefined;
  stop: StopRecord | undefined;
  /** Lost its lease, or the worker is shutting down: its outcome is not committed. */
  abandoned: boolean;
  /** Finished running: its lease is still extended until it commits, its progress no longer recorded. */
  finished: boolean;
  /** A wait step's view of the waits: what it registered. */
  waits: TaskWaits | undefined;
  /**
   * Until when (this machine's clock) the lease surely holds: the time the claim, commit or
   * heartbeat that granted it was sent, plus the lease.
   */
  leaseUntil: number;
}

interface PendingCommit {
  entry: Running;
  workflow: CompiledWorkflow;
  outcome: StepTaskOutcome;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const light = (s: StepStateRecord): StepStateRecord => ({
  executionId: s.executionId,
  stepId: s.stepId,
  status: s.status,
  attempts: 0,
});

const TERMINAL_STEP: ReadonlySet<string> = new Set(['completed', 'failed', 'skipped', 'cancelled']);
const quietLogger: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** What a batch of commits does to waits: the waits its wait steps registered or took. */
function commitWaits(
  executionId: string,
  workflow: CompiledWorkflow,
  batch: readonly PendingCommit[],
): CommitWaits | undefined {
  const out: CommitWaits = { put: [], done: [] };
  for (const b of batch) {
    const step = workflow.stepById.get(b.outcome.stepId);
    if (step?.wait === undefined) continue;
    const rec = b.outcome.steps.find((s) => s.stepId === step.id);
    if (rec?.status === 'waiting') {
      for (const w of b.entry.waits?.registered ?? []) out.put.push({ wait: w, queue: queueOf(step) });
    } else if (rec !== undefined && TERMINAL_STEP.has(rec.status)) {
      out.done.push({ stepId: step.id, id: waitId(executionId, step.id) });
    }
  }
  return out.put.length > 0 || out.done.length > 0 ? out : undefined;
}

const key = (executionId: string, stepId: string) => `${executionId}\u0000${stepId}`;
/** Rounds of commits in flight at once (see `flushCommits`). */
const MAX_ROUNDS = 2;
/** A step holding its slot less than this on average lets the worker claim ahead. */
const SHORT_STEP_MS = 25;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const w = new WorkerProcess(options);
  await w.start();
  return w;
}

class WorkerProcess implements Worker {
  readonly id: string;
  readonly runner: StepTaskRunner;
  private readonly coordinator: Coordinator;
  private readonly store: PostgresStore;
  private readonly concurrency: number;
  private readonly queues: readonly string[];
  private readonly queueSet: ReadonlySet<string>;
  private readonly leaseMs: number;
  private readonly progressMs: number;
  private readonly logger: AgentLogger | undefined;
  private readonly lookBackMs: number;
  private readonly waits: WorkerWaits;
  /** Every step this worker holds a lease on: running, committing, or waiting for a slot. */
  private readonly active = new Map<string, Running>();
  /** Claimed steps waiting for one of the `concurrency` slots. */
  private readonly waiting: Running[] = [];
  /**
   * Steps a commit here released, waiting for a slot: they go before claimed ones, so an
   * execution under way finishes before new ones start (a dependent's start waits on the
   * steps ahead of it, not on every root claimed meanwhile).
   */
  private readonly released: Running[] = [];
  private runningSteps = 0;
  /**
   * How long a step holds a slot, on average (recent steps weigh more); undefined before the
   * first. Claiming ahead (more steps than free slots) pays only for short steps: steps that
   * take long (an LLM call) would sit leased here while another worker has nothing to do.
   */
  private slotMs: number | undefined;
  /** Outcomes given to `commit` and not committed yet. */
  private uncommitted = 0;
  /** Outcomes waiting for the next round of commits, by execution. */
  private readonly pendingCommits = new Map<string, PendingCommit[]>();
  /** Executions with a commit in flight. */
  private readonly committing = new Set<string>();
  private roundsInFlight = 0;
  /**
   * Per execution: full records (outputs) of its finished steps this worker committed or
   * read. Finished records do not change, so a step released here reads its dependencies'
   * outputs, and a commit that finishes the execution renders its outputs, without a read.
   */
  private readonly records = new Map<string, Map<string, StepStateRecord>>();
  /** Per execution: its state as of this worker's last claim or commit of it (see `remember`). */
  private readonly states = new Map<string, ExecutionState>();
  private readonly timers: NodeJS.Timeout[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly unlisten: (() => void)[] = [];
  private watcher: ExecutionWatcher | undefined;
  private filling = false;
  private fillAgain = false;
  private stopping = false;
  private sweeping = false;
  private beating = false;
  private sweeps = 0;
  stepsDone = 0;

  constructor(private readonly options: WorkerOptions) {
    this.id = options.id ?? randomUUID();
    this.store = options.store;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.queues =
      options.queues && options.queues.length > 0 ? [...new Set(options.queues)] : [DEFAULT_QUEUE];
    this.queueSet = new Set(this.queues);
    this.leaseMs = Math.max(100, options.leaseMs ?? 30_000);
    this.progressMs = options.progressMs ?? 200;
    this.logger = options.logger;
    this.lookBackMs = options.eventLookBackMs ?? DEFAULT_EVENT_LOOK_BACK_MS;
    this.runner = new StepTaskRunner({
      registry: options.registry,
      ...(options.env ? { env: options.env } : {}),
      ...(options.secretEnv ? { secretEnv: options.secretEnv } : {}),
      ...(options.journal ? { journal: options.journal } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.remoteAgent ? { remoteAgent: options.remoteAgent } : {}),
      ...(options.observers ? { observers: options.observers } : {}),
      ...(options.capabilities ? { capabilities: options.capabilities } : {}),
      eventLookBackMs: this.lookBackMs,
      runChild: (req) => this.runChild(req),
      onCircuit: (circuit) => {
        this.store
          .write([{ kind: 'circuit', circuit }])
          .catch((e) => this.report('persisting a circuit failed', e));
      },
    });
    this.coordinator = new Coordinator(this.store, this.runner);
    this.waits = new WorkerWaits({
      store: this.store,
      clock: this.runner.clock,
      logger: this.logger ?? quietLogger,
      lookBackMs: this.lookBackMs,
      pollMs: options.waitPollMs ?? 5000,
      adopt: (id) => this.coordinator.adopt(id),
    });
  }

  get running(): number {
    return this.runningSteps;
  }

  private claims = 0;
  private roundsDone = 0;

  stats(): CommitStats & { claims: number; rounds: number } {
    return { ...this.coordinator.queue.stats, claims: this.claims, rounds: this.roundsDone };
  }

  async start(): Promise<void> {
    const queue = this.coordinator.queue;
    this.runner.resilience.breakers.restore(await this.store.loadCircuits());
    await queue.register({
      id: this.id,
      host: hostname(),
      pid: process.pid,
      queues: [...this.queues],
      concurrency: this.concurrency,
      agents: this.options.registry.list().map((a) => a.id),
      startedAt: Date.now(),
    });
    this.unlisten.push(
      await this.store.listen(
        Channel.tasks,
        (q) => {
          if (this.queueSet.has(q)) this.fill();
        },
        () => this.fill(),
      ),
      await this.store.listen(Channel.stop, (id) => this.onStop(id)),
      await this.store.listen(Channel.cancel, () => void this.sweep(true)),
    );
    await this.waits.start();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    this.heartbeatTimer = setInterval(
      () => void this.beat(),
      this.options.heartbeatMs ?? Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.heartbeatTimer.unref();
    every(this.options.pollMs ?? 1000, () => this.fill());
    every(this.options.sweepMs ?? 1000, () => void this.sweep(false));
    this.fill();
  }

  // ---- claiming --------------------------------------------------------------------------

  private fill(): void {
    if (this.stopping) return;
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    // Steps that ran and wait for their commit count too, beyond twice the concurrency: a
    // worker whose commits fall behind takes no new work (what it would take would wait in
    // the same rounds); the queue holds it, for this worker later or for another one.
    const backlog = Math.max(0, this.uncommitted - 2 * this.concurrency);
    const free = this.concurrency - this.unfinished() - backlog;
    if (free <= 0) return;
    this.filling = true;
    this.fillAgain = false;
    this.claim(free).then(
      ({ entries, claimed }) => {
        this.filling = false;
        for (const e of entries) this.begin(e);
        if (claimed >= free || this.fillAgain) this.fill();
      },
      (error: unknown) => {
        this.filling = false;
        this.report('claiming steps failed', error);
      },
    );
  }

  /**
   * Leases ready steps of up to `n` executions and loads the step states each needs. The steps are
   * tracked (their leases extended by heartbeats) from the moment the claim returns, not
   * only once they start: loading a workflow may take long on a loaded machine, and a lease
   * that lapses meanwhile would hand the step to a second worker.
   */
  private async claim(n: number): Promise<{ entries: Running[]; claimed: number }> {
    const queue = this.coordinator.queue;
    this.claims++;
    const sentAt = Date.now();
    // Up to `n` executions' steps, and, when steps are short, more steps of those (a fan's)
    // up to twice the concurrency: the extra wait here for a slot, leased, and start as
    // slots free, without a claim's round trip in between.
    const ahead = this.claimsAhead() ? this.concurrency : 0;
    const tasks = await queue.claim(this.id, this.queues, n + ahead, this.leaseMs, {
      executions: n,
    });
    const entries: Running[] = [];
    for (const t of tasks) {
      const entry = this.track(t, sentAt + this.leaseMs);
      if (entry) entries.push(entry);
    }
    if (entries.length === 0) return { entries, claimed: tasks.length };
    try {
      for (const e of entries) if (!e.claimed.stop) this.remember(e.claimed.state);
      const workflows = await Promise.all(
        entries.map((e) =>
          this.coordinator.workflows.get(e.claimed.execution.definitionHash).catch(() => undefined),
        ),
      );
      // The claim returned each step's own state; those of the steps it reads come from the
      // finished records known here, or one read.
      const wanted = entries.map((e, i) => {
        const t = e.claimed;
        const records = this.records.get(t.executionId);
        const reads = workflows[i] ? stepReads(workflows[i], t.stepId).filter((id) => id !== t.stepId) : [];
        const known = reads.flatMap((id) => records?.get(id) ?? []);
        t.steps = [...t.steps, ...known];
        const knownIds = new Set(known.map((s) => s.stepId));
        return { executionId: t.executionId, stepIds: reads.filter((id) => !knownIds.has(id)) };
      });
      if (wanted.some((w) => w.stepIds.length > 0)) {
        const steps = await queue.stepsOf(wanted.filter((w) => w.stepIds.length > 0));
        entries.forEach(({ claimed: t }, i) => {
          const want = new Set(wanted[i]!.stepIds);
          const read = (steps.get(t.executionId) ?? []).filter((s) => want.has(s.stepId));
          t.steps = [...t.steps, ...read];
          this.keepRecords(t.executionId, read);
        });
      }
    } catch (error) {
      // Left to their leases.
      for (const e of entries) this.untrack(e);
      throw error;
    }
    return { entries, claimed: tasks.length };
  }

  /**
   * Holds a leased step. Undefined when this worker holds it already: its lease lapsed and
   * came back to this worker, which runs (or commits) it once, now under the new lease.
   */
  private track(claimed: ClaimedTask, leaseUntil: number): Running | undefined {
    const k = key(claimed.executionId, claimed.stepId);
    const current = this.active.get(k);
    if (current && !current.abandoned) {
      current.leaseUntil = Math.max(current.leaseUntil, leaseUntil);
      return undefined;
    }
    const entry: Running = {
      claimed,
      task: undefined,
      stop: claimed.stop,
      abandoned: false,
      finished: false,
      waits: undefined,
      leaseUntil,
    };
    this.active.set(k, entry);
    return entry;
  }

  private untrack(entry: Running): void {
    const k = key(entry.claimed.executionId, entry.claimed.stepId);
    if (this.active.get(k) === entry) this.active.delete(k);
  }

  /** Whether steps here are short enough to lease more of them than there are free slots. */
  private claimsAhead(): boolean {
    return this.slotMs !== undefined && this.slotMs < SHORT_STEP_MS;
  }

  private begin(entry: Running, released = false): void {
    if (this.runningSteps < this.concurrency) this.run(entry);
    else (released ? this.released : this.waiting).push(entry);
  }

  /**
   * Runs a step in one of the `concurrency` slots. The slot frees when its agent returns,
   * not when its result is committed: a commit waits for a flush of the WAL, and the next
   * step should not wait for it too.
   */
  private run(entry: Running): void {
    this.runningSteps++;
    let freed = false;
    const started = performance.now();
    const free = () => {
      if (freed) return;
      freed = true;
      this.runningSteps--;
      const ms = performance.now() - started;
      this.slotMs = this.slotMs === undefined ? ms : this.slotMs * 0.8 + ms * 0.2;
      const next = this.released.shift() ?? this.waiting.shift();
      if (next) this.run(next);
      else this.fill();
    };
    void this.execute(entry, free).finally(free);
  }

  /** Leased steps not finished running (those committing are not counted). */
  private unfinished(): number {
    let n = 0;
    for (const e of this.active.values()) if (!e.finished) n++;
    return n;
  }

  private async execute(entry: Running, free: () => void): Promise<void> {
    const t = entry.claimed;
    try {
      const workflow = await this.coordinator.workflows.get(t.execution.definitionHash);
      if (workflow.stepById.get(t.stepId)?.wait !== undefined) entry.waits = new TaskWaits(this.store.waits);
      const task = this.runner.prepare(
        workflow,
        t.execution,
        t.steps,
        t.stepId,
        stepReads(workflow, t.stepId),
        entry.waits,
      );
      entry.task = task;
      if (entry.stop) {
        const cancelled = await task.cancelled(entry.stop.reason);
        entry.finished = true;
        free();
        await this.commit(entry, workflow, cancelled);
        return;
      }
      // Fenced: an agent is not called under a lease that may have lapsed (heartbeats were
      // late): another worker may hold the step by now. Left to the lease, the step runs once.
      if (entry.abandoned) return;
      if (Date.now() >= entry.leaseUntil) {
        this.report(
          `step ${t.stepId} of execution ${t.executionId} not started: its lease may have lapsed`,
          new Orchestr8Error(ErrorCode.CANCELLED, 'lease lapsed before the step started'),
        );
        return;
      }
      const progress = new ProgressJournal(this.coordinator, t, task, this.progressMs, (e) =>
        this.report('publishing the progress of a step failed', e),
      );
      const outcome = await task.run();
      entry.finished = true;
      free();
      const flushed = await progress.stop();
      if (flushed > 0) outcome.journal = outcome.journal.slice(flushed);
      if (!entry.abandoned) await this.commit(entry, workflow, outcome);
    } catch (error) {
      // Left to its lease: once it expires the step runs again (here or elsewhere).
      this.report(`step ${t.stepId} of execution ${t.executionId} could not be run`, error);
    } finally {
      this.untrack(entry);
      this.fill();
    }
  }

  /**
   * Commits a step's outcome. Commits go in rounds: one round writes, in ONE statement (one
   * transaction, one WAL flush), the outcomes of every execution that finished steps since
   * the last round, each planned against the state this worker remembers of it (see
   * `TaskQueue.commitMany`); the next round gathers what finished meanwhile. An execution
   * has at most one commit in flight (the next one plans on its result), and its outcomes
   * that finish meanwhile go together in its next one. An execution the round cannot take
   * (nothing remembered, stopping, waits) or whose guard failed commits on its own.
   */
  private commit(entry: Running, workflow: CompiledWorkflow, outcome: StepTaskOutcome): Promise<void> {
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
          this.states.has(id) &&
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

  /** Commits one execution's outcomes on their own (see `commitBatch`), then lets its next ones go. */
  private commitAlone(executionId: string, batch: PendingCommit[]): void {
    this.commitBatch(executionId, batch)
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

  /** Steps released by a commit that this worker takes itself, out of one budget per round. */
  private selfBudget(): (c: CompiledStep) => boolean {
    // Released steps stay on this worker up to its concurrency in all, twice that when steps
    // are short (the extra wait here, leased): an execution's steps on one worker commit
    // without contending with another's.
    let slots = this.stopping ? 0 : (this.claimsAhead() ? 2 : 1) * this.concurrency - this.unfinished();
    return (c) => {
      if (slots <= 0 || !this.queueSet.has(queueOf(c))) return false;
      slots--;
      return true;
    };
  }

  /** One round: the outcomes of many executions in one statement. */
  private async commitRound(round: [string, PendingCommit[]][]): Promise<void> {
    const items = round.map(([id, batch]) => {
      const outcomes = batch.map((b) => b.outcome);
      const known = this.states.get(id)!;
      return {
        known,
        stepIds: batch.map((b) => b.entry.claimed.stepId),
        workflow: batch[0]!.workflow,
        input: () => ({ outcomes, takeSelf: this.selfBudget() }),
        full: () => this.fullSteps(id, known.steps),
      };
    });
    let results: (CommitResult | undefined)[];
    this.roundsDone++;
    const sentAt = Date.now();
    try {
      results = await this.coordinator.changeMany(items, this.id, this.leaseMs);
    } catch (error) {
      // Each commits on its own below, with retries.
      this.report('a round of commits failed', error);
      results = round.map(() => undefined);
    }
    round.forEach(([id, batch], i) => {
      const result = results[i];
      if (result?.status !== 'committed') {
        this.states.delete(id);
        this.commitAlone(id, batch);
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

  private async commitBatch(executionId: string, batch: PendingCommit[]): Promise<void> {
    const workflow = batch[0]!.workflow;
    const outcomes = batch.map((b) => b.outcome);
    const stepIds = batch.map((b) => b.entry.claimed.stepId);
    const waits = commitWaits(executionId, workflow, batch);
    for (let attempt = 1; ; attempt++) {
      const sentAt = Date.now();
      let result: CommitResult;
      try {
        result = await this.coordinator.change(
          executionId,
          { stepIds, owner: this.id },
          (locked) => {
            const held = new Set(locked.finishing);
            return {
              outcomes: outcomes.filter((o) => held.has(o.stepId)),
              takeSelf: this.selfBudget(),
            };
          },
          {
            leaseMs: this.leaseMs,
            withTasks: outcomes.some((o) => o.halt !== undefined),
            workflow,
            ...(this.states.has(executionId) ? { known: this.states.get(executionId)! } : {}),
            ...(waits ? { waits } : {}),
          },
        );
      } catch (error) {
        if (attempt >= 5 || this.stopping) throw error;
        await sleep(100 * 2 ** attempt);
        continue;
      }
      if (result.status !== 'committed') this.states.delete(executionId);
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
    this.coordinator.queue.stepsDone = this.stepsDone;
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
      this.states.delete(executionId);
      this.records.delete(executionId);
    } else {
      for (const o of outcomes) this.keepRecords(executionId, o.steps);
      this.keepRecords(executionId, result.plan.steps);
      const statuses = new Map<string, StepStateRecord>();
      for (const s of result.locked.steps) statuses.set(s.stepId, light(s));
      for (const s of result.plan.steps) statuses.set(s.stepId, light(s));
      state = {
        execution: result.locked.execution,
        journalSeq: result.lastSeq,
        steps: [...statuses.values()],
      };
      this.remember(state);
    }
    const self = result.plan.tasks.filter((p) => p.self);
    if (self.length === 0 || !state) {
      // Records are kept while the execution has steps here (outputs may be large).
      const committed = new Set(outcomes.map((o) => o.stepId));
      let here = false;
      for (const e of this.active.values())
        if (e.claimed.executionId === executionId && !committed.has(e.claimed.stepId)) here = true;
      if (!here) this.records.delete(executionId);
      return;
    }
    // Tracked at once (heartbeats extend their leases), started once their reads are known.
    const entries: Running[] = [];
    for (const p of self) {
      const entry = this.track(
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
        sentAt + this.leaseMs,
      );
      if (entry) entries.push(entry);
    }
    // Known without a read: finished steps committed or read here, what this commit wrote,
    // and the steps that just finished.
    const known = new Map<string, StepStateRecord>(this.records.get(executionId));
    for (const o of outcomes) for (const s of o.steps) known.set(s.stepId, s);
    for (const s of result.plan.steps) known.set(s.stepId, s);
    const missing = new Set<string>();
    for (const e of entries)
      for (const id of stepReads(workflow, e.claimed.stepId)) if (!known.has(id)) missing.add(id);
    if (missing.size > 0) {
      try {
        const read = await this.coordinator.queue.stepsOf([{ executionId, stepIds: [...missing] }]);
        for (const s of read.get(executionId) ?? []) known.set(s.stepId, s);
        this.keepRecords(executionId, read.get(executionId) ?? []);
      } catch (error) {
        // Left to their leases.
        for (const e of entries) this.untrack(e);
        throw error;
      }
    }
    const steps = [...known.values()];
    for (const e of entries) {
      e.claimed.steps = steps;
      this.begin(e, true);
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
        (await this.coordinator.queue.park(executionId, (steps) => {
          const ts = this.runner.clock.now();
          return {
            ts,
            elapsedMs: Math.max(0, ts - startedAt),
            type: EventType.executionWaiting,
            data: { steps },
          };
        }))
      )
        this.states.delete(executionId);
      for (const p of put) await this.waits.registered(p.wait);
    } catch (error) {
      // The waits are committed: timers are found by the next poll, events by their senders.
      this.report(`after the waits of execution ${executionId} were registered`, error);
    }
  }

  /** Keeps the newest known state of an execution (bounded: the oldest entries go first). */
  private remember(state: ExecutionState): void {
    const id = state.execution.id;
    const current = this.states.get(id);
    if (current && current.journalSeq > state.journalSeq) return;
    this.states.delete(id);
    this.states.set(id, state);
    if (this.states.size > 10_000) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
    }
  }

  /** Keeps the finished ones of `recs` (bounded like `states`). */
  private keepRecords(executionId: string, recs: Iterable<StepStateRecord>): void {
    let m = this.records.get(executionId);
    for (const r of recs) {
      if (!TERMINAL_STEP.has(r.status)) continue;
      if (!m) {
        m = new Map();
        this.records.set(executionId, m);
        if (this.records.size > 1_000) {
          const oldest = this.records.keys().next().value;
          if (oldest !== undefined) this.records.delete(oldest);
        }
      }
      m.set(r.stepId, r);
    }
  }

  /**
   * Every step's full record for a plan on `light` (the remembered statuses), or undefined
   * when some finished step's record is not known here. Steps not finished in `light` are
   * the ones being committed: their outcomes carry their records.
   */
  private fullSteps(executionId: string, light: readonly StepStateRecord[]): StepStateRecord[] | undefined {
    const m = this.records.get(executionId);
    const out: StepStateRecord[] = [];
    for (const s of light) {
      const r = m?.get(s.stepId);
      if (r && r.status === s.status) out.push(r);
      else if (!TERMINAL_STEP.has(s.status)) out.push(s);
      else return undefined;
    }
    return out;
  }

  // ---- heartbeats, stops, sweeps ---------------------------------------------------------

  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      const leases: { executionId: string; stepId: string }[] = [];
      const progress: {
        executionId: string;
        stepId: string;
        status: StepStateRecord['status'];
        attempts: number;
      }[] = [];
      const held = new Map<string, Running>();
      for (const e of this.active.values()) {
        if (e.abandoned) continue;
        const ids = { executionId: e.claimed.executionId, stepId: e.claimed.stepId };
        leases.push(ids);
        held.set(key(ids.executionId, ids.stepId), e);
        if (e.task && !e.finished) progress.push({ ...ids, ...e.task.progress() });
      }
      const sentAt = Date.now();
      const r = await this.coordinator.queue.heartbeat(this.id, leases, progress, this.leaseMs);
      for (const lost of r.lost) {
        const k = key(lost.executionId, lost.stepId);
        const e = held.get(k);
        held.delete(k);
        if (!e) continue;
        e.abandoned = true;
        e.task?.stop({
          status: 'cancelled',
          reason: 'lease lost to another worker',
          error: {
            name: 'Orchestr8Error',
            code: ErrorCode.CANCELLED,
            message: 'lease lost',
            retryable: false,
          },
        });
      }
      for (const e of held.values()) e.leaseUntil = Math.max(e.leaseUntil, sentAt + this.leaseMs);
      for (const [id, stop] of r.stops) this.applyStop(id, stop);
      for (const c of r.cancels) await this.coordinator.cancel(c.executionId, c.reason);
    } catch (error) {
      this.report('heartbeat failed', error);
    } finally {
      this.beating = false;
    }
  }

  private onStop(executionId: string): void {
    let mine = false;
    for (const e of this.active.values()) if (e.claimed.executionId === executionId) mine = true;
    if (!mine) return;
    this.coordinator.queue.stops([executionId]).then(
      (stops) => {
        for (const [id, stop] of stops) this.applyStop(id, stop);
      },
      (error: unknown) => this.report('reading a stop failed', error),
    );
  }

  private applyStop(executionId: string, stop: StopRecord): void {
    for (const e of this.active.values()) {
      if (e.claimed.executionId !== executionId || e.stop) continue;
      e.stop = stop;
      e.task?.stop(stop);
    }
  }

  /** Expired leases back to the queue; cancel requests and global timeouts applied. */
  private async sweep(cancelsOnly: boolean): Promise<void> {
    if (this.sweeping || this.stopping) return;
    this.sweeping = true;
    const queue = this.coordinator.queue;
    try {
      if (!cancelsOnly && (await queue.reclaimExpired()) > 0) this.fill();
      for (const c of await queue.unhandledCancels()) await this.coordinator.cancel(c.executionId, c.reason);
      if (cancelsOnly) return;
      for (const o of await queue.overdue()) await this.coordinator.timeout(o.id);
      if (++this.sweeps % 60 === 0) await queue.forgetDeadWorkers(Math.max(60_000, this.leaseMs * 4));
    } catch (error) {
      this.report('sweep failed', error);
    } finally {
      this.sweeping = false;
    }
  }

  // ---- sub-workflows -------------------------------------------------------------------

  private async runChild(req: {
    document: unknown;
    inputs: unknown;
    parentExecutionId: string;
    parentStepId: string;
    idempotencyKey: string;
    signal: AbortSignal;
  }): Promise<{ id: string; result: Promise<ExecutionResult> }> {
    // A step here does not know its execution's depth: count the chain of parents.
    const limit = this.runner.base.capabilities.maxWorkflowDepth;
    let depth = 1;
    let parent = (await this.store.getExecution(req.parentExecutionId))?.parentExecutionId;
    while (parent !== undefined && depth <= limit) {
      depth++;
      parent = (await this.store.getExecution(parent))?.parentExecutionId;
    }
    if (depth > limit) {
      throw new Orchestr8Error(
        ErrorCode.LIMIT_EXCEEDED,
        `sub-workflows nest ${depth} deep, beyond the limit of ${limit} ` +
          '(a workflow that calls itself?); the operator sets the limit with capabilities.maxWorkflowDepth',
        { retryable: false, details: { depth, limit } },
      );
    }
    const loaded = validateWorkflowObject(req.document, {
      knownAgents: this.options.registry.list().map((a) => a.id),
    });
    if (!loaded.ok || !loaded.workflow) {
      const first = loaded.diagnostics[0];
      throw new ValidationError(
        `sub-workflow is invalid: ${first ? `${first.pointer} ${first.message}` : 'unknown problem'}`,
        { details: loaded.diagnostics },
      );
    }
    const { id } = await this.coordinator.launch(loaded.workflow, {
      inputs: req.inputs ?? {},
      parentExecutionId: req.parentExecutionId,
      parentStepId: req.parentStepId,
      idempotencyKey: req.idempotencyKey,
    });
    if (!this.watcher) {
      this.watcher = new ExecutionWatcher(this.store, this.runner.bus);
      await this.watcher.start();
    }
    // The child's steps need free slots (here or on other workers) while this step waits.
    req.signal.addEventListener('abort', () => void this.coordinator.cancel(id, 'parent step stopped'), {
      once: true,
    });
    return { id, result: this.watcher.wait(id) };
  }

  // ---- stopping --------------------------------------------------------------------------

  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.waits.close();
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unlisten) u();
    const deadline = Date.now() + (options.graceMs ?? 5000);
    // Steps waiting for a slot go back to the queue; the heartbeat keeps the leases of
    // steps still finishing.
    for (const e of [...this.released.splice(0), ...this.waiting.splice(0)])
      this.active.delete(key(e.claimed.executionId, e.claimed.stepId));
    while (this.active.size > 0 && Date.now() < deadline) await sleep(20);
    clearInterval(this.heartbeatTimer);
    for (const e of this.active.values()) {
      e.abandoned = true;
      e.task?.stop({
        status: 'cancelled',
        reason: 'worker shutting down',
        error: {
          name: 'Orchestr8Error',
          code: ErrorCode.CANCELLED,
          message: 'worker shutting down',
          retryable: false,
        },
      });
    }
    this.watcher?.close();
    // Steps still running go back to the queue for another worker.
    await this.coordinator.queue.unregister(this.id).catch((e) => this.report('deregistering failed', e));
  }

  private report(message: string, error: unknown): void {
    if (this.stopping && error instanceof Orchestr8Error && error.code === ErrorCode.STORE) return;
    this.logger?.error(`worker ${this.id}: ${message}`, {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
