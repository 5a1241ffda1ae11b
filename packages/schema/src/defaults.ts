import { DEFAULT_RETRYABLE_CODES } from '@orchestr8/common';

/**
 * The defaults of every optional policy field. The JSON Schema documents these same
 * values (`default`), and compileWorkflow applies them: one source for both.
 */
export const DEFAULTS = {
  retry: {
    maxAttempts: 3,
    baseDelayMs: 100,
    maxDelayMs: 30_000,
    multiplier: 2,
    jitter: 'full',
    retryOn: DEFAULT_RETRYABLE_CODES,
  },
  circuitBreaker: { failureThreshold: 5, resetTimeoutMs: 60_000 },
  composition: 'retry(circuitBreaker(timeout(attempt)))',
  maxConcurrentSteps: 10,
  gracePeriodMs: 5_000,
  onError: 'fail',
  trigger: 'all_succeeded',
  forEachConcurrency: 1,
} as const;

export type PolicyName = 'retry' | 'circuitBreaker' | 'timeout';

const POLICY_NAMES: readonly PolicyName[] = ['retry', 'circuitBreaker', 'timeout'];

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [xs.slice()];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** The six accepted compositions, e.g. `retry(circuitBreaker(timeout(attempt)))`, outermost first. */
export const COMPOSITIONS: readonly string[] = permutations(POLICY_NAMES).map(
  (order) => `${order.join('(')}(attempt${')'.repeat(order.length)}`,
);

/** `['retry', 'circuitBreaker', 'timeout']` from `"retry(circuitBreaker(timeout(attempt)))"`. */
export function parseComposition(text: string): PolicyName[] {
  const names = text.replace(/\s+/g, '').replace(/\)+$/, '').split('(');
  names.pop(); // "attempt"
  return names as PolicyName[];
}
