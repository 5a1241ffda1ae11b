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
import { GiveBack } from './give-back.js';
import { holdLimit, shortStepMs } from './hold-budget.js';
import { LeaseUpkeep } from './lease-upkeep.js';
import { key, type Running } from './leased-steps.js';
import { type ClaimHost, claimSteps } from './step-claims.js';
import { executeStep, type RunHost } from './step-runs.js';
import { StepSlots } from './step-slots.js';
import { WorkerWaits } from './task-waits.js';
import { ExecutionWatcher } from './watcher.js';
import { DEFAULT_QUEUE, type Worker, type WorkerOptions } from './worker-options.js';

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
  /** Steps holding a slot less than this on average are short (see `hold-budget.ts`). */
  private readonly shortMs: number;
  private readonly queues: readonly string[];
  private readonly queueSet: ReadonlySet<string>;
  private readonly leaseMs: number;
  private readonly progressMs: number;
  private readonly logger: AgentLogger | undefined;
  private readonly lookBackMs: number;
  private readonly waits: WorkerWaits;
  /** Every step this worker holds a lease on: running, committing, or waiting for a slot. */
  private readonly active = new Map<string, Running>();
  /** What this worker remembers of the executions it claims and commits. */
  private readonly memory = new ExecutionMemory();
  private readonly commits: CommitRounds;
  private readonly upkeep: LeaseUpkeep;
  /** The `concurrency` slots, and the steps leased here waiting for one. */
  private readonly slots: StepSlots;
  private readonly giveBacks: GiveBack;
  private readonly claimHost: ClaimHost;
  private readonly runHost: RunHost;
  private readonly timers: NodeJS.Timeout[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly unlisten: (() => void)[] = [];
  private watcher: ExecutionWatcher | undefined;
  private filling = false;
  private fillAgain = false;
  /**
   * Bumped by every sign of new work in the queue (a notification, the poll, reclaimed
   * leases); `emptyAt` is its value when a claim last found nothing, at `emptySince`. While
   * they are equal, for up to `shortMs`, a freed slot does not claim: every task put in the
   * queue is announced, and an empty claim per finished step (on every worker) was most of
   * a busy queue's claims. Not for longer: a ready task another claim had locked for a
   * moment (and left) is announced by nothing.
   */
  private news = 0;
  private emptyAt = -1;
  private emptySince = 0;
  private stopping = false;
  private claims = 0;

  constructor(private readonly options: WorkerOptions) {
    this.id = options.id ?? randomUUID();
    this.store = options.store;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.shortMs = shortStepMs(options.shortStepMs);
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
    // Leases it reclaimed put steps back in the queue.
    this.upkeep = new LeaseUpkeep({ ...host, fill: () => this.fillNews() });
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
    this.slots = new StepSlots({
      concurrency: this.concurrency,
      shortMs: this.shortMs,
      execute: (entry, free) => this.execute(entry, free),
      fill: () => this.fill(),
      giveBack: (which) => this.giveBack(which),
      giveBackLater: () => this.giveBackLater(),
    });
    const held = { ...host, memory: this.memory, untrack: (entry: Running) => this.untrack(entry) };
    this.giveBacks = new GiveBack({
      ...held,
      shortMs: this.shortMs,
      released: this.slots.released,
      waiting: this.slots.waiting,
      starts: this.slots.starts,
    });
    this.claimHost = {
      ...held,
      queues: this.queues,
      concurrency: this.concurrency,
      claimsAhead: () => this.claimsAhead(),
      track: (claimed, leaseUntil) => this.track(claimed, leaseUntil),
    };
    this.runHost = {
      ...held,
      store: this.store,
      runner: this.runner,
      progressMs: this.progressMs,
      commit: (entry, workflow, outcome) => this.commits.commit(entry, workflow, outcome),
    };
  }

  get running(): number {
    return this.slots.runningSteps;
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
      givenBack: this.giveBacks.givenBack,
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
          if (this.queueSet.has(q)) this.fillNews();
        },
        () => this.fillNews(),
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
    every(this.options.pollMs ?? 1000, () => this.fillNews());
    every(this.options.sweepMs ?? 1000, () => void this.upkeep.sweep(false));
    this.fill();
  }

  // ---- claiming --------------------------------------------------------------------------

  /** There may be new work in the queue: claim it if there is room. */
  private fillNews(): void {
    this.news++;
    this.fill();
  }

  private fill(): void {
    if (this.stopping) return;
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    if (this.emptyAt === this.news && performance.now() - this.emptySince < this.shortMs) return;
    // Steps that ran and wait for their commit count too, beyond twice the concurrency: a
    // worker whose commits fall behind takes no new work (what it would take would wait in
    // the same rounds); the queue holds it, for this worker later or for another one.
    const backlog = Math.max(0, this.commits.uncommitted - 2 * this.concurrency);
    const free = this.concurrency - this.unfinished() - backlog;
    if (free <= 0) return;
    this.filling = true;
    this.fillAgain = false;
    const news = this.news;
    this.claim(free).then(
      ({ entries, claimed }) => {
        this.filling = false;
        if (claimed === 0) {
          this.emptyAt = news;
          this.emptySince = performance.now();
        }
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

  /** Leases ready steps of up to `n` executions (see `claimSteps`). */
  private claim(n: number): Promise<{ entries: Running[]; claimed: number }> {
    this.claims++;
    return claimSteps(this.claimHost, n);
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

  private claimsAhead(): boolean {
    return this.slots.claimsAhead();
  }

  private begin(entry: Running, released = false): void {
    this.slots.begin(entry, released);
  }

  /** Gives back, in a while, the held steps that do not start soon (see `GiveBack`). */
  private giveBackLater(): void {
    this.giveBacks.giveBackLater();
  }

  private giveBack(which: (e: Running) => boolean): void {
    this.giveBacks.giveBack(which);
  }

  private toQueue(back: readonly Running[]): void {
    this.giveBacks.toQueue(back);
  }

  /** Leased steps not finished running (those committing are not counted). */
  private unfinished(): number {
    let n = 0;
    for (const e of this.active.values()) if (!e.finished) n++;
    return n;
  }

  private execute(entry: Running, free: () => void): Promise<void> {
    return executeStep(this.runHost, entry, free);
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

  /** How many steps not finished running this worker holds at most (see `holdLimit`). */
  private holdLimit(): number {
    return holdLimit(this.concurrency, this.slots.slotMs, this.shortMs);
  }

  // ---- stopping --------------------------------------------------------------------------

  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.waits.close();
    for (const t of this.timers) clearInterval(t);
    this.giveBacks.stop();
    for (const u of this.unlisten) u();
    const deadline = Date.now() + (options.graceMs ?? 5000);
    // Steps waiting for a slot go back to the queue; the heartbeat keeps the leases of
    // steps still finishing.
    for (const e of [...this.slots.released.splice(0), ...this.slots.waiting.splice(0)])
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
