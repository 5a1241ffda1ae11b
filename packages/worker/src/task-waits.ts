/**
 * Waits on workers. A wait step runs like any step: a worker claims its task and runs it
 * (`runWaitStep`), which either ends at once (a late timer, an event already in the inbox,
 * an outcome a wake left) or registers a wait. The registered wait is not written then but
 * in the commit that records the step `waiting` and deletes its task (`CommitWaits`): a
 * wake can only find a wait whose step holds no task, and the claim that wakes it inserts
 * the task again (`PostgresWaits.claimWait`). The step that takes the outcome deletes the
 * wait in its own commit, so a worker dying in between leaves the outcome to take again.
 *
 * Each worker also fires due timers (any worker may: the claim is versioned, one wins) and
 * re-reads the inbox after registering an event wait, for events that arrived between the
 * step's look in the inbox and its commit (their senders did not see the wait yet).
 */
import type { Clock } from '@orchestr8/common';
import {
  type AgentLogger,
  createWaitService,
  offerRecentEvents,
  type WaitEvent,
  type WaitQuery,
  type WaitRecord,
  type WaitService,
  type WaitStore,
} from '@orchestr8/core';
import { Channel, type PostgresStore } from '@orchestr8/store-postgres';

/**
 * The waits a wait step sees while a worker runs it: reads go to the database; the wait it
 * registers is kept for the commit; deleting is left to the commit too.
 */
export class TaskWaits implements WaitStore {
  /** The waits the step registered (at most one), for its commit. */
  readonly registered: WaitRecord[] = [];

  constructor(private readonly inner: WaitStore) {}

  async putWait(w: WaitRecord): Promise<void> {
    this.registered.push(structuredClone(w));
  }
  async deleteWait(_id: string): Promise<void> {}
  getWait(id: string) {
    return this.inner.getWait(id);
  }
  dueWaits(now: number, limit?: number) {
    return this.inner.dueWaits(now, limit);
  }
  nextDueAt() {
    return this.inner.nextDueAt();
  }
  waitsForEvent(name: string) {
    return this.inner.waitsForEvent(name);
  }
  listWaits(query?: WaitQuery) {
    return this.inner.listWaits(query);
  }
  claimWait(id: string, version: number, next: WaitRecord) {
    return this.inner.claimWait(id, version, next);
  }
  takeWaitingExecution(executionId: string, at: number) {
    return this.inner.takeWaitingExecution(executionId, at);
  }
  putEvent(event: WaitEvent) {
    return this.inner.putEvent(event);
  }
  recentEvents(name: string, since: number) {
    return this.inner.recentEvents(name, since);
  }
  pruneEvents(before: number) {
    return this.inner.pruneEvents(before);
  }
  waitingCancels() {
    return this.inner.waitingCancels();
  }
}

export interface WorkerWaitsOptions {
  store: PostgresStore;
  clock: Clock;
  logger: AgentLogger;
  lookBackMs: number;
  pollMs: number;
  /** Resumes an execution an in-process engine left waiting (its timer fired here). */
  adopt: (executionId: string) => Promise<unknown>;
}

/** A worker's part in waking waits: timers, and the inbox re-read after a registration. */
export class WorkerWaits {
  private readonly service: WaitService;
  private unlisten: (() => void) | undefined;

  constructor(private readonly o: WorkerWaitsOptions) {
    this.service = createWaitService({
      store: o.store,
      clock: o.clock,
      logger: o.logger,
      lookBackMs: o.lookBackMs,
      pollMs: o.pollMs,
      resume: o.adopt,
      // A worker holds no execution in memory: woken waits of distributed executions got
      // their tasks with the claim; an in-process one is taken and adopted.
      wakeLive: () => false,
      isLive: () => false,
    });
  }

  async start(): Promise<void> {
    // Timers registered by other workers: scheduled here too, so one firing on time does
    // not depend on the worker that registered it staying alive.
    this.unlisten = await this.o.store.listen(
      Channel.waits,
      (payload) => {
        const dueAt = Number(payload);
        if (Number.isFinite(dueAt)) this.service.registered({ dueAt } as WaitRecord);
      },
      () => this.service.start(),
    );
    this.service.start();
  }

  /** After the commit that registered `w`: tells every worker of its due time, re-reads the inbox. */
  async registered(w: WaitRecord): Promise<void> {
    if (w.dueAt !== undefined) {
      this.service.registered(w);
      this.o.store.notify(Channel.waits, String(w.dueAt));
    }
    if (w.events !== undefined) await this.redeliver(w);
  }

  /** Offers the inbox's recent events of the wait's names to it (each claim versioned: once). */
  private async redeliver(w: WaitRecord): Promise<void> {
    const ws = this.o.store.waits;
    const since = w.createdAt - this.o.lookBackMs;
    await offerRecentEvents(ws, w, since, () => this.o.clock.now());
  }

  close(): void {
    this.unlisten?.();
    this.service.close();
  }
}
