/**
 * The state a scheduler's parts share: its injected services and settings, the active
 * triggers and which of them are paused. `createScheduler` builds one; the schedule, event,
 * run and loop files take it explicitly.
 */
import type { Clock } from '@orchestr8/common';
import type { Engine } from '@orchestr8/core';
import type { CompiledTrigger, CompiledWorkflow } from '@orchestr8/schema';
import type { Calendar } from './calendar.js';
import type { FlowControl } from './flow-control.js';
import type { SchedulerLogger } from './scheduler-api.js';
import type { TriggerStore } from './trigger-store.js';

export interface Active {
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

export interface SchedulerContext {
  readonly engine: Engine;
  readonly clock: Clock;
  readonly store: TriggerStore;
  readonly logger: SchedulerLogger | undefined;
  /** An occurrence seen later than this after its time counts as missed. */
  readonly toleranceMs: number;
  /** How long idempotency keys and webhook delivery ids are remembered. */
  readonly dedupeTtlMs: number;
  /** Active triggers by `<workflow id>/<trigger name>`. */
  readonly active: Map<string, Active>;
  /** Paused triggers, as of the last sync or pause here: events read this, not the store, per event. */
  readonly pausedKeys: Set<string>;
  /** Writes a schedule's newest execution id, behind (see `createExecutionRecorder`). */
  readonly recordExecution: (key: string, id: string) => Promise<void>;
}
