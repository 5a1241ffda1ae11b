/**
 * Paging of execution listings, shared by every store: page sizes and the opaque cursor
 * (the last item's createdAt and id, newest first).
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface ExecutionCursor {
  createdAt: number;
  id: string;
}

/** The page size for a requested limit (default 100, at most 1000); VALIDATION for a bad one. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isFinite(limit) || limit < 1) {
    throw new Orchestr8Error(ErrorCode.VALIDATION, `invalid page limit: ${limit}`);
  }
  return Math.min(Math.floor(limit), MAX_PAGE_SIZE);
}

/** The cursor after `e`: an execution of a listing, or a wait (GET /approvals pages by the same position). */
export function encodeCursor(e: ExecutionCursor): string {
  return Buffer.from(JSON.stringify([e.createdAt, e.id])).toString('base64url');
}

/** The position a cursor names; VALIDATION for anything that is not one of ours. */
export function decodeCursor(cursor: string): ExecutionCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new Orchestr8Error(ErrorCode.VALIDATION, `invalid cursor: ${cursor}`);
}

/**
 * The least string above every string that starts with `prefix` in code point order (UTF-8
 * byte order: SQLite's BINARY collation, PostgreSQL's "C"): its last code point plus one. So a
 * prefix becomes an index range, `>= prefix AND < prefixEnd(prefix)`.
 */
export function prefixEnd(prefix: string): string {
  const chars = [...prefix];
  while (chars.length > 0) {
    const last = chars.pop()!.codePointAt(0)!;
    if (last < 0x10ffff)
      return chars.join('') + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
  }
  // Only U+10FFFF in the prefix (no id or correlation id of ours): the highest bound there is.
  return `${prefix}\u{10ffff}`;
}
