/**
 * `createScheduler`: builds the state its parts share, keeps the set of active triggers in step
 * with the workflows (sync, activate), and answers the requests of the public `Scheduler`.
 * Schedules fire in schedule-firing.ts, events match in event-triggers.ts, executions start in
 * trigger-runs.ts, and the timer and lease live in scheduler-loop.ts.
 */
import { randomUUID } from 'node:crypto';
import { systemClock } from '@orchestr8/common';
import type { CompiledWorkflow } from '@orchestr8/schema';
import { deliveryClaims } from './delivery-claims.js';
import { emitEvent } from './event-triggers.js';
import type { Outcome } from './flow-control.js';
import { registeredWorkflows } from './registered-workflows.js';
import { CATCH_UP_SCAN_LIMIT, fireOccurrence } from './schedule-firing.js';
import type { Scheduler, SchedulerOptions, TriggerInfo } from './scheduler-api.js';
import type { Active, SchedulerContext } from './scheduler-context.js';
import { createSchedulerLoop } from './scheduler-loop.js';
import { iso } from './trigger-correlation.js';
import { activeOf, closeFlow, createExecutionRecorder } from './trigger-runs.js';
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
  const deliveries = deliveryClaims(store, { ttlMs: dedupeTtlMs });
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
  /** Paused triggers, as of the last sync or pause here: events read this, not the store, per event. */
  const pausedKeys = new Set<string>();
  const sc: SchedulerContext = {
    engine,
    clock,
    store,
    logger,
    toleranceMs,
    dedupeTtlMs,
    active,
    pausedKeys,
    recordExecution: createExecutionRecorder(store, clock),
  };

  const apply = (workflow: CompiledWorkflow) => {
    for (const [key, a] of active)
      if (a.workflow.id === workflow.id && !workflow.triggers.some((t) => t.name === a.trigger.name)) {
        closeFlow(sc, a, `the trigger is not in version ${workflow.version} of the workflow`);
        active.delete(key);
      }
    for (const trigger of workflow.triggers) {
      const key = `${workflow.id}/${trigger.name}`;
      const prev = active.get(key);
      if (prev && prev.workflow.hash === workflow.hash) continue;
      // Its flow control carries over (see activeOf): nothing running or waiting is lost.
      active.set(key, activeOf(sc, workflow, trigger, prev));
    }
  };

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
        closeFlow(sc, a, 'the workflow is no longer registered');
        active.delete(key);
      }
    for (const w of workflows) apply(w);
  };

  const activate = (workflow: CompiledWorkflow) => {
    pinned.set(workflow.id, workflow);
    apply(workflow);
  };

  const lifecycle = createSchedulerLoop(sc, { syncIntervalMs, leaseTtlMs, owner, sync });

  const stateOf = async (a: Active, now: number): Promise<TriggerState> => {
    const st = await store.get(a.key);
    if (st) return st;
    // First activation: occurrences before now are not "missed".
    const fresh: TriggerState = { key: a.key, paused: false, lastFireAt: now, updatedAt: now };
    await store.put(fresh);
    return fresh;
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
      return lifecycle.leader;
    },
    start: lifecycle.start,
    stop: lifecycle.stop,
    sync,
    tick: lifecycle.tick,
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
          failed: stats.failed,
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
        out.push({ time: t, outcome: await fireOccurrence(sc, a, t) });
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
      const now = clock.now();
      const ctx = webhookContext(name, req, now, undefined);
      const deliveryId = deliveryIdOf(a.trigger, req, ctx.body);
      if (deliveryId === undefined) return { status: 202, outcome: await a.flow.submit(ctx) };
      // Claimed (pending) before the firing runs: the same delivery arriving meanwhile, at this
      // process or another on the same store, is told to retry rather than that it succeeded,
      // since the first may yet end 429/422 and give its claim back.
      const claim = `${a.key}:${deliveryId}`;
      const claimed = await deliveries.claim(claim, now);
      if (claimed === 'pending')
        return {
          status: 409,
          reason: `delivery ${deliveryId} is still being processed; retry it`,
          deliveryId,
        };
      if (claimed === 'duplicate') return { status: 200, duplicate: true, deliveryId };
      ctx.deliveryId = deliveryId;
      // Accepted, the claim is kept (later copies are duplicates); not accepted (answered 429 or
      // 422, or an error), it is given back, so that the sender's retry is processed as new.
      const decide = async (accepted: boolean) => {
        try {
          await (accepted ? deliveries.settle(claim, now) : deliveries.release(claim, now));
        } catch (e) {
          logger?.warn(
            { workflowId: a.workflow.id, trigger: name, deliveryId, error: (e as Error).message },
            accepted
              ? 'could not mark a webhook delivery accepted; its retries are answered 409 until its claim expires, then processed again (its idempotency key starts nothing twice)'
              : 'could not release a webhook delivery that was not accepted; its retries are not processed until its claim expires',
          );
        }
      };
      let outcome: Outcome;
      try {
        outcome = await a.flow.submit(ctx);
      } catch (e) {
        await decide(false);
        throw e;
      }
      await decide(outcome.status !== 'dropped' && outcome.status !== 'failed');
      return { status: 202, outcome, deliveryId };
    },
    emit: (event) => emitEvent(sc, event),
  };
}
