/**
 * @module @orchestr8/resilience
 * Retry with full-jitter backoff, per-attempt timeouts through AbortSignal, and circuit
 * breakers (opossum) keyed by dependency, composed in a configurable order
 * (default `retry(circuitBreaker(timeout(attempt)))`). Time is an injected Clock, so every
 * policy runs on a fake clock in tests. Knows nothing about workflows.
 *
 * @example
 * import { createResilience } from '@orchestr8/resilience';
 * import { DEFAULT_RETRYABLE_CODES } from '@orchestr8/common';
 *
 * const resilience = createResilience();
 * const body = await resilience.execute(({ signal }) => fetch(url, { signal }).then((r) => r.text()), {
 *   retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5_000, multiplier: 2, jitter: 'full', retryOn: DEFAULT_RETRYABLE_CODES },
 *   timeoutMs: 2_000,
 *   circuitBreaker: { key: 'http|api.example.com', failureThreshold: 5, resetTimeoutMs: 60_000 },
 * });
 */

export { CancelToken } from './cancel-token.js';
export {
  Circuit,
  type CircuitBreakerOptions,
  CircuitBreakerRegistry,
  type CircuitSnapshot,
  type CircuitState,
  type CircuitTransition,
  countsAsFailure,
  DEFAULT_CIRCUIT_BREAKER_OPTIONS,
} from './circuit-breaker.js';
export {
  type AttemptContext,
  createResilience,
  DEFAULT_COMPOSITION,
  type PolicyName,
  type Resilience,
  type ResilienceHooks,
  type ResilienceOptions,
} from './resilience.js';
export {
  computeBackoff,
  computeRetryDelay,
  DEFAULT_RETRY_OPTIONS,
  isRetryable,
  type RetryOptions,
} from './retry-policy.js';
export { MAX_TIMEOUT_MS, withTimeout } from './timeout.js';
