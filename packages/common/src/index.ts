/**
 * @module @orchestr8/common
 * The error taxonomy and the injectable clock shared by every orchestr8 package.
 *
 * @example
 * import { RetryableError, systemClock } from '@orchestr8/common';
 * throw new RetryableError('upstream busy', { retryAfterMs: 500 });
 */

export * from './clock.js';
export * from './errors.js';
export { safeJsonStringify } from './json.js';
