import { createHash, randomUUID } from 'node:crypto';
import { type Clock, ErrorCode, Orchestr8Error, type TimerHandle, ValidationError } from '@orchestr8/common';
import type { AgentLogger } from './agent.js';
import { checkAgainstSchema } from './agent-schema.js';
import type { Store } from './store.js';
import { TERMINAL_EXECUTION_STATUSES } from './types.js';
import { DEADLINE_STEP } from './wait-deadline.js';
import { receiveEvent, type WaitEvent, type WaitRecord, type WaitStore, waitId } from './waits.js';

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
  /** The pending approvals (waits of kind approval), oldest first. */
  approvals(): Promise<WaitRecord[]>;
  /** After a run left memory: resumes it at once if one of its waits was woken meanwhile. */
  parked(executionId: string): void;
  close(): void;
}

const SCAN_BATCH = 500;
/**
 * Wakes in a row before letting the event loop run (a store's calls may complete without
 * yielding): the runs woken so far commit their steps and finish meanwhile, so one event
 * waking 10,000 executions does not hold them all in memory at once.
 */
const YIELD_EVERY = 32;
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));
const DAY_MS = 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 1000;

/** A key reused for a different request: refused like execute's (the server answers 422). */
function keyReused(key: string): Orchestr8Error {
  return new Orchestr8Error(
    ErrorCode.CONFLICT,
    `idempotency key "${key}" was already used for a different request`,
    { retryable: false, details: { idempotencyKeyReused: true } },
  );
}

function fingerprintOf(v: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(v) ?? 'null')
    .digest('hex');
}

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

  /** A step in one of these can no longer be decided: deciding it is a conflict, not a 404. */
  const FINISHED_STEP: ReadonlySet<string> = new Set(['completed', 'failed', 'skipped', 'cancelled']);

  const decideNow = async (
    executionId: string,
    stepId: string,
    d: Decision,
    remember: (r: DecisionResult) => Promise<void>,
  ): Promise<DecisionResult> => {
    const ws = waitsOf();
    const w = await ws.getWait(waitId(executionId, stepId));
    if (w === undefined || w.kind !== 'approval') {
      // A step that has finished (decided, timed out, cancelled) is a conflict, not a missing
      // step: a client retrying a decision learns how it ended.
      const step =
        w === undefined ? (await store.getSteps(executionId)).find((s) => s.stepId === stepId) : undefined;
      if (step !== undefined && FINISHED_STEP.has(step.status))
        throw new Orchestr8Error(
          ErrorCode.CONFLICT,
          `step "${stepId}" of execution "${executionId}" no longer waits for a decision: it is ${step.status}${
            step.error?.code !== undefined ? ` (${step.error.code})` : ''
          }`,
          { retryable: false, details: { status: step.status } },
        );
      throw new Orchestr8Error(
        ErrorCode.NOT_FOUND,
        `step "${stepId}" of execution "${executionId}" is not waiting for a decision`,
        { retryable: false },
      );
    }
    if (w.state !== 'pending')
      throw new Orchestr8Error(ErrorCode.CONFLICT, `step "${stepId}" was already decided`, {
        retryable: false,
      });
    const approvers = w.approval?.approvers;
    if (approvers !== undefined && (d.by === undefined || !approvers.includes(d.by)))
      throw new Orchestr8Error(
        ErrorCode.CAPABILITY_DENIED,
        `${d.by === undefined ? 'an anonymous decision' : `"${d.by}"`} may not decide step "${stepId}" (approvers: ${approvers.join(', ')})`,
        { retryable: false, details: { approvers } },
      );
    const data = d.data ?? {};
    if (d.decision === 'approve' && w.approval?.form !== undefined) {
      try {
        checkAgainstSchema(w.approval.form, data, 'the form data');
      } catch (e) {
        // "... invalid at /amount must be number": the pointer names the field.
        const m = /invalid at (\S*) (.*)$/.exec((e as Error).message);
        const at = m?.[1] === '/' ? '' : (m?.[1] ?? '');
        throw new ValidationError(
          `the form data is invalid: ${m ? `${at || '/'} ${m[2]}` : (e as Error).message}`,
          {
            details: [
              { code: 'E_FORM', severity: 'error', pointer: `/data${at}`, message: m?.[2] ?? 'is invalid' },
            ],
          },
        );
      }
    }
    const next: WaitRecord = {
      ...w,
      state: 'woken',
      version: w.version + 1,
      outcome: { kind: d.decision === 'approve' ? 'approved' : 'rejected', at: clock.now(), data },
    };
    if (d.by !== undefined) next.outcome!.by = d.by;
    if (d.comment !== undefined) next.outcome!.comment = d.comment;
    if (!(await ws.claimWait(w.id, w.version, next)))
      throw new Orchestr8Error(ErrorCode.CONFLICT, `step "${stepId}" was already decided`, {
        retryable: false,
      });
    const result: DecisionResult = {
      executionId,
      stepId,
      decision: d.decision === 'approve' ? 'approved' : 'rejected',
      ...(d.by !== undefined ? { by: d.by } : {}),
      decidedAt: new Date(next.outcome!.at).toISOString(),
    };
    await remember(result);
    await wakeExecution(next);
    return result;
  };

  const service: WaitService = {
    start() {
      void scan();
    },

    registered(w) {
      if (w.dueAt !== undefined) schedule(w.dueAt);
    },

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

    async decide(executionId, stepId, d) {
      const ws = waitsOf();
      const key =
        d.idempotencyKey === undefined
          ? undefined
          : `decide:${waitId(executionId, stepId)}:${d.idempotencyKey}`;
      const fingerprint = fingerprintOf([d.decision, d.by ?? null, d.data ?? null, d.comment ?? null]);
      const firstAnswer = async (): Promise<DecisionResult | undefined> => {
        if (key === undefined || ws.getAnswer === undefined) return undefined;
        const first = await ws.getAnswer(key, clock.now());
        if (first === undefined) return undefined;
        if (first.fingerprint !== fingerprint) throw keyReused(d.idempotencyKey!);
        return first.answer as DecisionResult;
      };
      const earlier = await firstAnswer();
      if (earlier !== undefined) return earlier;
      let result: DecisionResult;
      try {
        result = await decideNow(executionId, stepId, d, async (r) => {
          // Remembered before the execution wakes: a repeat from now on gets this answer.
          if (key === undefined || ws.putAnswer === undefined) return;
          const now = clock.now();
          const expiresAt = now + (d.idempotencyTtlMs ?? DAY_MS);
          await ws.putAnswer(key, { fingerprint, answer: r, expiresAt }, now);
        });
      } catch (e) {
        // A concurrent repeat may have decided first: its answer is this one's.
        const raced = key !== undefined && (e as Orchestr8Error).code === ErrorCode.CONFLICT;
        const first = raced ? await firstAnswer() : undefined;
        if (first !== undefined) return first;
        throw e;
      }
      return result;
    },

    async approvals() {
      return waitsOf().listWaits({ kind: 'approval', state: 'pending' });
    },

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
