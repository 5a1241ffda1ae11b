/**
 * Events for waiting steps: the inbox (kept durably before any wait sees an event, written in
 * one commit per event-loop turn when the store can, pruned past the look-back window), their
 * delivery to matching waits, `sendEvent` to all executions and `signal` to one.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import { DAY_MS, fingerprintOf, keyReused } from './wait-answers.js';
import type { EventDelivery, EventInput, WaitService, WaitServiceOptions } from './wait-service-api.js';
import { receiveEvent, type WaitEvent, type WaitRecord, type WaitStore } from './waits.js';

/**
 * Wakes in a row before letting the event loop run (a store's calls may complete without
 * yielding): the runs woken so far commit their steps and finish meanwhile, so one event
 * waking 10,000 executions does not hold them all in memory at once.
 */
const YIELD_EVERY = 32;
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));
const PRUNE_EVERY_MS = 1000;

/** `sendEvent` and `signal` of the wait service; a woken wait goes to `wakeExecution`. */
export function createWaitEvents(
  o: WaitServiceOptions,
  waitsOf: () => WaitStore,
  wakeExecution: (w: WaitRecord) => Promise<void>,
): Pick<WaitService, 'sendEvent' | 'signal'> {
  const store = o.store;
  const clock = o.clock;

  /** Offers an event to a wait until it takes it, does not match, or is gone (optimistic retries). */
  const deliver = async (w: WaitRecord | undefined, event: WaitEvent): Promise<boolean> => {
    const ws = waitsOf();
    for (let tries = 0; w !== undefined && w.state === 'pending' && tries < 5; tries++) {
      const next = receiveEvent(w, event, clock.now());
      if (next === undefined) return false;
      if (await ws.claimWait(w.id, w.version, next)) {
        if (next.state === 'woken') await wakeExecution(next);
        return true;
      }
      w = await ws.getWait(w.id);
    }
    return false;
  };

  const accept = async (
    e: EventInput,
    executionId?: string,
  ): Promise<{ event: WaitEvent; accepted: boolean }> => {
    if (typeof e.name !== 'string' || e.name.length === 0)
      throw new ValidationError('an event needs a name', { details: { field: 'name' } });
    const ws = waitsOf();
    const now = clock.now();
    const event: WaitEvent = {
      name: e.name,
      id: e.id ?? randomUUID(),
      payload: e.payload ?? null,
      receivedAt: now,
    };
    if (executionId !== undefined) event.executionId = executionId;
    return { event, accepted: await inbox(ws, event) };
  };

  /**
   * The look-back prune, at most once per `PRUNE_EVERY_MS` (or per window, if shorter): it
   * only tidies (look-ups read the window anyway), so one per event would be wasted writes.
   */
  let prunedAt = Number.NEGATIVE_INFINITY;
  const pruneBefore = (now: number): number | undefined => {
    if (now - prunedAt < Math.min(PRUNE_EVERY_MS, o.lookBackMs)) return undefined;
    prunedAt = now;
    return now - o.lookBackMs;
  };

  /** Events of one event-loop turn, written with one `putEvents` (one commit) after it. */
  let turn:
    | { events: WaitEvent[]; done: { resolve(ok: boolean): void; reject(e: unknown): void }[] }
    | undefined;
  const flushTurn = () => {
    const t = turn!;
    turn = undefined;
    waitsOf().putEvents!(t.events, pruneBefore(clock.now())).then(
      (accepted) => {
        for (let i = 0; i < t.done.length; i++) t.done[i]!.resolve(accepted[i] === true);
      },
      (e: unknown) => {
        for (const d of t.done) d.reject(e);
      },
    );
  };
  /** Keeps an event in the inbox (durably, before any wait sees it); false when known already. */
  const inbox = async (ws: WaitStore, event: WaitEvent): Promise<boolean> => {
    if (ws.putEvents === undefined) {
      const accepted = await ws.putEvent(event);
      const before = accepted ? pruneBefore(event.receivedAt) : undefined;
      if (before !== undefined) void ws.pruneEvents(before).catch(() => {});
      return accepted;
    }
    return new Promise<boolean>((resolve, reject) => {
      if (turn === undefined) {
        turn = { events: [], done: [] };
        setImmediate(flushTurn);
      }
      turn.events.push(event);
      turn.done.push({ resolve, reject });
    });
  };

  const signalNow = async (
    executionId: string,
    name: string,
    payload: unknown,
    id: string | undefined,
  ): Promise<EventDelivery> => {
    const execution = await store.getExecution(executionId);
    if (execution === undefined)
      throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`, { retryable: false });
    const { event, accepted } = await accept(
      { name, payload, ...(id ? { id: `${executionId}:${id}` } : {}) },
      executionId,
    );
    if (!accepted) return { id: event.id, accepted, woken: 0 };
    let woken = 0;
    const waits = await waitsOf().listWaits({ executionId, state: 'pending' });
    for (const w of waits) if (w.events?.includes(name) && (await deliver(w, event))) woken++;
    return { id: event.id, accepted, woken };
  };

  const events: Pick<WaitService, 'sendEvent' | 'signal'> = {
    async sendEvent(e) {
      // A store without waits has nothing to wake (wait steps are refused there).
      if (store.waits === undefined) return { id: e.id ?? randomUUID(), accepted: true, woken: 0 };
      const { event, accepted } = await accept(e);
      if (!accepted) return { id: event.id, accepted, woken: 0 };
      let woken = 0;
      const waits = await waitsOf().waitsForEvent(event.name, event);
      for (let i = 0; i < waits.length; i++) {
        if (await deliver(waits[i]!, event)) woken++;
        if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop();
      }
      return { id: event.id, accepted, woken };
    },

    async signal(executionId, name, payload, id, options) {
      const ws = waitsOf();
      const key = id === undefined ? undefined : `signal:${executionId}:${name}:${id}`;
      const fingerprint = fingerprintOf(payload ?? null);
      if (key !== undefined && ws.getAnswer !== undefined) {
        const first = await ws.getAnswer(key, clock.now());
        if (first !== undefined) {
          if (first.fingerprint !== fingerprint) throw keyReused(id!);
          return first.answer as EventDelivery;
        }
      }
      const delivery = await signalNow(executionId, name, payload, id);
      if (key !== undefined && delivery.accepted && ws.putAnswer !== undefined) {
        const now = clock.now();
        const expiresAt = now + (options?.idempotencyTtlMs ?? DAY_MS);
        const first = await ws.putAnswer(key, { fingerprint, answer: delivery, expiresAt }, now);
        if (first !== undefined) return first.answer as EventDelivery;
      }
      return delivery;
    },
  };
  return events;
}

export { YIELD_EVERY, yieldToLoop };
