import { ErrorCode, Orchestr8Error, RetryableError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { computeBackoff, computeRetryDelay, DEFAULT_RETRY_OPTIONS, type RetryOptions } from '../src/index.js';
import { seededRandom } from './helpers.js';

const options: RetryOptions = {
  ...DEFAULT_RETRY_OPTIONS,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  multiplier: 2,
  jitter: 'full',
};
const capOf = (n: number) =>
  Math.min(options.maxDelayMs, options.baseDelayMs * options.multiplier ** (n - 1));

describe('computeBackoff', () => {
  it('never goes above min(maxDelay, base * multiplier^(n-1)) nor below zero, whatever random returns', () => {
    const randoms = [0, 1e-9, 0.25, 0.5, 0.999999, 1, -3, 7, Number.NaN];
    for (let n = 1; n <= 40; n++) {
      for (const r of randoms) {
        const delay = computeBackoff(n, options, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(capOf(n));
      }
    }
  });

  it('uses the cap itself when jitter is none', () => {
    const none = { ...options, jitter: 'none' } as const;
    expect([1, 2, 3, 4, 6, 7, 50].map((n) => computeBackoff(n, none, () => 0))).toEqual([
      100, 200, 400, 800, 3200, 5000, 5000,
    ]);
  });

  it('scales the cap by the random number with full jitter', () => {
    expect(computeBackoff(3, options, () => 0.25)).toBe(100);
    expect(computeBackoff(1, options, () => 0)).toBe(0);
  });

  it('stays finite when the exponent overflows and is zero for a zero base', () => {
    const none = { ...options, jitter: 'none' } as const;
    expect(computeBackoff(5_000, none, Math.random)).toBe(5_000);
    expect(computeBackoff(5_000, { ...none, baseDelayMs: 0 }, Math.random)).toBe(0);
    expect(computeBackoff(3, { ...none, multiplier: 0 }, Math.random)).toBe(0);
  });

  it('spreads full jitter uniformly: the mean is about half the cap', () => {
    const random = seededRandom(42);
    const samples = 20_000;
    for (const n of [1, 4, 10]) {
      let sum = 0;
      let below = 0;
      for (let i = 0; i < samples; i++) {
        const d = computeBackoff(n, options, random);
        sum += d;
        if (d < capOf(n) / 4) below++;
      }
      expect(sum / samples / capOf(n)).toBeCloseTo(0.5, 1);
      expect(below / samples).toBeCloseTo(0.25, 1);
    }
  });
});

describe('computeRetryDelay', () => {
  const none = { ...options, jitter: 'none' } as const;

  it('waits for retryAfterMs when it is longer than the backoff', () => {
    const error = new RetryableError('busy', { retryAfterMs: 1_500 });
    expect(computeRetryDelay(1, none, Math.random, error)).toBe(1_500);
  });

  it('keeps the backoff when retryAfterMs is shorter', () => {
    const error = new RetryableError('busy', { retryAfterMs: 10 });
    expect(computeRetryDelay(3, none, Math.random, error)).toBe(400);
  });

  it('caps retryAfterMs at maxDelayMs', () => {
    const error = new Orchestr8Error(ErrorCode.HTTP_429, 'slow down', { retryAfterMs: 60_000 });
    expect(computeRetryDelay(1, none, Math.random, error)).toBe(5_000);
  });
});
