import Database from 'libsql';
import type { DeliveryClaim, TriggerState, TriggerStore } from './trigger-store.js';

/**
 * Trigger state in the same SQLite file as the executions, in tables of its own
 * (`trigger_state`, `trigger_leases`, `trigger_deliveries`) created here with
 * `CREATE TABLE IF NOT EXISTS` over a second connection. The triggers package owns them:
 * the store package stays free of trigger knowledge (dependencies point one way) and its
 * schema version does not move for installations that never use triggers. WAL mode lets
 * both connections work on the file at once; writes take the lock with BEGIN IMMEDIATE.
 * `trigger_deliveries.pending` (a delivery still being decided) was added after the table:
 * a file made before it gets the column on open, its claims counting as accepted.
 */
export function openSqliteTriggerStore(path: string, options: { busyTimeoutMs?: number } = {}): TriggerStore {
  const db = new Database(path);
  db.exec(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs ?? 5000)}`);
  // As the execution store's connection: in WAL mode, no fsync per commit (a commit survives a
  // crash of the process; a power cut may lose the last ones, which the idempotency keys cover).
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS trigger_state (
      "key" TEXT NOT NULL PRIMARY KEY,
      last_fire_at INTEGER,
      paused INTEGER NOT NULL DEFAULT 0,
      last_execution_id TEXT,
      updated_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS trigger_leases (
      name TEXT NOT NULL PRIMARY KEY,
      owner TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS trigger_deliveries (
      "key" TEXT NOT NULL PRIMARY KEY,
      expires_at INTEGER NOT NULL,
      pending INTEGER NOT NULL DEFAULT 0
    );
  `);
  const tx = <T>(fn: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const v = fn();
      db.exec('COMMIT');
      return v;
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  };
  // A file made by a version before pending claims: add the column (once, under the write lock,
  // as another process may be opening the same file).
  tx(() => {
    const columns = db.prepare('PRAGMA table_info(trigger_deliveries)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'pending'))
      db.exec('ALTER TABLE trigger_deliveries ADD COLUMN pending INTEGER NOT NULL DEFAULT 0');
  });
  const getStmt = db.prepare('SELECT * FROM trigger_state WHERE "key" = ?');
  const listStmt = db.prepare('SELECT * FROM trigger_state ORDER BY "key"');
  const putStmt = db.prepare(
    `INSERT INTO trigger_state ("key", last_fire_at, paused, last_execution_id, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT ("key") DO UPDATE SET last_fire_at = excluded.last_fire_at, paused = excluded.paused,
       last_execution_id = excluded.last_execution_id, updated_at = excluded.updated_at`,
  );
  const leaseStmt = db.prepare(
    `INSERT INTO trigger_leases (name, owner, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
     WHERE trigger_leases.owner = excluded.owner OR trigger_leases.expires_at <= ?`,
  );
  const holderStmt = db.prepare('SELECT owner FROM trigger_leases WHERE name = ?');
  const releaseStmt = db.prepare('DELETE FROM trigger_leases WHERE name = ? AND owner = ?');
  const deliveryStmt = db.prepare(
    `INSERT INTO trigger_deliveries ("key", expires_at, pending) VALUES (?, ?, ?)
     ON CONFLICT ("key") DO UPDATE SET expires_at = excluded.expires_at, pending = excluded.pending
     WHERE trigger_deliveries.expires_at <= ?`,
  );
  const deliveryPendingStmt = db.prepare('SELECT pending FROM trigger_deliveries WHERE "key" = ?');
  const settleStmt = db.prepare(
    'UPDATE trigger_deliveries SET expires_at = ?, pending = 0 WHERE "key" = ? AND expires_at = ? AND pending = 1',
  );
  const unclaimStmt = db.prepare('DELETE FROM trigger_deliveries WHERE "key" = ? AND expires_at = ?');
  const pruneDeliveries = db.prepare('DELETE FROM trigger_deliveries WHERE expires_at <= ?');
  let claims = 0;

  const row = (r: Record<string, unknown>): TriggerState => {
    const s: TriggerState = {
      key: r.key as string,
      paused: Number(r.paused) === 1,
      updatedAt: Number(r.updated_at),
    };
    if (r.last_fire_at !== null && r.last_fire_at !== undefined) s.lastFireAt = Number(r.last_fire_at);
    if (typeof r.last_execution_id === 'string') s.lastExecutionId = r.last_execution_id;
    return s;
  };

  return {
    async get(key) {
      const r = getStmt.get([key]) as Record<string, unknown> | undefined;
      return r ? row(r) : undefined;
    },
    async list() {
      return (listStmt.all() as Record<string, unknown>[]).map(row);
    },
    async put(s) {
      putStmt.run([s.key, s.lastFireAt ?? null, s.paused ? 1 : 0, s.lastExecutionId ?? null, s.updatedAt]);
    },
    async putMany(states) {
      if (states.length === 0) return;
      tx(() => {
        for (const s of states)
          putStmt.run([
            s.key,
            s.lastFireAt ?? null,
            s.paused ? 1 : 0,
            s.lastExecutionId ?? null,
            s.updatedAt,
          ]);
      });
    },
    async acquireLease(name, owner, now, ttlMs) {
      return tx(() => {
        leaseStmt.run([name, owner, now + ttlMs, now]);
        return (holderStmt.get([name]) as { owner: string } | undefined)?.owner === owner;
      });
    },
    async releaseLease(name, owner) {
      releaseStmt.run([name, owner]);
    },
    async claimDelivery(key, now, ttlMs) {
      if (++claims % 1000 === 0) pruneDeliveries.run([now]);
      const r = deliveryStmt.run([key, now + ttlMs, 0, now]) as { changes: number };
      return r.changes > 0;
    },
    async claimPendingDelivery(key, now, pendingMs) {
      if (++claims % 1000 === 0) pruneDeliveries.run([now]);
      return tx((): DeliveryClaim => {
        const r = deliveryStmt.run([key, now + pendingMs, 1, now]) as { changes: number };
        if (r.changes > 0) return 'claimed';
        const held = deliveryPendingStmt.get([key]) as { pending: number } | undefined;
        return held && Number(held.pending) === 0 ? 'duplicate' : 'pending';
      });
    },
    async settleDelivery(key, now, pendingMs, ttlMs) {
      settleStmt.run([now + ttlMs, key, now + pendingMs]);
    },
    async releaseDelivery(key, now, ttlMs) {
      unclaimStmt.run([key, now + ttlMs]);
    },
    async close() {
      db.close();
    },
  };
}
