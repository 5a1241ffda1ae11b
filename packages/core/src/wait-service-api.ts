/**
 * The wait service's API: what it takes (WaitServiceOptions), what it offers (WaitService, the
 * engine's sendEvent, signal, decide and approvals), and the shapes of events and decisions.
 * Implemented in wait-service.ts (timers and wakes), wait-events.ts and wait-approvals.ts.
 */
import type { Clock } from '@orchestr8/common';
import type { AgentLogger } from './agent.js';
import type { Store } from './store.js';
import type { WaitCursor, WaitRecord } from './waits.js';

/** An event to deliver to waiting executions (and keep in the inbox for late waits). */
export interface EventInput {
  name: string;
  /** Delivery id: sending the same id again is a no-op. Default: a random id. */
  id?: string;
  payload?: unknown;
}

export interface EventDelivery {
  id: string;
  /** False when an event with this name and id was delivered before (nothing happened). */
  accepted: boolean;
  /** Waits this event ended (or, for `all`, advanced). */
  woken: number;
}

export interface Decision {
  decision: 'approve' | 'reject';
  /** Who decides; checked against the step's `approvers` when it has them. */
  by?: string;
  /** The form data (approve): validated against the step's form schema. */
  data?: unknown;
  comment?: string;
  /**
   * Makes the decision idempotent: the same key again (for this step) returns the first
   * answer, even once the step has moved on; with a different decision, a CONFLICT whose
   * details say `idempotencyKeyReused`.
   */
  idempotencyKey?: string;
  /** How long the answer is remembered (default 24 hours). */
  idempotencyTtlMs?: number;
}

/** What a decision did (and what a repeat with the same idempotency key returns). */
export interface DecisionResult {
  executionId: string;
  stepId: string;
  decision: 'approved' | 'rejected';
  by?: string;
  decidedAt: string;
}

/** A page of pending approvals: at most `limit`, after `after` (the last one of the previous page). */
export interface ApprovalsQuery {
  limit?: number;
  after?: WaitCursor;
}

export interface SignalOptions {
  /** How long the answer to a signal sent with an id is remembered (default 24 hours). */
  idempotencyTtlMs?: number;
}

export interface WaitServiceOptions {
  store: Store;
  clock: Clock;
  logger: AgentLogger;
  lookBackMs: number;
  /**
   * The longest sleep between looks at the store for due waits, for waits other processes
   * registered (0: only this process's own waits and the first scan).
   */
  pollMs: number;
  /** Resumes an execution this process took from `waiting`. */
  resume: (executionId: string) => Promise<unknown>;
  /** Hands a woken step to the live run holding it; false when no live run takes it. */
  wakeLive: (executionId: string, stepId: string) => boolean;
  isLive: (executionId: string) => boolean;
  /** Called after each look at the store (results of parked runs finished elsewhere). */
  afterScan?: () => Promise<void>;
}

export interface WaitService {
  /** Loads due waits (late timers fire at once, in due order) and schedules the next one. */
  start(): void;
  registered(wait: WaitRecord): void;
  /**
   * Delivers an event to every waiting step whose wait matches it (name and `match`), and keeps
   * it in the inbox for waits that register within the look-back window; the same name and id
   * delivered again does nothing (`accepted: false`).
   */
  sendEvent(event: EventInput): Promise<EventDelivery>;
  /** Sends an event to one execution only: its waits for an event of this name see it. */
  signal(
    executionId: string,
    name: string,
    payload?: unknown,
    id?: string,
    options?: SignalOptions,
  ): Promise<EventDelivery>;
  /**
   * Approves or rejects an approval step; the form data is validated against the step's form
   * schema (a ValidationError naming the field); a step decided twice is a CONFLICT, unless both
   * carry the same `idempotencyKey` (the repeat gets the first answer).
   */
  decide(executionId: string, stepId: string, decision: Decision): Promise<DecisionResult>;
  /**
   * The pending approvals (waits of kind approval), oldest first: all of them, or one page
   * (at most `limit`, strictly after `after` in (createdAt, id) order; the next page is after
   * this page's last one).
   */
  approvals(query?: ApprovalsQuery): Promise<WaitRecord[]>;
  /** After a run left memory: resumes it at once if one of its waits was woken meanwhile. */
  parked(executionId: string): void;
  close(): void;
}
