/**
 * What retry and the console's listing need from the PostgreSQL store: `reopenExecution`
 * (a conditional write under the execution's row lock) and the time-range and id-prefix filters.
 */
import type {
  ExecutionQuery,
  ExecutionStatus,
  IdempotencyClaim,
  ReopenResult,
  StoreWrite,
} from '@orchestr8/core';
import { paging } from '@orchestr8/core';
import { segmentBatch, segmentStatements } from './batch.js';
import { toIdempotency } from './rows.js';

/** A transaction's connection (the store's `Tx`, restated here to keep imports one way). */
interface Tx {
  query(text: string, values?: unknown[], name?: string): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * Correlation-id prefixes as ranges of the "C"-collated correlation index (migration 4), each
 * then compared exactly (LIKE would read % and _ as wildcards): the planner reads few matches
 * through the index, and many newest first.
 */
export function correlationPrefixWhere(prefixes: readonly string[], values: unknown[]): string {
  const terms = prefixes.map((p) => {
    values.push(p, paging.prefixEnd(p));
    const a = `$${values.length - 1}`;
    const b = `$${values.length}`;
    return `(correlation_id COLLATE "C" >= ${a} AND correlation_id COLLATE "C" < ${b} AND left(correlation_id, length(${a})) = ${a})`;
  });
  return `(${terms.join(' OR ')})`;
}

/** The `since`/`until`/`idPrefix` conditions (values appended to `values`), and their shape for the statement name. */
export function listRangeWhere(q: ExecutionQuery, values: unknown[]): { where: string[]; shape: string } {
  const where: string[] = [];
  let shape = '';
  if (q.since !== undefined) {
    values.push(q.since);
    where.push(`created_at >= $${values.length}`);
    shape += 'f';
  }
  if (q.until !== undefined) {
    values.push(q.until);
    where.push(`created_at < $${values.length}`);
    shape += 'u';
  }
  if (q.idPrefix !== undefined) {
    values.push(q.idPrefix);
    // Compared exactly (LIKE would read % and _ as wildcards).
    where.push(`left(id, length($${values.length})) = $${values.length}`);
    shape += 'i';
  }
  if (q.parentExecutionId !== undefined) {
    values.push(q.parentExecutionId);
    where.push(`parent_execution_id = $${values.length}`);
    shape += 'a';
  }
  return { where, shape };
}

/** The body of `reopenExecution`, in one transaction. */
export async function reopenInTransaction(
  tx: Tx,
  executionId: string,
  statuses: readonly ExecutionStatus[],
  batch: readonly StoreWrite[],
  claim: IdempotencyClaim | undefined,
  now: number,
): Promise<ReopenResult> {
  if (claim) {
    await tx.query('DELETE FROM idempotency WHERE "key" = $1 AND expires_at <= $2', [claim.key, now]);
    const live = await tx.query('SELECT * FROM idempotency WHERE "key" = $1', [claim.key]);
    if (live.rows[0]) return { reopened: false, existing: toIdempotency(live.rows[0]) };
  }
  // The row lock orders concurrent reopens (and a finish) of the execution: one sees its status.
  const r = await tx.query('SELECT status FROM executions WHERE id = $1 FOR NO KEY UPDATE', [executionId]);
  const row = r.rows[0] as { status: ExecutionStatus } | undefined;
  if (!row) return { reopened: false };
  if (!statuses.includes(row.status)) return { reopened: false, status: row.status };
  if (claim) {
    // A concurrent claimant of the same key waits on this insert for this transaction's end.
    const inserted = await tx.query(
      `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT ("key") DO NOTHING RETURNING "key"`,
      [claim.key, claim.fingerprint, executionId, now, claim.expiresAt],
    );
    if (inserted.rows.length === 0) {
      const held = await tx.query('SELECT * FROM idempotency WHERE "key" = $1', [claim.key]);
      return { reopened: false, existing: toIdempotency(held.rows[0]!) };
    }
  }
  await tx.query('DELETE FROM cancel_requests WHERE execution_id = $1', [executionId]);
  for (const s of segmentBatch(batch).flatMap(segmentStatements)) await tx.query(s.text, s.values, s.name);
  return { reopened: true };
}
