import type { Clock, TimerHandle } from '@orchestr8/common';
import type { CompiledFlowControl } from '@orchestr8/schema';

/**
 * Flow control of one trigger, driven by the injected clock:
 * debounce or batch -> rate limit per key -> concurrency limit per key with a queue.
 * Everything here is in memory and per process: a restart forgets pending debounces,
 * batches and queues (documented).
 */

/** What a trigger carries into templates as `${trigger.*}`. */
export interface TriggerContext {
  name: string;
  kind: 'schedule' | 'webhook' | 'event' | 'manual';
  /** ISO-8601: the scheduled fire time, or when the request or event arrived. */
  time: string;
  timestamp: number;
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  deliveryId?: string;
  event?: { name: string; id: string; data: unknown };
  /** Batched firings, oldest first. */
  batch?: TriggerContext[];
  [key: string]: unknown;
}

export interface Prepared {
  inputs: unknown;
  /** Rendered concurrency key ('' when none). */
  concurrencyKey: string;
  rateKey: string;
}

export type Outcome =
  | { status: 'started'; executionId: string; created: boolean }
  | { status: 'queued' | 'debounced' | 'batched' }
  | { status: 'dropped'; reason: 'rate_limited' | 'queue_full' | 'skipped'; retryAfterMs?: number }
  /** `code`: the error's own code when it carries one (e.g. EXPRESSION for a template without a value). */
  | { status: 'failed'; error: string; code?: string };

export interface Started {
  executionId: string;
  created: boolean;
  /** Settles when the execution ends (or is known not to run here). */
  done: Promise<unknown>;
}

export interface FlowControlOptions {
  flow: CompiledFlowControl | undefined;
  clock: Clock;
  /** Renders the inputs and keys of a firing; throws when they cannot be rendered. */
  prepare(ctx: TriggerContext): Prepared;
  start(ctx: TriggerContext, prepared: Prepared): Promise<Started>;
  /**
   * Called for outcomes decided later (debounce, batch, queue), and for every `failed` one,
   * also when `submit` returns it: a firing that could not start is reported here, not only
   * to its caller.
   */
  onOutcome?(ctx: TriggerContext, outcome: Outcome): void;
}

/** What `close` discarded: firings that will not start (flow control lives in memory). */
export interface Discarded {
  queued: number;
  debounced: number;
  /** Firings in batches being collected. */
  batched: number;
}

export interface FlowStats {
  running: number;
  queued: number;
  dropped: number;
  /** Firings that started no execution because of an error (inputs or keys not rendered, the start threw). */
  failed: number;
}

const failure = (e: unknown): Outcome => {
  const code = (e as { code?: unknown } | undefined)?.code;
  return {
    status: 'failed',
    error: (e as Error)?.message ?? String(e),
    ...(typeof code === 'string' ? { code } : {}),
  };
};

export class FlowControl {
  private readonly running = new Map<string, number>();
  /** `slot`: the time the firing took in its rate window when it was admitted (see `admit`). */
  private readonly queues = new Map<string, { ctx: TriggerContext; prepared: Prepared; slot?: number }[]>();
  /** Admission times per rate key, oldest first (see `admit`). */
  private readonly windows = new Map<string, number[]>();
  private readonly debounces = new Map<string, { ctx: TriggerContext; timer: TimerHandle }>();
  private readonly batches = new Map<string, { items: TriggerContext[]; timer: TimerHandle }>();
  dropped = 0;
  failed = 0;

  constructor(private o: FlowControlOptions) {}

  /**
   * A new version's limits; what runs and waits now is kept and counted against them, and
   * as many waiting firings start as the new limits allow now.
   */
  update(flow: CompiledFlowControl | undefined): void {
    this.o.flow = flow;
    this.drain();
  }

  /**
   * A new version of the trigger: its limits, and how firings are prepared and started from
   * now on. What runs and waits is kept: running executions still count against the limit,
   * and queued, debounced and batched firings start with the new version when their turn comes.
   */
  retarget(options: FlowControlOptions): void {
    this.o = options;
    // Queued firings are prepared again by the new version (its inputs and keys), then as
    // many start as its limits allow now (none, a higher limit: all or more of them).
    const waiting = [...this.queues.values()].flat();
    this.queues.clear();
    for (const e of waiting) {
      let prepared: Prepared;
      try {
        prepared = options.prepare(e.ctx);
      } catch (err) {
        this.giveBack(e.prepared.rateKey, e.slot);
        this.report(e.ctx, failure(err));
        continue;
      }
      const q = this.queues.get(prepared.concurrencyKey) ?? [];
      q.push({ ctx: e.ctx, prepared, ...(e.slot !== undefined ? { slot: e.slot } : {}) });
      this.queues.set(prepared.concurrencyKey, q);
    }
    this.drain();
  }

  /**
   * Starts waiting firings while their key is under the limit: after new limits, a higher
   * one or none (a firing started without a limit releases no other when it ends, so the
   * queue would otherwise wait for good).
   */
  private drain(): void {
    const limit = this.o.flow?.concurrency?.limit ?? Number.POSITIVE_INFINITY;
    for (const [key, q] of this.queues) {
      // run() counts the start at once, before it awaits: the loop sees each one.
      while (q.length > 0 && (this.running.get(key) ?? 0) < limit) {
        const next = q.shift()!;
        void this.run(next.ctx, next.prepared, next.slot).then((outcome) => this.report(next.ctx, outcome));
      }
      if (q.length === 0) this.queues.delete(key);
    }
  }

  stats(): FlowStats {
    let running = 0;
    let queued = 0;
    for (const n of this.running.values()) running += n;
    for (const q of this.queues.values()) queued += q.length;
    return { running, queued, dropped: this.dropped, failed: this.failed };
  }

  /** Executions of this trigger running per concurrency key (for tests and listings). */
  runningByKey(): Record<string, number> {
    return Object.fromEntries(this.running);
  }

  /** Takes a firing out of its queue (its requester went away); false when it is not waiting. */
  withdraw(ctx: TriggerContext): boolean {
    for (const [key, q] of this.queues) {
      const i = q.findIndex((e) => e.ctx === ctx);
      if (i < 0) continue;
      const [e] = q.splice(i, 1);
      if (q.length === 0) this.queues.delete(key);
      this.giveBack(e!.prepared.rateKey, e!.slot);
      return true;
    }
    return false;
  }

  /** Ends pending timers (debounce, batch) without starting anything; says what it discarded. */
  close(): Discarded {
    let queued = 0;
    let batched = 0;
    for (const q of this.queues.values()) queued += q.length;
    for (const d of this.debounces.values()) d.timer.cancel();
    for (const b of this.batches.values()) {
      b.timer.cancel();
      batched += b.items.length;
    }
    const debounced = this.debounces.size;
    this.debounces.clear();
    this.batches.clear();
    this.queues.clear();
    return { queued, debounced, batched };
  }

  async submit(ctx: TriggerContext): Promise<Outcome> {
    const outcome = await this.submitNow(ctx);
    // Decided now, told to the caller, and reported like the outcomes decided later.
    if (outcome.status === 'failed') this.report(ctx, outcome);
    return outcome;
  }

  /** An outcome decided after `submit` returned, or a failure: counted and passed to `onOutcome`. */
  private report(ctx: TriggerContext, outcome: Outcome): void {
    if (outcome.status === 'failed') this.failed++;
    this.o.onOutcome?.(ctx, outcome);
  }

  private async submitNow(ctx: TriggerContext): Promise<Outcome> {
    const flow = this.o.flow;
    let prepared: Prepared;
    try {
      // A batched firing is prepared as a batch of one, for its key (the batch is prepared again).
      prepared = this.o.prepare(flow?.batch ? { ...ctx, batch: [ctx] } : ctx);
    } catch (e) {
      return failure(e);
    }
    const group = prepared.concurrencyKey || prepared.rateKey;
    if (flow?.debounceMs !== undefined) {
      const prev = this.debounces.get(group);
      prev?.timer.cancel();
      const timer = this.o.clock.setTimeout(() => {
        this.debounces.delete(group);
        void this.later(ctx);
      }, flow.debounceMs);
      this.debounces.set(group, { ctx, timer });
      return { status: 'debounced' };
    }
    if (flow?.batch) {
      let b = this.batches.get(group);
      if (!b) {
        const timer = this.o.clock.setTimeout(() => this.flush(group), flow.batch.maxMs);
        b = { items: [], timer };
        this.batches.set(group, b);
      }
      b.items.push(ctx);
      if (b.items.length >= flow.batch.maxEvents) this.flush(group);
      return { status: 'batched' };
    }
    return this.admit(ctx, prepared);
  }

  private flush(group: string): void {
    const b = this.batches.get(group);
    if (!b) return;
    this.batches.delete(group);
    b.timer.cancel();
    const last = b.items[b.items.length - 1]!;
    void this.later({ ...last, batch: b.items });
  }

  /** A firing released by debounce or batch: prepared again (a batch changes the inputs). */
  private async later(ctx: TriggerContext): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.admit(ctx, this.o.prepare(ctx));
    } catch (e) {
      outcome = failure(e);
    }
    this.report(ctx, outcome);
  }

  private async admit(ctx: TriggerContext, prepared: Prepared): Promise<Outcome> {
    const flow = this.o.flow;
    // The rate limit counts firings admitted per window: started, or queued to start (a queued
    // one took its slot when admitted and takes no other when it starts, so a slow queue
    // cannot hold slots past their window). A firing refused (queue full), withdrawn from its
    // queue, or whose start fails gives its slot back.
    let slot: number | undefined;
    if (flow?.rateLimit) {
      const now = this.o.clock.now();
      const since = now - flow.rateLimit.perMs;
      const w = (this.windows.get(prepared.rateKey) ?? []).filter((t) => t > since);
      this.windows.set(prepared.rateKey, w);
      if (w.length >= flow.rateLimit.limit) {
        this.dropped++;
        // The oldest admission in the window leaves it first.
        return {
          status: 'dropped',
          reason: 'rate_limited',
          retryAfterMs: w[0]! + flow.rateLimit.perMs - now,
        };
      }
      // Taken before the start is awaited: firings admitted meanwhile see it.
      w.push(now);
      slot = now;
    }
    if (flow?.concurrency) {
      const key = prepared.concurrencyKey;
      if ((this.running.get(key) ?? 0) >= flow.concurrency.limit) {
        const q = this.queues.get(key) ?? [];
        if (q.length >= flow.concurrency.maxQueue) {
          this.giveBack(prepared.rateKey, slot);
          this.dropped++;
          return { status: 'dropped', reason: 'queue_full' };
        }
        q.push({ ctx, prepared, ...(slot !== undefined ? { slot } : {}) });
        this.queues.set(key, q);
        return { status: 'queued' };
      }
    }
    return this.run(ctx, prepared, slot);
  }

  /** Takes a firing's slot out of its rate window (it started nothing). */
  private giveBack(rateKey: string, slot: number | undefined): void {
    if (slot === undefined) return;
    const w = this.windows.get(rateKey);
    const i = w?.lastIndexOf(slot) ?? -1;
    if (i >= 0) w!.splice(i, 1);
  }

  private async run(ctx: TriggerContext, prepared: Prepared, slot: number | undefined): Promise<Outcome> {
    const key = prepared.concurrencyKey;
    const limited = this.o.flow?.concurrency !== undefined;
    if (limited) this.running.set(key, (this.running.get(key) ?? 0) + 1);
    let started: Started;
    try {
      started = await this.o.start(ctx, prepared);
    } catch (e) {
      // No execution started: its slot of the window is given back.
      this.giveBack(prepared.rateKey, slot);
      if (limited) this.release(key);
      return failure(e);
    }
    if (limited) void started.done.finally(() => this.release(key));
    return { status: 'started', executionId: started.executionId, created: started.created };
  }

  private release(key: string): void {
    const n = (this.running.get(key) ?? 1) - 1;
    if (n > 0) this.running.set(key, n);
    else this.running.delete(key);
    const q = this.queues.get(key);
    const next = q?.shift();
    if (q && q.length === 0) this.queues.delete(key);
    if (!next) return;
    void this.run(next.ctx, next.prepared, next.slot).then((outcome) => this.report(next.ctx, outcome));
  }
}
