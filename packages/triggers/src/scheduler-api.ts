/** The scheduler's public contract: options, what it reports, and the requests it answers. */
import type { Clock } from '@orchestr8/common';
import type { Engine } from '@orchestr8/core';
import type { CompiledTrigger, CompiledWorkflow } from '@orchestr8/schema';
import type { Outcome } from './flow-control.js';
import type { TriggerStore } from './trigger-store.js';

export interface SchedulerLogger {
  info(data: Record<string, unknown>, message: string): void;
  warn(data: Record<string, unknown>, message: string): void;
}

export interface SchedulerOptions {
  engine: Engine;
  /** Trigger state; default in memory. */
  store?: TriggerStore;
  clock?: Clock;
  /**
   * The workflows whose triggers are active. Default: the newest registered version of each
   * workflow in the engine's store that declares triggers, re-read every `syncIntervalMs`.
   */
  workflows?: () => Promise<CompiledWorkflow[]>;
  /** How often registered workflows are re-read and the lease renewed. Default 2000 ms. */
  syncIntervalMs?: number;
  /** An occurrence seen later than this after its time counts as missed (catch-up decides). Default 10 s. */
  toleranceMs?: number;
  /** Leader lease: one scheduler among those sharing a store fires occurrences. Default 15 s. */
  leaseTtlMs?: number;
  /** This scheduler's lease owner id. Default random. */
  owner?: string;
  /** Where signing secrets are read from. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The operator's grant: whether documents may read this environment variable. Default: none. */
  allowEnv?: (name: string) => boolean;
  /** How long a schedule occurrence's idempotency key and a webhook delivery id are remembered. Default 7 days. */
  dedupeTtlMs?: number;
  logger?: SchedulerLogger;
}

export interface TriggerInfo {
  workflowId: string;
  workflowVersion: string;
  name: string;
  kind: CompiledTrigger['kind'];
  paused: boolean;
  /** Schedules: the cron expression, or the interval as written in ms (`every`). */
  schedule?: { cron?: string; everyMs?: number; timezone: string; overlap: string; catchUp: string };
  /** Epoch ms of the next occurrence (schedules). */
  nextFireAt?: number;
  lastFireAt?: number;
  event?: string;
  /** Webhooks: whether requests must carry a signature. */
  signed?: boolean;
  running: number;
  queued: number;
  /** Firings dropped by flow control (rate limit, full queue) in this process. */
  dropped: number;
  /** Firings that started nothing because of an error (inputs or keys not rendered, the start failed) in this process. */
  failed: number;
}

export interface WebhookRequest {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  query?: Record<string, string>;
}

export type WebhookResult =
  | { status: 404; reason: string }
  | { status: 401; reason: string }
  | { status: 503; reason: string }
  | { status: 200; duplicate: true; deliveryId: string }
  /** The same delivery is being processed here: retry (it may yet be refused and given back). */
  | { status: 409; reason: string; deliveryId: string }
  | { status: 202; outcome: Outcome; deliveryId?: string };

export interface EmittedEvent {
  name: string;
  id?: string;
  data?: unknown;
}

export interface Scheduler {
  /** Reads the active workflows, then keeps firing until `stop`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Re-reads the active workflows now (a version was just registered). */
  sync(): Promise<void>;
  /** Fires what is due now (the timer calls it; tests may too). False when another scheduler leads. */
  tick(): Promise<boolean>;
  /** Registers a workflow's triggers directly (embedding; replaces an earlier version). */
  activate(workflow: CompiledWorkflow): void;
  list(): Promise<TriggerInfo[]>;
  pause(workflowId: string, name: string): Promise<void>;
  resume(workflowId: string, name: string): Promise<void>;
  /** Fires a trigger now, as if it had fired (flow control applies, the overlap policy does not). */
  runNow(workflowId: string, name: string): Promise<Outcome>;
  /** Fires each occurrence of a schedule in [from, to], oldest first, with the overlap policy applied. */
  backfill(
    workflowId: string,
    name: string,
    from: number,
    to: number,
  ): Promise<{ time: number; outcome: Outcome }[]>;
  webhook(workflowId: string, name: string, request: WebhookRequest): Promise<WebhookResult>;
  /** Starts executions for the event triggers matching the event. */
  emit(event: EmittedEvent): Promise<{ workflowId: string; trigger: string; outcome: Outcome }[]>;
  /** Whether this scheduler holds the lease. */
  readonly leader: boolean;
}
