/**
 * @module @orchestr8/triggers
 * Schedules, webhooks and events that start workflows on their own, with flow control
 * (per-key concurrency with a queue, debounce, batching, rate limits). Hosts create one
 * scheduler and mount its routes; the engine knows nothing of it. Time comes from the
 * injected clock, so a fake clock drives every rule in tests.
 *
 * @example
 * import { createEngine } from '@orchestr8/core';
 * import { createScheduler, createTriggerRouter, triggerEventHook } from '@orchestr8/triggers';
 *
 * const engine = createEngine();
 * const scheduler = createScheduler({ engine });
 * scheduler.activate(engine.compile(documentWithTriggers));
 * await scheduler.start();
 * // createServer({ engine, registry, routers: createTriggerRouter({ scheduler }),
 * //   onEvent: triggerEventHook(scheduler) })
 */

export { type Calendar, calendarOf } from './calendar.js';
export {
  createExecuteGate,
  type ExecuteFlowGate,
  type ExecuteGate,
  type ExecuteGateOptions,
  type ExecuteRefusal,
  type ExecuteRequest,
} from './execute-gate.js';
export {
  FlowControl,
  type FlowControlOptions,
  type Outcome,
  type Prepared,
  type Started,
  type TriggerContext,
} from './flow-control.js';
export {
  createPostgresTriggerStore,
  type PostgresTransactional,
  type PostgresTx,
} from './postgres-trigger-store.js';
export { createTriggerRouter, type TriggerRouterOptions, triggerEventHook } from './router.js';
export {
  createScheduler,
  type EmittedEvent,
  type Scheduler,
  type SchedulerLogger,
  type SchedulerOptions,
  type TriggerInfo,
  type WebhookRequest,
  type WebhookResult,
} from './scheduler.js';
export { openSqliteTriggerStore } from './sqlite-trigger-store.js';
export { parseTriggerCorrelationId, triggerCorrelationId } from './trigger-correlation.js';
export {
  createMemoryTriggerStore,
  type DeliveryClaim,
  type TriggerState,
  type TriggerStore,
} from './trigger-store.js';
export { verifySignature, verifyStripeSignature } from './webhook-signature.js';
