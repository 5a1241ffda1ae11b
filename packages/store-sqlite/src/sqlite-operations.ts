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
import { paging } from '@orchestr8/core';
import type Database from 'libsql';
import { toIdempotency } from './rows.js';

type Row = Record<string, unknown>;

/** Which of the optional filters a listing uses: the shape of its prepared statement. */
export interface ListRange {
  since: boolean;
  until: boolean;
  id: boolean;
  parent: boolean;
  /** Few executions have the correlation prefixes asked for: read them through the index. */
  fewCorrelated: boolean;
}

export const NO_RANGE: ListRange = {
  since: false,
  until: false,
  id: false,
  parent: false,
  fewCorrelated: false,
};

export function listRange(q: ExecutionQuery, fewCorrelated = false): ListRange {
  if (
    q.since === undefined &&
    q.until === undefined &&
    q.idPrefix === undefined &&
    q.parentExecutionId === undefined &&
    !fewCorrelated
  )
    return NO_RANGE;
  return {
    since: q.since !== undefined,
    until: q.until !== undefined,
    id: q.idPrefix !== undefined,
    parent: q.parentExecutionId !== undefined,
    fewCorrelated,
  };
}

/** In the order of `listRangeParams`. */
export function listRangeWhere(r: ListRange): string[] {
  const where: string[] = [];
  if (r.since) where.push('created_at >= ?');
  if (r.until) where.push('created_at < ?');
  // A range the primary key serves, then the exact comparison (LIKE would read % and _ as wildcards).
  if (r.id) where.push('id >= ? AND id < ? AND substr(id, 1, length(?)) = ?');
  if (r.parent) where.push('parent_execution_id = ?');
  return where;
}

export function listRangeParams(q: ExecutionQuery): (string | number)[] {
  const params: (string | number)[] = [];
  if (q.since !== undefined) params.push(q.since);
  if (q.until !== undefined) params.push(q.until);
  if (q.idPrefix !== undefined) params.push(q.idPrefix, paging.prefixEnd(q.idPrefix), q.idPrefix, q.idPrefix);
  if (q.parentExecutionId !== undefined) params.push(q.parentExecutionId);
  return params;
}

/** A correlation-id prefix as an index range (the correlation index), then compared exactly. */
export const CORRELATION_PREFIX_WHERE =
  '(correlation_id >= ? AND correlation_id < ? AND substr(correlation_id, 1, length(?)) = ?)';

/**
 * The same condition, the index left unused (`+`): the listing reads executions newest first
 * and stops at a page, which beats sorting many matches found through the index.
 */
export const CORRELATION_PREFIX_SCAN =
  '(+correlation_id >= ? AND +correlation_id < ? AND substr(correlation_id, 1, length(?)) = ?)';

/** Beyond this many matches, a correlation filter reads newest first instead of through the index. */
const FEW = 1000;
const probes = new WeakMap<Database.Database, Database.Statement>();

/**
 * Whether fewer than 1,000 executions match the prefixes, counted on the correlation index
 * alone (a covering range scan of at most that many entries per prefix). The reruns of one
 * execution are few; what a busy trigger started is not.
 */
export function fewCorrelated(db: Database.Database, prefixes: readonly string[]): boolean {
  let probe = probes.get(db);
  if (probe === undefined) {
    probe = db.prepare(
      `SELECT count(*) AS n FROM (SELECT 1 FROM executions WHERE correlation_id >= ? AND correlation_id < ? LIMIT ${FEW})`,
    );
    probes.set(db, probe);
  }
  let n = 0;
  for (const p of prefixes) {
    n += (probe.get([p, paging.prefixEnd(p)]) as { n: number }).n;
    if (n >= FEW) return false;
  }
  return true;
}

export function correlationPrefixParams(prefix: string): string[] {
  return [prefix, paging.prefixEnd(prefix), prefix, prefix];
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
