/**
 * The workers registry: a row per live `orchestr8 worker` process, kept fresh by its
 * heartbeat, listed (with the tasks each holds) by `orchestr8 workers`, and deleted when the
 * worker stops or has been silent too long. Heartbeat times come from the database clock,
 * like lease times.
 */
import type { PostgresStore } from './postgres-store.js';
import type { Row } from './rows.js';
import { Channel, NOW, type WorkerInfo } from './task-types.js';

/** Adds a worker's row, or refreshes its heartbeat when the row is there already. */
export async function registerWorker(
  store: PostgresStore,
  info: Omit<WorkerInfo, 'heartbeatAt' | 'running' | 'stepsDone'>,
  stepsDone: number,
): Promise<void> {
  await store.query(
    'register a worker',
    `INSERT INTO workers (id, host, pid, queues, concurrency, agents, started_at, heartbeat_at, running, steps_done)
     VALUES ($1, $2, $3, $4, $5, $6, $7, ${NOW}, '[]', $8)
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at`,
    [
      info.id,
      info.host,
      info.pid,
      JSON.stringify(info.queues),
      info.concurrency,
      JSON.stringify(info.agents),
      info.startedAt,
      stepsDone,
    ],
  );
}

/**
 * Marks a worker alive now, with its count of committed steps. False when its row is gone
 * (it was taken for dead): the caller registers it again.
 */
export async function beatWorker(store: PostgresStore, id: string, stepsDone: number): Promise<boolean> {
  const w = await store.query(
    'heartbeat',
    `UPDATE workers SET heartbeat_at = ${NOW}, steps_done = $2 WHERE id = $1`,
    [id, stepsDone],
    'o8_worker_beat',
  );
  return (w.rowCount ?? 0) > 0;
}

/** Removes a worker that stops, returning the tasks it still holds to the queue. */
export async function unregisterWorker(store: PostgresStore, id: string): Promise<void> {
  const queues = await store.transaction('unregister a worker', async (tx) => {
    const r = await tx.query(
      `UPDATE tasks SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL
       WHERE (execution_id, step_id) IN (
         SELECT execution_id, step_id FROM tasks WHERE status = 'leased' AND lease_owner = $1
         ORDER BY execution_id, step_id FOR UPDATE)
       RETURNING queue`,
      [id],
    );
    await tx.query('DELETE FROM workers WHERE id = $1', [id]);
    return new Set(r.rows.map((row) => row.queue as string));
  });
  for (const q of queues) store.notify(Channel.tasks, q);
}

/** Workers whose last heartbeat is at most `staleMs` old, with the steps they hold. */
export async function readWorkers(store: PostgresStore, staleMs: number): Promise<WorkerInfo[]> {
  const r = await store.query(
    'list workers',
    `SELECT * FROM workers WHERE heartbeat_at > ${NOW} - $1 ORDER BY started_at, id`,
    [staleMs],
  );
  const ids = r.rows.map((row) => row.id as string);
  const leases = await store.query(
    'list leases',
    `SELECT lease_owner, execution_id, step_id, lease_expires_at, claims FROM tasks
     WHERE status = 'leased' AND lease_owner = ANY($1::text[]) ORDER BY lease_expires_at`,
    [ids],
  );
  const byOwner = new Map<string, WorkerInfo['running']>();
  for (const l of leases.rows) {
    const list = byOwner.get(l.lease_owner as string) ?? [];
    list.push({
      executionId: l.execution_id as string,
      stepId: l.step_id as string,
      leaseExpiresAt: l.lease_expires_at as number,
      claims: l.claims as number,
    });
    byOwner.set(l.lease_owner as string, list);
  }
  return r.rows.map((row: Row) => ({
    id: row.id as string,
    host: row.host as string,
    pid: row.pid as number,
    queues: JSON.parse(row.queues as string) as string[],
    concurrency: row.concurrency as number,
    agents: JSON.parse(row.agents as string) as string[],
    startedAt: row.started_at as number,
    heartbeatAt: row.heartbeat_at as number,
    stepsDone: row.steps_done as number,
    running: byOwner.get(row.id as string) ?? [],
  }));
}

/** Deletes workers silent for longer than `staleMs` (their leases expire on their own). */
export async function deleteDeadWorkers(store: PostgresStore, staleMs: number): Promise<number> {
  const r = await store.query(
    'forget dead workers',
    `DELETE FROM workers WHERE heartbeat_at < ${NOW} - $1`,
    [staleMs],
    'o8_forget_workers',
  );
  return r.rowCount ?? 0;
}
