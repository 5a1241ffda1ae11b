import {
  DEFAULT_RETRYABLE_CODES,
  ErrorCode,
  ensureError,
  isOrchestr8Error,
  type Orchestr8Error,
} from '@orchestr8/common';

export interface RetryOptions {
  /** Attempts in total, the first included; 1 means no retry. */
  maxAttempts: number;
  baseDelayMs: number;
  /** Caps every wait between attempts, `retryAfterMs` included. */
  maxDelayMs: number;
  multiplier: number;
  /** `full`: a uniform random wait in [0, cap]; `none`: the cap itself. */
  jitter: 'full' | 'none';
  /** Error codes worth retrying; the error must also be `retryable`. */
  retryOn: readonly string[];
}

export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 'full',
  retryOn: DEFAULT_RETRYABLE_CODES,
});

/**
 * The wait before retry number `retryNumber` (1 for the wait after the first attempt): with
 * `cap = min(maxDelayMs, baseDelayMs * multiplier^(retryNumber - 1))`, full jitter gives
 * `random() * cap` and `none` gives `cap`. Never negative, never above the cap, finite even
 * when the exponent overflows.
 */
export function computeBackoff(retryNumber: number, options: RetryOptions, random: () => number): number {
  const base = options.baseDelayMs;
  const max = options.maxDelayMs;
  if (!(base > 0) || !(max > 0)) return 0;
  const raw = base * options.multiplier ** (retryNumber > 1 ? retryNumber - 1 : 0);
  // Not Math.min: `raw < max` is false for NaN and Infinity, so an overflowing exponent lands on the cap.
  // biome-ignore lint/complexity/useMathMinMax: see above
  const cap = raw < max ? raw : max;
  if (!(cap > 0)) return 0;
  if (options.jitter === 'none') return cap;
  const r = random();
  // A random() outside [0, 1] (or NaN) must not push the wait out of [0, cap].
  // biome-ignore lint/complexity/useMathMinMax: NaN must become 0, which Math.min/max would not do
  return (r > 0 ? (r < 1 ? r : 1) : 0) * cap;
}

/**
 * The wait before retry number `retryNumber` after `error`: the backoff, or the error's
 * `retryAfterMs` when that is longer, and in both cases at most `maxDelayMs`. The cap wins
 * over `retryAfterMs` so that `maxDelayMs` bounds every in-process wait (a step's worst case
 * stays computable); a caller that wants to honour long Retry-After values raises `maxDelayMs`,
 * or reads `retryAfterMs` on the final error and reschedules durably.
 */
export function computeRetryDelay(
  retryNumber: number,
  options: RetryOptions,
  random: () => number,
  error: Orchestr8Error,
): number {
  const backoff = computeBackoff(retryNumber, options, random);
  const after = error.retryAfterMs;
  if (typeof after === 'number' && after > backoff) {
    return Math.min(after, Math.max(0, options.maxDelayMs || 0));
  }
  return backoff;
}

/**
 * True when a retry may fix `error`: its code is in `retryOn` and the error says it is
 * `retryable`. VALIDATION, CANCELLED and CIRCUIT_OPEN never are, whatever `retryOn` says.
 * Non-orchestr8 values are normalised with `ensureError` first.
 */
export function isRetryable(error: unknown, retryOn: readonly string[] = DEFAULT_RETRYABLE_CODES): boolean {
  const e = isOrchestr8Error(error) ? error : ensureError(error);
  if (e.retryable !== true) return false;
  const code = e.code;
  if (code === ErrorCode.VALIDATION || code === ErrorCode.CANCELLED || code === ErrorCode.CIRCUIT_OPEN) {
    return false;
  }
  return retryOn.includes(code);
}
