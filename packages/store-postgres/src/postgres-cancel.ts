/**
 * Cancel requests: recording one (unless the execution is finished) and reading the pending
 * ones of live executions.
 */
import type { CancelRequest, Store } from '@orchestr8/core';
import type { Database } from './database.js';

/** The terminal statuses, as an SQL list (also used by prune). */
export const TERMINAL = "('completed', 'failed', 'cancelled')";
const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** `requestCancel` and `pendingCancels` of the store, on `db` (a recorded request is notified on 'cancel'). */
export function cancelMethods(db: Database): Pick<Store, 'requestCancel' | 'pendingCancels'> {
  const { query, transaction } = db;
  return {
    async requestCancel(executionId, reason, at) {
      return transaction('request a cancellation', async (tx) => {
        // The row lock orders this against a concurrent finish of the execution.
        const r = await tx.query<{ status: string }>(
          'SELECT status FROM executions WHERE id = $1 FOR NO KEY UPDATE',
          [executionId],
        );
        const row = r.rows[0];
        if (!row) return 'not_found' as const;
        if (TERMINAL_STATUSES.has(row.status)) return 'finished' as const;
        await tx.query(
          `INSERT INTO cancel_requests (execution_id, reason, requested_at) VALUES ($1, $2, $3)
           ON CONFLICT (execution_id) DO NOTHING`,
          [executionId, reason, at],
        );
        return 'requested' as const;
      }).then((r) => {
        if (r === 'requested') db.notify('cancel', executionId);
        return r;
      });
    },

    async pendingCancels(executionIds): Promise<CancelRequest[]> {
      if (executionIds.length === 0) return [];
      const r = await query(
        'read cancel requests',
        `SELECT c.execution_id, c.reason, c.requested_at FROM cancel_requests c
         JOIN executions e ON e.id = c.execution_id
         WHERE c.execution_id = ANY($1::text[]) AND e.status NOT IN ${TERMINAL}`,
        [[...new Set(executionIds)]],
        'o8_pending_cancels',
      );
      return r.rows.map((row) => ({
        executionId: row.execution_id as string,
        reason: row.reason as string,
        requestedAt: row.requested_at as number,
      }));
    },
  };
}
