/**
 * Time is injected everywhere (backoff, timeouts, circuit reset windows, journal
 * timestamps) so that tests run on a fake clock in milliseconds.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface TimerOptions {
  unref?: boolean;
}

export interface Clock {
  /** Wall-clock time in epoch milliseconds. */
  now(): number;
  /** Monotonic milliseconds, for durations. */
  monotonic(): number;
  /**
   * `unref: true` for housekeeping timers (polls, sweeps) that must not keep the process
   * alive on their own; clocks without a process (the fake clock) ignore it.
   */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function sleepWith(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      handle.cancel();
      reject(signal!.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms, options) {
    const t = setTimeout(fn, ms);
    if (options?.unref) t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  sleep(ms, signal) {
    return sleepWith(systemClock, ms, signal);
  },
};

export interface FakeClock extends Clock {
  /** Moves time forward, firing due timers in order; awaits microtasks between timers. */
  advance(ms: number): Promise<void>;
  /** Advances to the next pending timer, if any, and fires it. */
  next(): Promise<boolean>;
  /** Runs timers until none are left (or `limit` fired). */
  runAll(limit?: number): Promise<number>;
  pending(): number;
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}

/** A deterministic clock for tests: time moves only when the test says so. */
export function createFakeClock(start = 1_700_000_000_000): FakeClock {
  let now = start;
  let mono = 0;
  let seq = 0;
  let timers: FakeTimer[] = [];
  const fire = (t: FakeTimer) => {
    timers = timers.filter((x) => x !== t);
    if (!t.cancelled) t.fn();
  };
  const earliest = () =>
    timers.reduce<FakeTimer | undefined>(
      (a, t) => (!a || t.at < a.at || (t.at === a.at && t.seq < a.seq) ? t : a),
      undefined,
    );
  const clock: FakeClock = {
    now: () => now,
    monotonic: () => mono,
    setTimeout(fn, ms) {
      const t: FakeTimer = { at: mono + Math.max(0, ms), seq: seq++, fn, cancelled: false };
      timers.push(t);
      return {
        cancel: () => {
          t.cancelled = true;
          timers = timers.filter((x) => x !== t);
        },
      };
    },
    sleep(ms, signal) {
      return sleepWith(clock, ms, signal);
    },
    async advance(ms) {
      await flushMicrotasks();
      const target = mono + ms;
      for (;;) {
        const t = earliest();
        if (!t || t.at > target) break;
        now += t.at - mono;
        mono = t.at;
        fire(t);
        await flushMicrotasks();
      }
      now += target - mono;
      mono = target;
      await flushMicrotasks();
    },
    async next() {
      await flushMicrotasks();
      const t = earliest();
      if (!t) return false;
      now += t.at - mono;
      mono = t.at;
      fire(t);
      await flushMicrotasks();
      return true;
    },
    async runAll(limit = 10_000) {
      let n = 0;
      while (n < limit && (await clock.next())) n++;
      return n;
    },
    pending: () => timers.length,
  };
  return clock;
}
