/**
 * What retry and the console's listing need from the SQLite store: `reopenExecution` (a
 * conditional write under the write lock) and the time-range and id-prefix filters.
 */
import type { Clock } from '@orchestr8/common';
import type {
  ExecutionQuery,
  ExecutionStatus,
  IdempotencyClaim,
  ReopenResult,
  StoreWrite,
} from '@orchestr8/core';
import type Database from 'libsql';
import { toIdempotency } from './rows.js';

type Row = Record<string, unknown>;

/** Which of the optional filters a listing uses: the shape of its prepared statement. */
export interface ListRange {
  since: boolean;
  until: boolean;
  id: boolean;
}

export const NO_RANGE: ListRange = { since: false, until: false, id: false };

export function listRange(q: ExecutionQuery): ListRange {
  if (q.since === undefined && q.until === undefined && q.idPrefix === undefined) return NO_RANGE;
  return { since: q.since !== undefined, until: q.until !== undefined, id: q.idPrefix !== undefined };
}

/** In the order of `listRangeParams`. */
export function listRangeWhere(r: ListRange): string[] {
  const where: string[] = [];
  if (r.since) where.push('created_at >= ?');
  if (r.until) where.push('created_at < ?');
  // Compared exactly (LIKE would read % and _ as wildcards).
  if (r.id) where.push('substr(id, 1, length(?)) = ?');
  return where;
}

export function listRangeParams(q: ExecutionQuery): (string | number)[] {
  const params: (string | number)[] = [];
  if (q.since !== undefined) params.push(q.since);
  if (q.until !== undefined) params.push(q.until);
  if (q.idPrefix !== undefined) params.push(q.idPrefix, q.idPrefix);
  return params;
}

interface Statements {
  getStatus: Database.Statement;
  deleteExpiredClaim: Database.Statement;
  findLiveClaim: Database.Statement;
  insertClaim: Database.Statement;
}

const dropCancels = new WeakMap<Database.Database, Database.Statement>();

/** The body of `reopenExecution`, run inside a `BEGIN IMMEDIATE` transaction (the write lock). */
export function reopenInTransaction(
  db: Database.Database,
  s: Statements,
  applyWrite: (w: StoreWrite) => void,
  clock: Clock,
  executionId: string,
  statuses: readonly ExecutionStatus[],
  batch: readonly StoreWrite[],
  claim: IdempotencyClaim | undefined,
): ReopenResult {
  const now = clock.now();
  if (claim) {
    s.deleteExpiredClaim.run([claim.key, now]);
    const live = s.findLiveClaim.get([claim.key, now]) as Row | undefined;
    if (live) return { reopened: false, existing: toIdempotency(live) };
  }
  const row = s.getStatus.get([executionId]) as { status: ExecutionStatus } | undefined;
  if (!row) return { reopened: false };
  if (!statuses.includes(row.status)) return { reopened: false, status: row.status };
  if (claim) s.insertClaim.run([claim.key, claim.fingerprint, executionId, now, claim.expiresAt]);
  let drop = dropCancels.get(db);
  if (drop === undefined) {
    drop = db.prepare('DELETE FROM cancel_requests WHERE execution_id = ?');
    dropCancels.set(db, drop);
  }
  drop.run([executionId]);
  for (const w of batch) applyWrite(w);
  return { reopened: true };
}
