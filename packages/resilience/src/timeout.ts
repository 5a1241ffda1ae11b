import { type Clock, systemClock, TimeoutError, ValidationError } from '@orchestr8/common';
import { type AbortListener, abortError, CancelToken, rootToken } from './cancel-token.js';
import { type DeadlineEntry, type DeadlineQueue, deadlineQueue } from './deadline-queue.js';

/** Node turns longer timer delays into 1 ms, so they are refused rather than silently shortened. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/** How a layer starts the work it guards, without a closure per call. */
export type Invoker<A, B, T> = (a: A, b: B, token: CancelToken) => Promise<T>;

export function checkTimeoutMs(timeoutMs: number): void {
  if (!(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new ValidationError(`timeoutMs must be a number of ms in (0, ${MAX_TIMEOUT_MS}], got ${timeoutMs}`);
  }
}

/** One guarded call: settles at the first of the work settling, the deadline, the parent aborting. */
class TimeoutRace<A, T> implements AbortListener, DeadlineEntry {
  prevListener: AbortListener | undefined = undefined;
  nextListener: AbortListener | undefined = undefined;
  deadline = 0;
  prevEntry: DeadlineEntry | undefined = undefined;
  nextEntry: DeadlineEntry | undefined = undefined;
  readonly child = new CancelToken(undefined);
  settled = false;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;

  constructor(
    private readonly parent: CancelToken,
    readonly deadlines: DeadlineQueue,
    private readonly timeoutMs: number,
    private readonly a: A,
    private readonly onTimedOut: ((a: A, timeoutMs: number) => void) | undefined,
  ) {}

  onAbort(reason: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.deadlines.remove(this);
    const error = abortError(reason);
    this.child.abort(error);
    this.reject(error);
  }

  onDeadline(): void {
    if (this.settled) return;
    this.settled = true;
    this.parent.unsubscribe(this);
    const error = new TimeoutError(`timed out after ${this.timeoutMs}ms`, {
      details: { timeoutMs: this.timeoutMs },
    });
    this.child.abort(error);
    if (this.onTimedOut !== undefined) this.onTimedOut(this.a, this.timeoutMs);
    this.reject(error);
  }

  onValue(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.deadlines.remove(this);
    this.parent.unsubscribe(this);
    this.resolve(value);
  }

  onError(error: unknown): void {
    // Abandoned at the deadline or on abort: the late rejection is handled (dropped) here.
    if (this.settled) return;
    this.settled = true;
    this.deadlines.remove(this);
    this.parent.unsubscribe(this);
    this.reject(error);
  }
}

/**
 * Runs `invoke(a, b, child)` against a deadline. The child token aborts at the deadline
 * (reason: a TimeoutError) or when `parent` aborts (reason: abortError of the parent's). The
 * returned promise settles at that moment even if the work ignores its signal: the work is
 * abandoned, its late result ignored, and its late rejection handled here so it never becomes
 * an unhandled rejection.
 */
export function raceTimeout<A, B, T>(
  invoke: Invoker<A, B, T>,
  a: A,
  b: B,
  timeoutMs: number,
  clock: Clock,
  parent: CancelToken,
  onTimedOut: ((a: A, timeoutMs: number) => void) | undefined,
): Promise<T> {
  if (parent.aborted) return Promise.reject(abortError(parent.reason));
  const race = new TimeoutRace<A, T>(parent, deadlineQueue(clock, timeoutMs), timeoutMs, a, onTimedOut);
  const promise = new Promise<T>((resolve, reject) => {
    race.resolve = resolve;
    race.reject = reject;
  });
  race.deadlines.add(race);
  parent.subscribe(race);
  let work: Promise<T>;
  try {
    work = invoke(a, b, race.child);
  } catch (e) {
    work = Promise.reject(e);
  }
  work.then(
    (value) => race.onValue(value),
    (error: unknown) => race.onError(error),
  );
  return promise;
}

const callWithSignal = <T>(fn: (signal: AbortSignal) => Promise<T> | T, _b: undefined, token: CancelToken) =>
  Promise.resolve(fn(token.signal));

/**
 * Runs `fn` with a signal that aborts after `timeoutMs` (on the injected clock) or when
 * `options.signal` aborts, and settles at that moment even if `fn` ignores the signal.
 * Rejects with a TimeoutError (code TIMEOUT) at the deadline.
 */
export function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  timeoutMs: number,
  options: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<T> {
  try {
    checkTimeoutMs(timeoutMs);
  } catch (e) {
    return Promise.reject(e);
  }
  const clock = options.clock ?? systemClock;
  return raceTimeout(
    callWithSignal<T>,
    fn,
    undefined,
    timeoutMs,
    clock,
    rootToken(options.signal),
    undefined,
  );
}
