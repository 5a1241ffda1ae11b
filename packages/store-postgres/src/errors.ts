import { ErrorCode, isOrchestr8Error, Orchestr8Error } from '@orchestr8/common';

/** The SQLSTATE of a PostgreSQL error (e.g. `23505`), or a Node socket code (`ECONNREFUSED`). */
export function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export const SqlState = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  undefinedTable: '42P01',
  invalidCatalogName: '3D000',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  tooManyConnections: '53300',
  adminShutdown: '57P01',
  cannotConnectNow: '57P03',
} as const;

const TRANSIENT = new Set<string>([
  SqlState.serializationFailure,
  SqlState.deadlockDetected,
  SqlState.tooManyConnections,
  SqlState.adminShutdown,
  SqlState.cannotConnectNow,
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
]);

/**
 * Turns a driver error into an Orchestr8Error with code STORE that names the database
 * (never the password) and says what went wrong in words. Orchestr8Errors (CONFLICT,
 * NOT_FOUND, ...) pass through unchanged.
 */
export function toStoreError(error: unknown, where: string, action: string): Orchestr8Error {
  if (isOrchestr8Error(error)) return error;
  const code = pgCode(error) ?? '';
  const reason = error instanceof Error ? error.message : String(error);
  const details = { database: where, sqlState: code || undefined, action };
  const make = (message: string, retryable = false) =>
    new Orchestr8Error(ErrorCode.STORE, message, { cause: error, details, retryable });

  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return make(
      `cannot connect to PostgreSQL at ${where} (${reason}) while trying to ${action}: is the server running and reachable?`,
      true,
    );
  }
  if (code === SqlState.invalidCatalogName)
    return make(`PostgreSQL database at ${where} does not exist (${reason}); create it first`);
  if (code === SqlState.invalidPassword || code === SqlState.invalidAuthorization)
    return make(`PostgreSQL at ${where} refused the credentials (${reason})`);
  if (code === SqlState.deadlockDetected || code === SqlState.serializationFailure)
    return make(
      `PostgreSQL at ${where}: a concurrent transaction conflicted while trying to ${action}`,
      true,
    );
  return make(`postgres store ${where}: failed to ${action}: ${reason}`, TRANSIENT.has(code));
}

/** True for errors worth retrying the whole transaction for (deadlock, serialization). */
export function isTransactionConflict(error: unknown): boolean {
  const code = pgCode(error);
  return code === SqlState.deadlockDetected || code === SqlState.serializationFailure;
}
