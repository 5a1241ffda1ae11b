/**
 * Idempotency keys: creating an execution (under a claimed key, when given), finding a live
 * key, and claiming a key inside a transaction (also used by the task queue's start).
 */
import { type Clock, ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { CreateExecutionResult, ExecutionRecord, IdempotencyClaim, Store } from '@orchestr8/core';
import type { Database, Tx } from './database.js';
import { pgCode, SqlState } from './errors.js';
import { EXECUTION_COLUMNS, EXECUTION_SELECT, executionParams, toIdempotency } from './rows.js';

/** `createExecution` and `findIdempotency` of the store, on `db`; `clock` stamps claims. */
export function idempotencyMethods(
  db: Pick<Database, 'query' | 'transaction'>,
  clock: Clock,
): Pick<Store, 'createExecution' | 'findIdempotency'> {
  const { query, transaction } = db;
  return {
    async createExecution(
      execution: ExecutionRecord,
      claim?: IdempotencyClaim,
    ): Promise<CreateExecutionResult> {
      const insert = `INSERT INTO executions (${EXECUTION_SELECT}) VALUES (${EXECUTION_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
      const conflict = (error: unknown) =>
        pgCode(error) === SqlState.uniqueViolation
          ? new Orchestr8Error(ErrorCode.CONFLICT, `execution ${execution.id} already exists`, {
              cause: error,
            })
          : undefined;
      if (!claim) {
        try {
          await query('create an execution', insert, executionParams(execution), 'o8_insert_execution');
        } catch (error) {
          throw conflict((error as { cause?: unknown }).cause) ?? error;
        }
        return { created: true, execution: { ...execution } };
      }
      try {
        return await transaction('create an execution', async (tx) => {
          const existing = await claimKey(tx, claim, execution.id, clock.now());
          if (existing) return { created: false, existing };
          await tx.query(insert, executionParams(execution), 'o8_insert_execution');
          return { created: true, execution: { ...execution } };
        });
      } catch (error) {
        throw conflict((error as { cause?: unknown }).cause) ?? error;
      }
    },

    async findIdempotency(key, now) {
      const r = await query(
        'read an idempotency key',
        'SELECT * FROM idempotency WHERE "key" = $1 AND expires_at > $2',
        [key, now],
        'o8_find_idempotency',
      );
      return r.rows[0] && toIdempotency(r.rows[0]);
    },
  };
}

/**
 * Claims an idempotency key for `executionId` inside a transaction. The primary key
 * decides between concurrent claimants (on any number of API instances): the loser's
 * insert waits for the winner's transaction and then does nothing. Returns the live
 * record that holds the key, or undefined when this claim now holds it.
 */
export async function claimKey(
  tx: Tx,
  claim: IdempotencyClaim,
  executionId: string,
  now: number,
): Promise<ReturnType<typeof toIdempotency> | undefined> {
  // An expired claim no longer holds its key: remove it so the insert below can win.
  await tx.query(
    'DELETE FROM idempotency WHERE "key" = $1 AND expires_at <= $2',
    [claim.key, now],
    'o8_expire_claim',
  );
  const inserted = await tx.query(
    `INSERT INTO idempotency ("key", fingerprint, execution_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT ("key") DO NOTHING RETURNING "key"`,
    [claim.key, claim.fingerprint, executionId, now, claim.expiresAt],
    'o8_insert_claim',
  );
  if (inserted.rowCount === 1) return undefined;
  const r = await tx.query('SELECT * FROM idempotency WHERE "key" = $1', [claim.key], 'o8_get_claim');
  return toIdempotency(r.rows[0]!);
}
