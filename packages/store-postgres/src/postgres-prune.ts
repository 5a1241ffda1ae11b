/**
 * Pruning: deleting executions finished before a time (with everything that hangs off them),
 * expired idempotency keys and expired wait answers, in one transaction.
 */
import type { Store } from '@orchestr8/core';
import type { Database } from './database.js';
import { TERMINAL } from './postgres-cancel.js';

/** `prune` of the store, on `db`. */
export function pruneMethods(db: Pick<Database, 'transaction'>): Pick<Store, 'prune'> {
  const { transaction } = db;
  return {
    async prune({ finishedBefore, now }) {
      return transaction('prune', async (tx) => {
        // Steps, journal entries, tasks, waits and cancel requests go with their execution (ON DELETE CASCADE).
        const executions = await tx.query(
          `DELETE FROM executions WHERE status IN ${TERMINAL} AND coalesce(finished_at, updated_at) < $1`,
          [finishedBefore],
        );
        const keys = await tx.query('DELETE FROM idempotency WHERE expires_at <= $1', [now]);
        await tx.query('DELETE FROM wait_answers WHERE expires_at <= $1', [now]);
        return { executions: executions.rowCount ?? 0, idempotencyKeys: keys.rowCount ?? 0 };
      });
    },
  };
}
