/**
 * @module @orchestr8/common
 * The error taxonomy, the injectable clock and the problem details (RFC 9457) of the HTTP
 * surfaces, shared by every orchestr8 package.
 *
 * @example
 * import { RetryableError, systemClock } from '@orchestr8/common';
 * throw new RetryableError('upstream busy', { retryAfterMs: 500 });
 */

export * from './clock.js';
export * from './errors.js';
export { safeJsonStringify } from './json.js';
export * from './problem.js';
export { sendProblem } from './send-problem.js';
