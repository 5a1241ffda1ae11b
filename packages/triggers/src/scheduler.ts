import { randomUUID } from 'node:crypto';
import { systemClock, type TimerHandle } from '@orchestr8/common';
import {
  type CompiledTrigger,
  type CompiledWorkflow,
  renderValue,
  type TemplateScope,
} from '@orchestr8/schema';
import { type Calendar, calendarOf } from './calendar.js';
import { FlowControl, type Outcome, type Prepared, type TriggerContext } from './flow-control.js';
import { registeredWorkflows } from './registered-workflows.js';
import type { Scheduler, SchedulerOptions, TriggerInfo } from './scheduler-api.js';
import { iso, triggerCorrelationId } from './trigger-correlation.js';
import { createMemoryTriggerStore, type TriggerState } from './trigger-store.js';
import { deliveryIdOf, signatureRefusal, webhookContext } from './webhook-request.js';

export type {
  EmittedEvent,
  Scheduler,
  SchedulerLogger,
  SchedulerOptions,
  TriggerInfo,
  WebhookRequest,
  WebhookResult,
} from './scheduler-api.js';

interface Active {
  workflow: CompiledWorkflow;
  trigger: CompiledTrigger;
  key: string;
  calendar?: Calendar;
  flow: FlowControl;
  /** Executions started by this trigger that have not ended, in this process. */
  live: Set<string>;
  /** bufferOne: the occurrence waiting for the running one to end. */
  buffered?: number;
}

const LEASE = 'scheduler';
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const CATCH_UP_SCAN_LIMIT = 100_000;

export function createScheduler(options: SchedulerOptions): Scheduler {
  const engine = options.engine;
  const clock = options.clock ?? systemClock;
  const store = options.store ?? createMemoryTriggerStore();
  const syncIntervalMs = options.syncIntervalMs ?? 2000;
  const toleranceMs = options.toleranceMs ?? 10_000;
  const leaseTtlMs = options.leaseTtlMs ?? 15_000;
  const owner = options.owner ?? randomUUID();
  const env = options.env ?? process.env;
  const allowEnv = options.allowEnv ?? (() => false);
  const dedupeTtlMs = options.dedupeTtlMs ?? 7 * 24 * 60 * 60 * 1000;
  const logger = options.logger;
  /** Compiled registered versions by hash: a sync compiles only what changed. */
  let compiled = new Map<string, CompiledWorkflow>();
  const workflowsSource =
    options.workflows ??
    (async () => {
      const r = await registeredWorkflows(engine, compiled);
      compiled = r.compiled;
      return r.workflows;
    });

  const active = new Map<string, Active>();
  /** Workflows given to `activate`: kept whatever the source says. */
  const pinned = new Map<string, CompiledWorkflow>();
  let timer: TimerHandle | undefined;
  let running = false;
  let leader = false;
  let ticking: Promise<boolean> | undefined;

  const scopeOf = (a: Active, ctx: TriggerContext, inputs: unknown = {}): TemplateScope => ({
    steps: {},
    inputs,
    variables: a.workflow.variables,
    env: {},
    trigger: ctx,
  });

  const prepare = (a: Active, ctx: TriggerContext): Prepared => {
    const t = a.trigger;
    let inputs: unknown;
    if (t.inputs) inputs = renderValue(t.inputs, scopeOf(a, ctx));
    else if (ctx.kind === 'webhook') inputs = ctx.body ?? {};
    else if (ctx.kind === 'event')
      inputs = ctx.batch ? { events: ctx.batch.map((b) => b.event?.data) } : (ctx.event?.data ?? {});
    else inputs = {};
    const key = (v: CompiledTrigger['inputs']) =>
      v === undefined ? '' : String(renderValue(v, scopeOf(a, ctx, inputs)) ?? '');
    return {
      inputs,
      concurrencyKey: key(t.flow?.concurrency?.key),
      rateKey: key(t.flow?.rateLimit?.key),
    };
  };

  const startExecution = async (a: Active, ctx: TriggerContext, p: Prepared) => {
    const w = a.workflow;
    let idempotencyKey: string | undefined;
    let correlationId: string;
    if (ctx.batch) correlationId = triggerCorrelationId(a.trigger.name, { time: ctx.timestamp });
    else if (ctx.kind === 'schedule') {
      idempotencyKey = `trigger:${w.id}:${a.trigger.name}:${ctx.timestamp}`;
      correlationId = triggerCorrelationId(a.trigger.name, { time: ctx.timestamp });
    } else if (ctx.deliveryId !== undefined) {
      idempotencyKey = `hook:${w.id}:${a.trigger.name}:${ctx.deliveryId}`;
      correlationId = triggerCorrelationId(a.trigger.name, { id: ctx.deliveryId });
    } else if (ctx.event) {
      idempotencyKey = `event:${w.id}:${a.trigger.name}:${ctx.event.id}`;
      correlationId = triggerCorrelationId(a.trigger.name, { id: ctx.event.id });
    } else correlationId = triggerCorrelationId(a.trigger.name, { time: ctx.timestamp });
    // Requests (events, webhooks) of one event-loop turn share a commit: the engine creates
    // the executions started in a turn together.
    const handle = await engine.start(w, {
      inputs: p.inputs,
      correlationId,
      ...(idempotencyKey !== undefined ? { idempotencyKey, idempotencyTtlMs: dedupeTtlMs } : {}),
    });
    const id = handle.id;
    if (handle.created) {
      a.live.add(id);
      logger?.info(
        { workflowId: w.id, trigger: a.trigger.name, executionId: id },
        'trigger started an execution',
      );
    }
    const done = handle.result.then(
      () => undefined,
      () => undefined,
    );
    void done.then(() => {
      a.live.delete(id);
      if (a.buffered !== undefined && a.live.size === 0) {
        const t = a.buffered;
        a.buffered = undefined;
        void fireOccurrence(a, t, true);
      }
    });
    // Only a schedule's overlap policy reads it (after a restart): events and webhooks, the
    // hot path, write no trigger state per execution.
    if (a.trigger.kind === 'schedule' && handle.created) await recordExecution(a.key, id);
    return { executionId: id, created: handle.created, done };
  };

  /**
   * A schedule's newest execution id, written behind: the ids of one tick go in one
   * transaction. Until written, `live` (in memory) answers the overlap checks here.
   */
  const unwritten = new Map<string, string>();
  let writing: Promise<void> | undefined;
  const recordExecution = (key: string, id: string): Promise<void> => {
    unwritten.set(key, id);
    writing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const ids = [...unwritten];
      unwritten.clear();
      writing = undefined;
      const states = new Map((await store.list()).map((st) => [st.key, st]));
      const now = clock.now();
      await store.putMany(
        ids.map(([k, executionId]) => ({
          ...(states.get(k) ?? { key: k, paused: false }),
          lastExecutionId: executionId,
          updatedAt: now,
        })),
      );
    });
    return writing;
  };

  const activeOf = (workflow: CompiledWorkflow, trigger: CompiledTrigger, previous?: Active): Active => {
    const key = `${workflow.id}/${trigger.name}`;
    const a: Active = {
      workflow,
      trigger,
      key,
      live: previous?.live ?? new Set(),
      flow: undefined as unknown as FlowControl,
    };
    if (trigger.schedule) a.calendar = calendarOf(trigger.schedule);
    a.flow = new FlowControl({
      flow: trigger.flow,
      clock,
      prepare: (ctx) => prepare(a, ctx),
      start: (ctx, p) => startExecution(a, ctx, p),
      onOutcome: (ctx, outcome) => {
        if (outcome.status === 'failed' || outcome.status === 'dropped')
          logger?.warn(
            { workflowId: workflow.id, trigger: trigger.name, time: ctx.time, ...outcome },
            'trigger firing not started',
          );
      },
    });
    return a;
  };

  const apply = (workflow: CompiledWorkflow) => {
    for (const [key, a] of active)
      if (a.workflow.id === workflow.id && !workflow.triggers.some((t) => t.name === a.trigger.name)) {
        a.flow.close();
        active.delete(key);
      }
    for (const trigger of workflow.triggers) {
      const key = `${workflow.id}/${trigger.name}`;
      const prev = active.get(key);
      if (prev && prev.workflow.hash === workflow.hash) continue;
      prev?.flow.close();
      active.set(key, activeOf(workflow, trigger, prev));
    }
  };

  /** Paused triggers, as of the last sync or pause here: events read this, not the store, per event. */
  const pausedKeys = new Set<string>();
  const sync = async () => {
    try {
      const states = await store.list();
      pausedKeys.clear();
      for (const st of states) if (st.paused) pausedKeys.add(st.key);
    } catch (e) {
      logger?.warn({ error: (e as Error).message }, 'could not read the trigger states');
    }
    let workflows: CompiledWorkflow[];
    try {
      workflows = await workflowsSource();
    } catch (e) {
      logger?.warn({ error: (e as Error).message }, 'could not read the registered workflows');
      return;
    }
    const byId = new Map(workflows.map((w) => [w.id, w]));
    for (const [id, w] of pinned) if (!byId.has(id)) byId.set(id, w);
    workflows = [...byId.values()];
    const ids = new Set(byId.keys());
    for (const [key, a] of active)
      if (!ids.has(a.workflow.id)) {
        a.flow.close();
        active.delete(key);
      }
    for (const w of workflows) apply(w);
  };

  const activate = (workflow: CompiledWorkflow) => {
    pinned.set(workflow.id, workflow);
    apply(workflow);
  };

  /** Whether an execution this trigger started is still going (here, or per the store after a restart). */
  const liveRuns = async (a: Active): Promise<string[]> => {
    if (a.live.size > 0) return [...a.live];
    const st = await store.get(a.key);
    if (!st?.lastExecutionId) return [];
    const rec = await engine.store.getExecution(st.lastExecutionId);
    return rec && !TERMINAL.has(rec.status) ? [rec.id] : [];
  };

  const scheduleContext = (a: Active, t: number): TriggerContext => ({
    name: a.trigger.name,
    kind: 'schedule',
    time: iso(t),
    timestamp: t,
  });

  /** One occurrence of a schedule, with its overlap policy. */
  const fireOccurrence = async (a: Active, t: number, fromBuffer = false): Promise<Outcome> => {
    const overlap = a.trigger.schedule?.overlap ?? 'allowAll';
    if (overlap !== 'allowAll') {
      const live = await liveRuns(a);
      if (live.length > 0) {
        if (overlap === 'skip' || (overlap === 'bufferOne' && !fromBuffer && a.buffered !== undefined)) {
          logger?.info(
            { workflowId: a.workflow.id, trigger: a.trigger.name, time: iso(t) },
            'occurrence skipped: the previous run is still going',
          );
          return { status: 'dropped', reason: 'skipped' };
        }
        if (overlap === 'bufferOne') {
          a.buffered = t;
          return { status: 'queued' };
        }
        for (const id of live)
          if (
            !engine.cancel(id, {
              reason: `cancelled by trigger ${a.trigger.name}: the next occurrence is due`,
            })
          )
            await engine.store.requestCancel(id, `cancelled by trigger ${a.trigger.name}`, clock.now());
      }
    }
    return a.flow.submit(scheduleContext(a, t));
  };

  const stateOf = async (a: Active, now: number): Promise<TriggerState> => {
    const st = await store.get(a.key);
    if (st) return st;
    // First activation: occurrences before now are not "missed".
    const fresh: TriggerState = { key: a.key, paused: false, lastFireAt: now, updatedAt: now };
    await store.put(fresh);
    return fresh;
  };

  const tickSchedules = async () => {
    const now = clock.now();
    // One read of every state per tick and one write of those that move, not one of each per trigger.
    const states = new Map((await store.list()).map((st) => [st.key, st]));
    const writes: TriggerState[] = [];
    const due: { a: Active; times: number[] }[] = [];
    for (const a of active.values()) {
      const s = a.trigger.schedule;
      if (!s || !a.calendar) continue;
      let st = states.get(a.key);
      if (!st) {
        // First activation: occurrences before now are not "missed".
        st = { key: a.key, paused: false, lastFireAt: now, updatedAt: now };
        writes.push(st);
        continue;
      }
      if (st.paused) continue;
      const last = st.lastFireAt ?? now;
      if (last >= now) continue;
      const horizon = Math.max(s.catchUp.windowMs, toleranceMs);
      const from = Math.max(last, now - horizon);
      // Most triggers are not due: the next occurrence settles it without a scan.
      const next = a.calendar.next(from);
      const times =
        next === undefined || next > now ? [] : a.calendar.between(from, now, CATCH_UP_SCAN_LIMIT);
      if (times.length === 0) {
        if (from > last) writes.push({ ...st, lastFireAt: from, updatedAt: now });
        continue;
      }
      const onTime = times.filter((t) => now - t <= toleranceMs);
      const missed = times.filter((t) => now - t > toleranceMs && now - t <= s.catchUp.windowMs);
      let caughtUp: number[] = [];
      if (s.catchUp.policy === 'last') caughtUp = missed.slice(-1);
      else if (s.catchUp.policy === 'all') caughtUp = missed.slice(-s.catchUp.max);
      if (missed.length > caughtUp.length)
        logger?.info(
          {
            workflowId: a.workflow.id,
            trigger: a.trigger.name,
            missed: missed.length,
            caughtUp: caughtUp.length,
          },
          'missed occurrences: the catch-up policy decided',
        );
      writes.push({ ...st, lastFireAt: times[times.length - 1]!, updatedAt: now });
      due.push({ a, times: [...caughtUp, ...onTime] });
    }
    // The state moves first: a crash mid-way must not fire these again beyond the idempotency keys.
    await store.putMany(writes);
    // Triggers fire side by side (their starts share the engine's commits); one trigger's
    // occurrences stay in order.
    await Promise.all(
      due.map(async ({ a, times }) => {
        for (const t of times) await fireOccurrence(a, t);
      }),
    );
  };

  const tick = async (): Promise<boolean> => {
    ticking ??= (async () => {
      try {
        leader = await store.acquireLease(LEASE, owner, clock.now(), leaseTtlMs);
        if (!leader) return false;
        await tickSchedules();
        return true;
      } finally {
        ticking = undefined;
      }
    })();
    return ticking;
  };

  const nextDue = async (): Promise<number | undefined> => {
    let next: number | undefined;
    const now = clock.now();
    for (const a of active.values()) {
      if (!a.calendar) continue;
      const t = a.calendar.next(now);
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  };

  let lastSync = Number.NEGATIVE_INFINITY;
  const loop = async () => {
    if (!running) return;
    try {
      if (clock.now() - lastSync >= syncIntervalMs) {
        lastSync = clock.now();
        await sync();
      }
      await tick();
    } catch (e) {
      logger?.warn({ error: (e as Error).message }, 'scheduler tick failed');
    }
    if (!running) return;
    const next = await nextDue();
    const wait = Math.max(
      0,
      Math.min(syncIntervalMs, leaseTtlMs / 3, next === undefined ? syncIntervalMs : next - clock.now()),
    );
    timer = clock.setTimeout(() => void loop(), wait, { unref: true });
  };

  const find = (workflowId: string, name: string): Active | undefined => active.get(`${workflowId}/${name}`);
  const mustFind = (workflowId: string, name: string): Active => {
    const a = find(workflowId, name);
    if (!a)
      throw Object.assign(new Error(`no active trigger "${name}" on workflow "${workflowId}"`), {
        code: 'NOT_FOUND',
      });
    return a;
  };
  const setPaused = async (workflowId: string, name: string, paused: boolean) => {
    const a = mustFind(workflowId, name);
    const now = clock.now();
    const st = await stateOf(a, now);
    if (paused) pausedKeys.add(a.key);
    else pausedKeys.delete(a.key);
    // Resuming does not catch up what fell due while paused.
    await store.put({
      ...st,
      paused,
      ...(paused ? {} : { lastFireAt: Math.max(st.lastFireAt ?? now, now) }),
      updatedAt: now,
    });
  };

  return {
    get leader() {
      return leader;
    },
    async start() {
      running = true;
      await loop();
    },
    async stop() {
      running = false;
      timer?.cancel();
      await ticking;
      for (const a of active.values()) a.flow.close();
      if (leader) await store.releaseLease(LEASE, owner);
      leader = false;
    },
    sync,
    tick,
    activate,
    async list() {
      const states = new Map((await store.list()).map((s) => [s.key, s]));
      const now = clock.now();
      return [...active.values()].map((a) => {
        const st = states.get(a.key);
        const stats = a.flow.stats();
        const info: TriggerInfo = {
          workflowId: a.workflow.id,
          workflowVersion: a.workflow.version,
          name: a.trigger.name,
          kind: a.trigger.kind,
          paused: st?.paused ?? false,
          running: Math.max(stats.running, a.live.size),
          queued: stats.queued,
          dropped: stats.dropped,
        };
        const sch = a.trigger.schedule;
        if (sch)
          info.schedule = {
            ...(sch.cron !== undefined ? { cron: sch.cron } : {}),
            ...(sch.everyMs !== undefined ? { everyMs: sch.everyMs } : {}),
            timezone: sch.timezone,
            overlap: sch.overlap,
            catchUp: sch.catchUp.policy,
          };
        if (a.calendar && !info.paused) {
          const t = a.calendar.next(now);
          if (t !== undefined) info.nextFireAt = t;
        }
        if (st?.lastFireAt !== undefined) info.lastFireAt = st.lastFireAt;
        if (a.trigger.event) info.event = a.trigger.event.name;
        if (a.trigger.webhook) info.signed = a.trigger.webhook.signature !== undefined;
        return info;
      });
    },
    pause: (w, n) => setPaused(w, n, true),
    resume: (w, n) => setPaused(w, n, false),
    async runNow(workflowId, name) {
      const a = mustFind(workflowId, name);
      const now = clock.now();
      return a.flow.submit({ name, kind: 'manual', time: iso(now), timestamp: now });
    },
    async backfill(workflowId, name, from, to) {
      const a = mustFind(workflowId, name);
      if (!a.calendar)
        throw Object.assign(new Error(`trigger "${name}" is not a schedule`), { code: 'VALIDATION' });
      const out: { time: number; outcome: Outcome }[] = [];
      for (const t of a.calendar.between(from - 1, to, CATCH_UP_SCAN_LIMIT))
        out.push({ time: t, outcome: await fireOccurrence(a, t) });
      return out;
    },
    async webhook(workflowId, name, req) {
      const a = find(workflowId, name);
      if (a?.trigger.kind !== 'webhook')
        return { status: 404, reason: `no webhook "${name}" on workflow "${workflowId}"` };
      const refusal = signatureRefusal(
        a.trigger,
        req,
        (variable) => (allowEnv(variable) ? env[variable] : undefined),
        clock.now(),
      );
      if (refusal) return refusal;
      const st = await store.get(a.key);
      if (st?.paused) return { status: 503, reason: `trigger "${name}" is paused` };
      const deliveryId = deliveryIdOf(a.trigger, req);
      const now = clock.now();
      if (
        deliveryId !== undefined &&
        !(await store.claimDelivery(`${a.key}:${deliveryId}`, now, dedupeTtlMs))
      )
        return { status: 200, duplicate: true, deliveryId };
      const ctx = webhookContext(name, req, now, deliveryId);
      const outcome = await a.flow.submit(ctx);
      return { status: 202, outcome, ...(deliveryId !== undefined ? { deliveryId } : {}) };
    },
    async emit(event) {
      const now = clock.now();
      const id = event.id ?? randomUUID();
      const out: { workflowId: string; trigger: string; outcome: Outcome }[] = [];
      for (const a of active.values()) {
        const e = a.trigger.event;
        if (!e || e.name !== event.name || pausedKeys.has(a.key)) continue;
        const ctx: TriggerContext = {
          name: a.trigger.name,
          kind: 'event',
          time: iso(now),
          timestamp: now,
          event: { name: event.name, id, data: event.data ?? {} },
        };
        if (e.condition) {
          let ok: unknown;
          try {
            ok = e.condition.evaluate(scopeOf(a, ctx));
          } catch {
            ok = false;
          }
          if (ok !== true) continue;
        }
        out.push({ workflowId: a.workflow.id, trigger: a.trigger.name, outcome: await a.flow.submit(ctx) });
      }
      return out;
    },
  };
}
