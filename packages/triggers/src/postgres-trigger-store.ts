import type { DeliveryClaim, TriggerState, TriggerStore } from './trigger-store.js';

/**
 * What the PostgreSQL trigger store needs of `@orchestr8/store-postgres`'s PostgresStore:
 * its schema and its transactions (one pooled connection, retried on deadlock). Structural,
 * so this package needs neither `pg` nor the store package.
 */
export interface PostgresTransactional {
  readonly schema: string;
  transaction<T>(action: string, fn: (tx: PostgresTx) => Promise<T>): Promise<T>;
}

export interface PostgresTx {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/**
 * Trigger state in the executions' PostgreSQL database, in tables of its own
 * (`trigger_state`, `trigger_leases`, `trigger_deliveries`, in the store's schema), created
 * with `CREATE TABLE IF NOT EXISTS` under an advisory lock so that several `serve` processes
 * starting at once do not race. The leader lease is a row taken or renewed in one statement:
 * of several schedulers sharing the database one fires; when it dies, another takes over once
 * its lease expires (the scheduler's `leaseTtlMs`). Lease times come from each scheduler's
 * clock, so the hosts' clocks must agree to well within the lease. A webhook delivery is
 * claimed as `pending` while it is decided, so every process answers its copies 409 meanwhile;
 * the column came after the table, and is added to one made before (its claims accepted).
 */
export async function createPostgresTriggerStore(store: PostgresTransactional): Promise<TriggerStore> {
  const q = (name: string) => `"${store.schema.replace(/"/g, '""')}".${name}`;
  const run = <T>(action: string, fn: (tx: PostgresTx) => Promise<T>) => store.transaction(action, fn);

  await run('create the trigger tables', async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`orchestr8-triggers:${store.schema}`]);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS ${q('trigger_state')} (
        "key" TEXT NOT NULL PRIMARY KEY,
        last_fire_at BIGINT,
        paused BOOLEAN NOT NULL DEFAULT FALSE,
        last_execution_id TEXT,
        updated_at BIGINT NOT NULL
      )`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS ${q('trigger_leases')} (
        name TEXT NOT NULL PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      )`);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS ${q('trigger_deliveries')} (
        "key" TEXT NOT NULL PRIMARY KEY,
        expires_at BIGINT NOT NULL,
        pending BOOLEAN NOT NULL DEFAULT FALSE
      )`);
    // Only when missing: ALTER needs the table's owner (IF NOT EXISTS or not) and an
    // exclusive lock, which a role with only DML rights, or the other processes, should not.
    const has = await tx.query(
      `SELECT 1 FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'trigger_deliveries' AND column_name = 'pending'`,
      [store.schema],
    );
    if (has.rows.length === 0)
      await tx.query(
        `ALTER TABLE ${q('trigger_deliveries')} ADD COLUMN IF NOT EXISTS pending BOOLEAN NOT NULL DEFAULT FALSE`,
      );
  });

  const row = (r: Record<string, unknown>): TriggerState => {
    const s: TriggerState = {
      key: r.key as string,
      paused: r.paused === true,
      updatedAt: Number(r.updated_at),
    };
    if (r.last_fire_at !== null && r.last_fire_at !== undefined) s.lastFireAt = Number(r.last_fire_at);
    if (typeof r.last_execution_id === 'string') s.lastExecutionId = r.last_execution_id;
    return s;
  };
  let claims = 0;
  const prune = async (now: number) => {
    if (++claims % 1000 === 0)
      await run('prune webhook deliveries', (tx) =>
        tx.query(`DELETE FROM ${q('trigger_deliveries')} WHERE expires_at <= $1`, [now]),
      );
  };
  /** Takes the claim when the key is free or its claim has expired; a row back when taken. */
  const claimSql = `INSERT INTO ${q('trigger_deliveries')} ("key", expires_at, pending) VALUES ($1, $2, $4)
    ON CONFLICT ("key") DO UPDATE SET expires_at = excluded.expires_at, pending = excluded.pending
    WHERE ${q('trigger_deliveries')}.expires_at <= $3`;

  const putMany = async (states: readonly TriggerState[]): Promise<void> => {
    if (states.length === 0) return;
    await run('store trigger state', async (tx) => {
      for (const s of states)
        await tx.query(
          `INSERT INTO ${q('trigger_state')} ("key", last_fire_at, paused, last_execution_id, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ("key") DO UPDATE SET last_fire_at = excluded.last_fire_at, paused = excluded.paused,
           last_execution_id = excluded.last_execution_id, updated_at = excluded.updated_at`,
          [s.key, s.lastFireAt ?? null, s.paused, s.lastExecutionId ?? null, s.updatedAt],
        );
    });
  };

  return {
    async get(key) {
      const r = await run('read trigger state', (tx) =>
        tx.query(`SELECT * FROM ${q('trigger_state')} WHERE "key" = $1`, [key]),
      );
      return r.rows[0] ? row(r.rows[0]) : undefined;
    },
    async list() {
      const r = await run('list trigger state', (tx) =>
        tx.query(`SELECT * FROM ${q('trigger_state')} ORDER BY "key"`),
      );
      return r.rows.map(row);
    },
    async put(s) {
      await putMany([s]);
    },
    putMany,
    async acquireLease(name, owner, now, ttlMs) {
      const r = await run('take the scheduler lease', (tx) =>
        tx.query(
          `INSERT INTO ${q('trigger_leases')} (name, owner, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE ${q('trigger_leases')}.owner = excluded.owner OR ${q('trigger_leases')}.expires_at <= $4
           RETURNING owner`,
          [name, owner, now + ttlMs, now],
        ),
      );
      return r.rows[0]?.owner === owner;
    },
    async releaseLease(name, owner) {
      await run('release the scheduler lease', (tx) =>
        tx.query(`DELETE FROM ${q('trigger_leases')} WHERE name = $1 AND owner = $2`, [name, owner]),
      );
    },
    async claimDelivery(key, now, ttlMs) {
      await prune(now);
      const r = await run('claim a webhook delivery', (tx) =>
        tx.query(claimSql, [key, now + ttlMs, now, false]),
      );
      return (r.rowCount ?? 0) > 0;
    },
    async claimPendingDelivery(key, now, pendingMs) {
      await prune(now);
      return run('claim a webhook delivery', async (tx): Promise<DeliveryClaim> => {
        const r = await tx.query(claimSql, [key, now + pendingMs, now, true]);
        if ((r.rowCount ?? 0) > 0) return 'claimed';
        // Read committed: this statement sees the claim that blocked the insert, if it still exists.
        const held = await tx.query(`SELECT pending FROM ${q('trigger_deliveries')} WHERE "key" = $1`, [key]);
        return held.rows[0]?.pending === false ? 'duplicate' : 'pending';
      });
    },
    async settleDelivery(key, now, pendingMs, ttlMs) {
      await run('settle a webhook delivery', (tx) =>
        tx.query(
          `UPDATE ${q('trigger_deliveries')} SET expires_at = $2, pending = FALSE
           WHERE "key" = $1 AND expires_at = $3 AND pending`,
          [key, now + ttlMs, now + pendingMs],
        ),
      );
    },
    async releaseDelivery(key, now, ttlMs) {
      await run('release a webhook delivery', (tx) =>
        tx.query(`DELETE FROM ${q('trigger_deliveries')} WHERE "key" = $1 AND expires_at = $2`, [
          key,
          now + ttlMs,
        ]),
      );
    },
    // The pool belongs to the PostgresStore, which the host closes.
    async close() {},
  };
}
