import type { SerializedError } from '@orchestr8/common';
import {
  type CompiledWait,
  type CompiledWaitEvent,
  compileExpression,
  lookupPath,
  type PathSegment,
  type TemplateScope,
} from '@orchestr8/schema';

/**
 * Durable waits: what a `wait` step leaves in the store while its execution is held there
 * (status `waiting`), the event inbox that keeps recent events for waits that register late,
 * and the store interface both live behind. The engine's wait service (wait-service.ts)
 * wakes waits; the step side (wait-step.ts) registers them and applies their outcome.
 */

export type WaitKind = CompiledWait['kind'];

/** An event as delivered (`POST /events`, `engine.sendEvent`, a signal) and kept in the inbox. */
export interface WaitEvent {
  name: string;
  /** Delivery id: the same id delivered twice is one event. */
  id: string;
  payload: unknown;
  receivedAt: number;
  /** Set for a signal: only this execution's waits see it. */
  executionId?: string;
}

/** How a wait ended. The step applies it when its execution resumes. */
export interface WaitOutcome {
  kind: 'fired' | 'event' | 'timedOut' | 'approved' | 'rejected';
  at: number;
  /** kind event (one event) or, for `all`, every event in the order listed. */
  events?: WaitEvent[];
  by?: string;
  data?: unknown;
  comment?: string;
  error?: SerializedError;
}

export interface WaitApproval {
  title: string;
  description?: string;
  form?: object;
  approvers?: readonly string[];
}

/** One registered wait: one per waiting step, removed once its step has taken the outcome. */
export interface WaitRecord {
  /** `<executionId>/<stepId>`. */
  id: string;
  executionId: string;
  stepId: string;
  workflowId: string;
  kind: WaitKind;
  state: 'pending' | 'woken';
  /** A timer's due time, or when an event/approval wait times out (epoch ms). */
  dueAt?: number;
  /** The event names an event/any/all wait listens for. */
  events?: string[];
  /** Each event's `match` condition as written (null: none), by position in `events`. */
  matches?: (string | null)[];
  /**
   * What the match conditions read of the execution (inputs, upstream outputs, variables),
   * copied when the wait registers, so an event is matched without loading the execution.
   */
  matchScope?: Record<string, unknown>;
  /**
   * Per event (by position in `events`), the value its `match` pins the event to, when the
   * condition requires `event.<path> == <expression of the execution>` (null: none). Stores
   * index pending waits by (event name, path, value), so an event finds its waits without a
   * scan; see `waitIndexKeys` and `eventKeyValue`.
   */
  correlations?: (WaitCorrelation | null)[];
  /** kind all: the events received so far, by position in `events` (null: not yet). */
  received?: (WaitEvent | null)[];
  approval?: WaitApproval;
  /** False when the execution has no global timeout (so no `#deadline` wait to drop on wake). */
  deadline?: boolean;
  outcome?: WaitOutcome;
  /** Bumped by every update; claimWait compares it (optimistic concurrency). */
  version: number;
  createdAt: number;
}

/** `event.<path> == value`: `path` is dotted (`payload.orderId`), `value` its JSON text. */
export interface WaitCorrelation {
  path: string;
  value: string;
}

/** One entry of a pending wait in the event index; `path` and `value` are '' when the wait has no key. */
export interface WaitIndexKey {
  name: string;
  path: string;
  value: string;
}

/** The remembered first answer to an idempotent request (a decision, a signal). */
export interface StoredAnswer {
  /** What the request asked, so that a key reused for another request is refused. */
  fingerprint: string;
  answer: unknown;
  expiresAt: number;
}

/** A position in the (createdAt, id) order of waits: a page of a listing ends at one. */
export interface WaitCursor {
  createdAt: number;
  id: string;
}

/**
 * The order of `listWaits`: createdAt, then id (ids are compared as the SQL stores compare
 * them, by code unit: the same as byte order for the ASCII ids waits have).
 */
export function compareWaits(a: WaitCursor, b: WaitCursor): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface WaitQuery {
  kind?: WaitKind;
  executionId?: string;
  state?: WaitRecord['state'];
  limit?: number;
  /** Only waits strictly after this one in (createdAt, id) order: the next page (keyset). */
  after?: WaitCursor;
}

/**
 * The durable side of waits, next to the executions in the same store (memory, SQLite).
 * A store without it (`Store.waits` undefined) refuses wait steps with a clear error.
 */
export interface WaitStore {
  /** Inserts or replaces the wait with this id. */
  putWait(wait: WaitRecord): Promise<void>;
  getWait(id: string): Promise<WaitRecord | undefined>;
  /** Pending waits with dueAt <= now, and every woken wait, in due order (woken first). */
  dueWaits(now: number, limit?: number): Promise<WaitRecord[]>;
  /** The earliest dueAt of a pending wait. */
  nextDueAt(): Promise<number | undefined>;
  /**
   * Pending waits listening for an event name. Given the event, a store may return only the
   * waits its index says it can match (`waitIndexKeys`: the keyed waits whose value the
   * event has at their path, and every wait without a key): the caller checks each anyway.
   */
  waitsForEvent(name: string, event?: WaitEvent): Promise<WaitRecord[]>;
  /** The waits the query selects, in (createdAt, id) order (oldest first), at most `limit`. */
  listWaits(query?: WaitQuery): Promise<WaitRecord[]>;
  /**
   * Replaces a pending wait with `next` if its version is still `version` (one atomic
   * conditional update): true for the one caller that wins, false for every other. This
   * is what makes a wake exactly-once, across processes too.
   */
  claimWait(id: string, version: number, next: WaitRecord): Promise<boolean>;
  deleteWait(id: string): Promise<void>;
  /**
   * The execution goes from `waiting` to `running` if it is still `waiting` (conditional
   * update): the one process that wins resumes it.
   */
  takeWaitingExecution(executionId: string, at: number): Promise<boolean>;
  /** Keeps an event in the inbox; false when an event with this name and id is already there. */
  putEvent(event: WaitEvent): Promise<boolean>;
  /**
   * `putEvent` for several events in one transaction (and, given `pruneBefore`, the look-back
   * prune with them): each event's answer, in order. Optional: the wait service groups the
   * events of one event-loop turn into one call when a store has it (a commit per turn
   * instead of one per event).
   */
  putEvents?(events: readonly WaitEvent[], pruneBefore?: number): Promise<boolean[]>;
  /** Inbox events of this name received at or after `since`, oldest first. */
  recentEvents(name: string, since: number): Promise<WaitEvent[]>;
  /** Drops inbox events received before `before`. */
  pruneEvents(before: number): Promise<number>;
  /** Executions in `waiting` with a cancel request recorded (`Store.requestCancel`). */
  waitingCancels(): Promise<string[]>;
  /**
   * Remembers the first answer to an idempotent request under its key (first writer wins):
   * undefined when stored, else the live answer already there. Expired answers may be dropped.
   * Optional: without it, decisions and signals are not idempotent by key.
   */
  putAnswer?(key: string, answer: StoredAnswer, now: number): Promise<StoredAnswer | undefined>;
  /** The live (unexpired) answer stored under a key. */
  getAnswer?(key: string, now: number): Promise<StoredAnswer | undefined>;
}

export const DEFAULT_EVENT_LOOK_BACK_MS = 5 * 60 * 1000;

export function waitId(executionId: string, stepId: string): string {
  return `${executionId}/${stepId}`;
}

/** A wait's events with their conditions compiled (conditions are cached by shape). */
function specsOf(w: WaitRecord): CompiledWaitEvent[] {
  return (w.events ?? []).map((name, i) => {
    const m = w.matches?.[i];
    return m == null ? { name } : { name, match: compileExpression(m) };
  });
}

/** Whether an event matches one of a wait's events (its name, its execution, its condition). */
export function eventMatches(spec: CompiledWaitEvent, event: WaitEvent, w: WaitRecord): boolean {
  if (spec.name !== event.name) return false;
  if (event.executionId !== undefined && event.executionId !== w.executionId) return false;
  if (spec.match === undefined) return true;
  try {
    const scope = { ...(w.matchScope ?? {}), event: eventView(event) } as unknown as TemplateScope;
    const v = spec.match.evaluate(scope);
    return Array.isArray(v) ? v.length > 0 : Boolean(v);
  } catch {
    // A condition that cannot be evaluated on this event does not match it.
    return false;
  }
}

/** What `event.*` reads in a match, and what a step that waited for an event outputs. */
export function eventView(e: WaitEvent): { name: string; id: string; payload: unknown; receivedAt: string } {
  return { name: e.name, id: e.id, payload: e.payload, receivedAt: new Date(e.receivedAt).toISOString() };
}

/**
 * What the match conditions read of the scope, and nothing else: copied into the wait
 * record. Secrets are never copied (a match on a secret is not worth storing one).
 */
export function matchScopeOf(
  specs: readonly CompiledWaitEvent[],
  scope: TemplateScope,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    for (const ref of spec.match?.refs ?? []) {
      if (ref.root === 'event' || ref.root === 'secrets') continue;
      const path: PathSegment[] = [ref.root, ...(ref.stepId !== undefined ? [ref.stepId] : []), ...ref.path];
      const v = lookupPath(scope, path);
      if (v !== undefined) setPath(out, path, v);
    }
  }
  return out;
}

function setPath(out: Record<string, unknown>, path: readonly PathSegment[], v: unknown): void {
  let cur: Record<string, unknown> = out;
  for (let i = 0; i < path.length - 1; i++) {
    const k = String(path[i]);
    const next = cur[k];
    if (next === null || typeof next !== 'object') cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[String(path[path.length - 1])] = v;
}

/**
 * Records an arriving event in a wait: the next record when it matches (event, any: woken
 * with that event; all: woken once every listed event has one, else the partial
 * `received`), or undefined when it does not match.
 */
export function receiveEvent(wait: WaitRecord, event: WaitEvent, now: number): WaitRecord | undefined {
  const specs = specsOf(wait);
  if (wait.kind === 'all') {
    const received = wait.received ? [...wait.received] : specs.map(() => null);
    let changed = false;
    for (let i = 0; i < specs.length; i++) {
      if (received[i] == null && eventMatches(specs[i]!, event, wait)) {
        received[i] = event;
        changed = true;
        break;
      }
    }
    if (!changed) return undefined;
    const next: WaitRecord = { ...wait, received, version: wait.version + 1 };
    if (received.every((r) => r != null)) {
      next.state = 'woken';
      next.outcome = { kind: 'event', at: now, events: received as WaitEvent[] };
    }
    return next;
  }
  if (!specs.some((s) => eventMatches(s, event, wait))) return undefined;
  return {
    ...wait,
    state: 'woken',
    version: wait.version + 1,
    outcome: { kind: 'event', at: now, events: [event] },
  };
}

/**
 * Offers the inbox's events of the wait's names received since `since` to a pending wait, in
 * the order they arrived, each through a versioned claim (so the wait takes an event once,
 * whoever offers it first). Returns the wait as it now stands, or undefined when it is gone.
 * Used where a wait may have missed an event delivered while it was being registered.
 */
export async function offerRecentEvents(
  ws: WaitStore,
  w: WaitRecord,
  since: number,
  now: () => number,
): Promise<WaitRecord | undefined> {
  const events = (await Promise.all([...new Set(w.events)].map((n) => ws.recentEvents(n, since))))
    .flat()
    .sort((a, b) => a.receivedAt - b.receivedAt);
  let cur: WaitRecord | undefined = w;
  for (const e of events) {
    for (let tries = 0; cur?.state === 'pending' && tries < 5; tries++) {
      // An `all` wait keeps what it received: the same event is not taken twice.
      if (cur.received?.some((r) => r?.name === e.name && r.id === e.id)) break;
      const next = receiveEvent(cur, e, now());
      if (next === undefined) break;
      if (await ws.claimWait(cur.id, cur.version, next)) {
        cur = next;
        break;
      }
      cur = await ws.getWait(w.id);
    }
    if (cur?.state !== 'pending') break;
  }
  return cur;
}
