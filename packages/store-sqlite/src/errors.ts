import { ErrorCode, isOrchestr8Error, Orchestr8Error } from '@orchestr8/common';

/** The SQLite result code (e.g. `SQLITE_BUSY`, `SQLITE_CONSTRAINT_FOREIGNKEY`) of a driver error. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Turns a driver error into an Orchestr8Error with code STORE that names the database
 * file and says what went wrong in words. Orchestr8Errors (CONFLICT, NOT_FOUND, ...)
 * pass through unchanged.
 */
export function toStoreError(
  error: unknown,
  path: string,
  action: string,
  busyTimeoutMs: number,
): Orchestr8Error {
  if (isOrchestr8Error(error)) return error;
  const code = sqliteCode(error) ?? '';
  const reason = error instanceof Error ? error.message : String(error);
  const details = { path, sqliteCode: code || undefined, action };
  const make = (message: string, retryable = false) =>
    new Orchestr8Error(ErrorCode.STORE, message, { cause: error, details, retryable });

  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return make(
      `sqlite database ${path} is locked by another connection (still locked after waiting ${busyTimeoutMs} ms) while trying to ${action}`,
      true,
    );
  }
  if (code === 'SQLITE_NOTADB') {
    return make(
      `${path} is not an SQLite database (${reason}); refusing to use it, and it was left untouched`,
    );
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return make(
      `sqlite database ${path} is corrupt (${reason}) while trying to ${action}; restore it from a backup`,
    );
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_PERM') ||
    code.startsWith('SQLITE_AUTH')
  ) {
    return make(`sqlite database ${path} is not writable (${reason}) while trying to ${action}`);
  }
  if (code.startsWith('SQLITE_CANTOPEN') || /unable to open/i.test(reason)) {
    return make(
      `cannot open sqlite database ${path} (${reason}): check that the location exists and is writable`,
    );
  }
  if (code === 'SQLITE_FULL') return make(`disk full writing sqlite database ${path}`);
  if (code.startsWith('SQLITE_IOERR'))
    return make(`I/O error on sqlite database ${path} while trying to ${action} (${reason})`);
  return make(`sqlite store ${path}: failed to ${action}: ${reason}`);
}
