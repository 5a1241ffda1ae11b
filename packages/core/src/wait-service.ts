/**
 * The engine's wait service: the timer that wakes due waits (timers, deadlines, timeouts) and
 * scans the store for them, and the wake of a claimed wait (its live run, or a resume). Events
 * and signals are in wait-events.ts, approvals in wait-approvals.ts, the API in wait-service-api.ts.
 */
import { ErrorCode, Orchestr8Error, type TimerHandle } from '@orchestr8/common';
import { TERMINAL_EXECUTION_STATUSES } from './types.js';
import { createWaitApprovals } from './wait-approvals.js';
import { DEADLINE_STEP } from './wait-deadline.js';
import { createWaitEvents, YIELD_EVERY, yieldToLoop } from './wait-events.js';
import type { WaitService, WaitServiceOptions } from './wait-service-api.js';
import { type WaitRecord, type WaitStore, waitId } from './waits.js';

export type {
  ApprovalsQuery,
  Decision,
  DecisionResult,
  EventDelivery,
  EventInput,
  SignalOptions,
  WaitService,
  WaitServiceOptions,
} from './wait-service-api.js';

const SCAN_BATCH = 500;

export function createWaitService(o: WaitServiceOptions): WaitService {
  const store = o.store;
  const clock = o.clock;
  let timer: TimerHandle | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let scanning = false;
  let again = false;
  let closed = false;

  const waitsOf = (): WaitStore => {
    if (store.waits === undefined)
      throw new Orchestr8Error(ErrorCode.VALIDATION, `the ${store.kind} store does not support waits`, {
        retryable: false,
      });
    return store.waits;
  };

  const schedule = (at: number) => {
    if (closed || at >= timerAt) return;
    timer?.cancel();
    timerAt = at;
    // Timers never keep the process alive: the server (or the run waiting for a result) does.
    timer = clock.setTimeout(
      () => {
        timer = undefined;
        timerAt = Number.POSITIVE_INFINITY;
        void scan();
      },
      Math.max(0, at - clock.now()),
      { unref: true },
    );
  };

  /**
   * Takes an execution from `waiting` (the one process that wins resumes it). Its deadline
   * (`policies.timeout.global`) goes first: the resumed run keeps its own timer, and parks a
   * new deadline if it waits again.
   */
  const take = async (executionId: string, deadline = true): Promise<boolean> => {
    const ws = waitsOf();
    if (!(await ws.takeWaitingExecution(executionId, clock.now()))) return false;
    if (deadline) await ws.deleteWait(waitId(executionId, DEADLINE_STEP)).catch(() => {});
    return true;
  };

  /** A claimed (woken) wait: its step runs again in the live run, or its execution resumes. */
  const wakeExecution = async (w: WaitRecord): Promise<void> => {
    if (o.wakeLive(w.executionId, w.stepId)) return;
    if (o.isLive(w.executionId)) return; // leaving memory now: parked() picks it up
    const ws = waitsOf();
    // A wait registered by a run without a global timeout says so: no deadline to drop.
    if (await take(w.executionId, w.deadline !== false)) {
      await o.resume(w.executionId);
      return;
    }
    // Not waiting: running in some process (which finds the outcome when the step runs),
    // or finished, when the wait is left over.
    const e = await store.getExecution(w.executionId);
    if (e === undefined || TERMINAL_EXECUTION_STATUSES.has(e.status)) await ws.deleteWait(w.id);
  };

  const fire = async (w: WaitRecord, now: number): Promise<void> => {
    if (w.state === 'woken') return wakeExecution(w);
    const next: WaitRecord = {
      ...w,
      state: 'woken',
      version: w.version + 1,
      outcome: { kind: w.kind === 'timer' || w.kind === 'until' ? 'fired' : 'timedOut', at: now },
    };
    if (await waitsOf().claimWait(w.id, w.version, next)) await wakeExecution(next);
  };

  const scan = async (): Promise<void> => {
    if (closed || store.waits === undefined) return;
    if (scanning) {
      again = true;
      return;
    }
    scanning = true;
    try {
      do {
        again = false;
        const now = clock.now();
        const due = await store.waits.dueWaits(now, SCAN_BATCH);
        for (let i = 0; i < due.length; i++) {
          const w = due[i]!;
          try {
            await fire(w, now);
          } catch (e) {
            o.logger.warn(`could not wake wait ${w.id}: ${(e as Error).message}`, { waitId: w.id });
          }
          if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop();
        }
        // Woken waits of executions running elsewhere stay: do not spin on them.
        if (due.length === SCAN_BATCH && due.some((w) => w.state === 'pending')) again = true;
      } while (again && !closed);
      // A cancel request for an execution that only waits: bring it back, so its resume honours it.
      for (const id of await store.waits.waitingCancels()) {
        if (await take(id)) await o.resume(id);
      }
      if (o.afterScan !== undefined) await o.afterScan();
      const next = await store.waits.nextDueAt();
      const now = clock.now();
      const poll = o.pollMs > 0 ? now + o.pollMs : Number.POSITIVE_INFINITY;
      const at = next === undefined ? poll : Math.min(next, poll);
      if (Number.isFinite(at)) schedule(at);
    } catch (e) {
      o.logger.warn(`could not look for due waits: ${(e as Error).message}`);
      if (o.pollMs > 0) schedule(clock.now() + o.pollMs);
    } finally {
      scanning = false;
    }
  };

  const events = createWaitEvents(o, waitsOf, wakeExecution);
  const decisions = createWaitApprovals(o, waitsOf, wakeExecution);

  const service: WaitService = {
    start() {
      void scan();
    },

    registered(w) {
      if (w.dueAt !== undefined) schedule(w.dueAt);
    },

    sendEvent: events.sendEvent,
    signal: events.signal,
    decide: decisions.decide,
    approvals: decisions.approvals,

    parked(executionId) {
      const ws = store.waits;
      if (ws === undefined) return;
      void ws
        .listWaits({ executionId, state: 'woken' })
        .then(async (woken) => {
          if (woken.length > 0 && (await take(executionId))) await o.resume(executionId);
        })
        .catch((e) =>
          o.logger.warn(`could not resume ${executionId} after its wait: ${(e as Error).message}`),
        );
    },

    close() {
      closed = true;
      timer?.cancel();
      timer = undefined;
    },
  };
  return service;
}
