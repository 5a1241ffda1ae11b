import {
  createFakeClock,
  DEFAULT_RETRYABLE_CODES,
  type FakeClock,
  type Orchestr8Error,
} from '@orchestr8/common';
import { createResilience, type Resilience, type RetryOptions } from '../src/index.js';

export interface Outcome<T> {
  settled: boolean;
  value?: T;
  error?: Orchestr8Error;
  /** clock.monotonic() when it settled. */
  at: number;
}

/** Records how and when a promise settles, on the fake clock's time. */
export function track<T>(clock: FakeClock, promise: Promise<T>): Outcome<T> {
  const out: Outcome<T> = { settled: false, at: -1 };
  promise.then(
    (value) => {
      Object.assign(out, { settled: true, value, at: clock.monotonic() });
    },
    (error: Orchestr8Error) => {
      Object.assign(out, { settled: true, error, at: clock.monotonic() });
    },
  );
  return out;
}

export function setup(random: () => number = () => 0.5): { clock: FakeClock; resilience: Resilience } {
  const clock = createFakeClock();
  return { clock, resilience: createResilience({ clock, random }) };
}

/** No jitter, constant delay: waits are easy to read in assertions. */
export function fixedRetry(
  maxAttempts: number,
  delayMs: number,
  extra: Partial<RetryOptions> = {},
): RetryOptions {
  return {
    maxAttempts,
    baseDelayMs: delayMs,
    maxDelayMs: delayMs,
    multiplier: 1,
    jitter: 'none',
    retryOn: DEFAULT_RETRYABLE_CODES,
    ...extra,
  };
}

/** A promise that never settles and never looks at its signal. */
export const hang = (): Promise<never> => new Promise<never>(() => {});

/** Settles only when the signal aborts, with its reason (a well-behaved attempt). */
export const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

/** A deterministic PRNG (mulberry32) for distribution tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
