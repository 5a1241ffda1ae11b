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
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { type AgentLogger, DEFAULT_EVENT_LOOK_BACK_MS, queueOf, StepTaskRunner } from '@orchestr8/core';
import type { CompiledStep } from '@orchestr8/schema';
import { Channel, type ClaimedTask, type CommitStats, type PostgresStore } from '@orchestr8/store-postgres';
import { runChild } from './child-workflows.js';
import { CommitRounds } from './commit-rounds.js';
import { Coordinator } from './coordinator.js';
import { ExecutionMemory } from './execution-memory.js';
import { LeaseUpkeep } from './lease-upkeep.js';
import { key, type Running } from './leased-steps.js';
import { ProgressJournal } from './progress-journal.js';
import { stepReads } from './step-reads.js';
import { TaskWaits, WorkerWaits } from './task-waits.js';
import { ExecutionWatcher } from './watcher.js';
import { DEFAULT_QUEUE, type Worker, type WorkerOptions } from './worker-options.js';

/**
 * A step holding its slot less than this on average lets the worker claim ahead; and steps
 * its commits release stay here as long as they start within about this long.
 */
const SHORT_STEP_MS = 25;
/** Released steps held here at most, in multiples of the concurrency. */
const MAX_HELD = 8;

const quietLogger: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };
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
  /** What this worker remembers of the executions it claims and commits. */
  private readonly memory = new ExecutionMemory();
  private readonly commits: CommitRounds;
  private readonly upkeep: LeaseUpkeep;
  private readonly timers: NodeJS.Timeout[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private giveBackTimer: NodeJS.Timeout | undefined;
  /** When steps started in the last SHORT_STEP_MS (performance.now()): how fast they start. */
  private readonly starts: number[] = [];
  /** Held steps given back to the queue unstarted. */
  private givenBack = 0;
  private readonly unlisten: (() => void)[] = [];
  private watcher: ExecutionWatcher | undefined;
  private filling = false;
  private fillAgain = false;
  private stopping = false;
  private claims = 0;

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
      runChild: (req) =>
        runChild(
          {
            store: this.store,
            runner: this.runner,
            coordinator: this.coordinator,
            registry: options.registry,
            watcher: () => this.startWatcher(),
          },
          req,
        ),
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
    const host = {
      id: this.id,
      leaseMs: this.leaseMs,
      coordinator: this.coordinator,
      active: this.active,
      stopping: () => this.stopping,
      fill: () => this.fill(),
      report: (message: string, error: unknown) => this.report(message, error),
    };
    this.upkeep = new LeaseUpkeep(host);
    this.commits = new CommitRounds(
      {
        ...host,
        waits: this.waits,
        clock: this.runner.clock,
        track: (claimed, leaseUntil) => this.track(claimed, leaseUntil),
        untrack: (entry) => this.untrack(entry),
        begin: (entry, released) => this.begin(entry, released),
        selfBudget: () => this.selfBudget(),
      },
      this.memory,
    );
  }

  get running(): number {
    return this.runningSteps;
  }

  /** Steps whose results this worker committed. */
  get stepsDone(): number {
    return this.commits.stepsDone;
  }

  stats(): CommitStats & { claims: number; rounds: number; givenBack: number } {
    return {
      ...this.coordinator.queue.stats,
      claims: this.claims,
      rounds: this.commits.rounds,
      givenBack: this.givenBack,
    };
  }

  private async startWatcher(): Promise<ExecutionWatcher> {
    if (!this.watcher) {
      this.watcher = new ExecutionWatcher(this.store, this.runner.bus);
      await this.watcher.start();
    }
    return this.watcher;
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
      await this.store.listen(Channel.stop, (id) => this.upkeep.onStop(id)),
      await this.store.listen(Channel.cancel, () => void this.upkeep.sweep(true)),
    );
    await this.waits.start();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    this.heartbeatTimer = setInterval(
      () => void this.upkeep.beat(),
      this.options.heartbeatMs ?? Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.heartbeatTimer.unref();
    every(this.options.pollMs ?? 1000, () => this.fill());
    every(this.options.sweepMs ?? 1000, () => void this.upkeep.sweep(false));
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
    const backlog = Math.max(0, this.commits.uncommitted - 2 * this.concurrency);
    const free = this.concurrency - this.unfinished() - backlog;
    if (free <= 0) return;
    this.filling = true;
    this.fillAgain = false;
    this.claim(free).then(
      ({ entries, claimed }) => {
        this.filling = false;
        // A claim that returns once the worker stops (its tasks given back to the queue
        // meanwhile, perhaps before this claim leased them): its steps go back too.
        if (this.stopping) {
          this.toQueue(entries);
          return;
        }
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
      for (const e of entries) if (!e.claimed.stop) this.memory.remember(e.claimed.state);
      const workflows = await Promise.all(
        entries.map((e) =>
          this.coordinator.workflows.get(e.claimed.execution.definitionHash).catch(() => undefined),
        ),
      );
      // The claim returned each step's own state; those of the steps it reads come from the
      // finished records known here, or one read.
      const wanted = entries.map((e, i) => {
        const t = e.claimed;
        const records = this.memory.recordsOf(t.executionId);
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
          this.memory.keepRecords(t.executionId, read);
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
      heldAt: undefined,
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
    if (this.runningSteps < this.concurrency) {
      this.run(entry);
      return;
    }
    entry.heldAt = performance.now();
    (released ? this.released : this.waiting).push(entry);
    this.giveBackLater();
  }

  /**
   * Held steps (leased, waiting for a slot) are kept only as long as steps start soon: one
   * that has waited SHORT_STEP_MS goes back to the queue, at once ready for another worker,
   * unless as many steps started here in the last SHORT_STEP_MS as are ahead of it.
   * Shortness is judged from past steps; the steps holding the slots may be slow.
   */
  private giveBackLater(): void {
    if (this.giveBackTimer || this.stopping) return;
    const oldest = Math.min(this.released[0]?.heldAt ?? Infinity, this.waiting[0]?.heldAt ?? Infinity);
    if (oldest === Infinity) return;
    // Not sooner than a fifth of it: held steps that stay are looked at again, not polled.
    const wait = Math.max(SHORT_STEP_MS / 5, oldest + SHORT_STEP_MS - performance.now());
    this.giveBackTimer = setTimeout(() => {
      this.giveBackTimer = undefined;
      // As many as started in the last SHORT_STEP_MS are likely to start in the next: those
      // stay (on a loaded machine short steps start late, yet they do start); the others go.
      const due = performance.now() - SHORT_STEP_MS;
      while (this.starts.length > 0 && this.starts[0]! <= due) this.starts.shift();
      let stay = this.starts.length;
      this.giveBack((e) => stay-- <= 0 && (e.heldAt ?? 0) <= due);
      this.giveBackLater();
    }, wait);
    this.giveBackTimer.unref();
  }

  /** Returns the held steps `which` picks to the queue, asked in the order they would start. */
  private giveBack(which: (e: Running) => boolean): void {
    const back: Running[] = [];
    for (const held of [this.released, this.waiting]) {
      const kept: Running[] = [];
      for (const e of held) (which(e) ? back : kept).push(e);
      held.splice(0, held.length, ...kept);
    }
    this.givenBack += back.length;
    this.toQueue(back);
  }

  /** Steps leased here and not started, back to the queue at once, ready for any worker. */
  private toQueue(back: readonly Running[]): void {
    if (back.length === 0) return;
    for (const e of back) {
      e.abandoned = true;
      this.untrack(e);
    }
    for (const id of new Set(back.map((e) => e.claimed.executionId)))
      if (![...this.active.values()].some((e) => e.claimed.executionId === id)) this.memory.forgetRecords(id);
    // Should this fail, the leases lapse and a sweep returns the steps to the queue.
    this.coordinator.queue
      .release(
        this.id,
        back.map((e) => ({ executionId: e.claimed.executionId, stepId: e.claimed.stepId })),
      )
      .catch((error: unknown) => this.report('giving back held steps failed', error));
  }

  /**
   * Runs a step in one of the `concurrency` slots. The slot frees when its agent returns,
   * not when its result is committed: a commit waits for a flush of the WAL, and the next
   * step should not wait for it too.
   */
  private run(entry: Running): void {
    this.runningSteps++;
    const now = performance.now();
    this.starts.push(now);
    while (this.starts[0]! <= now - SHORT_STEP_MS) this.starts.shift();
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
      // Steps turned out slow: those still held would wait a step's time or more here.
      if (!this.claimsAhead()) this.giveBack(() => true);
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
        await this.commits.commit(entry, workflow, cancelled);
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
      if (!entry.abandoned) await this.commits.commit(entry, workflow, outcome);
    } catch (error) {
      // Left to its lease: once it expires the step runs again (here or elsewhere).
      this.report(`step ${t.stepId} of execution ${t.executionId} could not be run`, error);
    } finally {
      this.untrack(entry);
      this.fill();
    }
  }

  /** Steps released by a commit that this worker takes itself, out of one budget per round. */
  private selfBudget(): (c: CompiledStep) => boolean {
    let slots = this.stopping ? 0 : this.holdLimit() - this.unfinished();
    return (c) => {
      if (slots <= 0 || !this.queueSet.has(queueOf(c))) return false;
      slots--;
      return true;
    };
  }

  /**
   * How many steps not finished running this worker holds at most when its commits release
   * more: its concurrency, and when steps are short, as many more as start within about
   * SHORT_STEP_MS (up to MAX_HELD times the concurrency). An execution's steps kept on one
   * worker commit without contending with another worker's commits of it, and start without
   * a claim; steps that take long go to the queue for whichever worker is free.
   */
  private holdLimit(): number {
    if (!this.claimsAhead() || this.slotMs === undefined) return this.concurrency;
    const ahead = Math.floor((this.concurrency * SHORT_STEP_MS) / Math.max(this.slotMs, 0.001));
    return this.concurrency + Math.max(this.concurrency, Math.min((MAX_HELD - 1) * this.concurrency, ahead));
  }

  // ---- stopping --------------------------------------------------------------------------

  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.waits.close();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.giveBackTimer);
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
