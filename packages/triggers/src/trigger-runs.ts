/**
 * The runs of an active trigger: the flow-control glue that renders a firing's inputs and
 * keys and starts its execution (idempotency key, correlation id), the set of its executions
 * still live here, and a schedule's newest execution id written behind.
 */
import type { Clock } from '@orchestr8/common';
import {
  type CompiledTrigger,
  type CompiledWorkflow,
  renderValue,
  type TemplateScope,
} from '@orchestr8/schema';
import { calendarOf } from './calendar.js';
import { FlowControl, type FlowControlOptions, type Prepared, type TriggerContext } from './flow-control.js';
import { fireOccurrence } from './schedule-firing.js';
import type { Active, SchedulerContext } from './scheduler-context.js';
import { triggerCorrelationId } from './trigger-correlation.js';
import type { TriggerStore } from './trigger-store.js';

export const scopeOf = (a: Active, ctx: TriggerContext, inputs: unknown = {}): TemplateScope => ({
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

const startExecution = async (sc: SchedulerContext, a: Active, ctx: TriggerContext, p: Prepared) => {
  const { engine, logger, dedupeTtlMs } = sc;
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
    // The trigger's current version (`live` is shared across versions): an occurrence may
    // have been buffered there since this execution started.
    const cur = sc.active.get(a.key) ?? a;
    if (cur.buffered !== undefined && cur.live.size === 0) {
      const t = cur.buffered;
      cur.buffered = undefined;
      void fireOccurrence(sc, cur, t, true);
    }
  });
  // Only a schedule's overlap policy reads it (after a restart): events and webhooks, the
  // hot path, write no trigger state per execution.
  if (a.trigger.kind === 'schedule' && handle.created) await sc.recordExecution(a.key, id);
  return { executionId: id, created: handle.created, done };
};

/**
 * A schedule's newest execution id, written behind: the ids of one tick go in one
 * transaction. Until written, `live` (in memory) answers the overlap checks.
 */
export function createExecutionRecorder(
  store: TriggerStore,
  clock: Clock,
): (key: string, id: string) => Promise<void> {
  const unwritten = new Map<string, string>();
  let writing: Promise<void> | undefined;
  return (key: string, id: string): Promise<void> => {
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
}

/** An active trigger with its flow control; a new version keeps the live runs of the one it replaces. */
export const activeOf = (
  sc: SchedulerContext,
  workflow: CompiledWorkflow,
  trigger: CompiledTrigger,
  previous?: Active,
): Active => {
  const { clock, logger } = sc;
  const key = `${workflow.id}/${trigger.name}`;
  const a: Active = {
    workflow,
    trigger,
    key,
    live: previous?.live ?? new Set(),
    flow: undefined as unknown as FlowControl,
    ...(previous?.buffered !== undefined ? { buffered: previous.buffered } : {}),
  };
  if (trigger.schedule) a.calendar = calendarOf(trigger.schedule);
  const options: FlowControlOptions = {
    flow: trigger.flow,
    clock,
    prepare: (ctx) => prepare(a, ctx),
    start: (ctx, p) => startExecution(sc, a, ctx, p),
    // Outcomes decided after the firing was answered, and every failed firing (see FlowControl).
    onOutcome: (ctx, outcome) => {
      if (outcome.status === 'failed' || outcome.status === 'dropped')
        logger?.warn(
          {
            workflowId: workflow.id,
            trigger: trigger.name,
            time: ctx.time,
            ...(ctx.event ? { eventId: ctx.event.id } : {}),
            ...(ctx.deliveryId !== undefined ? { deliveryId: ctx.deliveryId } : {}),
            ...outcome,
          },
          'trigger firing not started',
        );
    },
  };
  // A new version of the same trigger keeps its flow control: what runs still counts against
  // the limits, and what waits (queued, debounced, batched) starts with the new version.
  if (previous) {
    previous.flow.retarget(options);
    a.flow = previous.flow;
  } else a.flow = new FlowControl(options);
  return a;
};

/**
 * Closes a trigger's flow control (the trigger was removed, or the scheduler stops) and warns
 * when that discarded firings: pending flow control lives in memory (documented).
 */
export const closeFlow = (sc: Pick<SchedulerContext, 'logger'>, a: Active, why: string): void => {
  const d = a.flow.close();
  if (d.queued + d.debounced + d.batched === 0) return;
  sc.logger?.warn(
    { workflowId: a.workflow.id, trigger: a.trigger.name, ...d },
    `pending trigger firings discarded (${why}): queued, debounced and batched firings are kept in memory and start nothing now`,
  );
};
