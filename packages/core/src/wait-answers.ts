/**
 * Remembered answers of signals and decisions sent with an idempotency key: the request's
 * fingerprint, how long an answer is kept by default, and the error for a key reused.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';

const DAY_MS = 24 * 60 * 60 * 1000;

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

export { DAY_MS, fingerprintOf, keyReused };
