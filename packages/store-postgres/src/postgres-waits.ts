/**
 * The PostgreSQL store's waits and event inbox (tables of migration 3), shared by every
 * process on the database: API instances, in-process engines and workers.
 *
 * Exactly-once wakes rest on conditional updates, as in the other stores: `claimWait`
 * updates only the row still at the version the caller read; `takeWaitingExecution` only
 * an execution still `waiting`. Waits of distributed executions (steps that workers run)
 * are woken differently: the claim that wakes one also inserts its step's task, in the same
 * statement and under the execution's row lock, so a woken wait always has a worker to
 * resume it and the execution never needs to be taken by a process. `takeWaitingExecution`
 * and `waitingCancels` therefore concern in-process executions only; workers handle their
 * own cancel requests. Pending waits are indexed by the events they can take (`wait_keys`).
 */
import {
  eventKeyValue,
  type StoredAnswer,
  type WaitEvent,
  type WaitQuery,
  type WaitRecord,
  type WaitStore,
  waitIndexKeys,
} from '@orchestr8/core';
import type { Database, Tx } from './database.js';
import type { Row } from './rows.js';
import { Channel, NOW } from './task-types.js';

const TERMINAL = "('completed', 'failed', 'cancelled')";

/** What a wait row holds besides the record: set by a worker's commit for a distributed step. */
export interface WaitPlacement {
  distributed: boolean;
  queue: string | null;
}

/** The columns of a wait row, in insert order (see `WAIT_INSERT`). */
export function waitParams(w: WaitRecord, placement?: WaitPlacement): unknown[] {
  return [
    w.id,
    w.executionId,
    w.stepId,
    w.kind,
    w.state,
    w.dueAt ?? null,
    w.events ?? null,
    w.version,
    w.createdAt,
    placement?.distributed ?? false,
    placement?.queue ?? null,
    JSON.stringify(w),
  ];
}

export const WAIT_COLUMNS =
  'id, execution_id, step_id, kind, state, due_at, events, version, created_at, distributed, queue, body';

const toWait = (r: Row): WaitRecord => JSON.parse(r.body as string) as WaitRecord;

/**
 * Inserts the events given as parallel arrays (no name and id twice); returns those that were
 * new. Rows go in key order, as the primary key sorts them, so that processes inserting the
 * same events at once take their locks in one order and never deadlock.
 */
const PUT_EVENTS = `INSERT INTO wait_events (name, id, received_at, body)
  SELECT name, id, received_at, body
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS e(name, id, received_at, body)
  ORDER BY name COLLATE "C", id COLLATE "C"
  ON CONFLICT (name, id) DO NOTHING
  RETURNING name, id`;
const PRUNE_EVENTS = 'DELETE FROM wait_events WHERE received_at < $1';
const eventKey = (name: string, id: string) => JSON.stringify([name, id]);

/** The event index rows of waits (pending ones only), as JSON for `json_to_recordset`. */
export function waitKeysJson(waits: readonly WaitRecord[]): string {
  return JSON.stringify(
    waits.flatMap((w) =>
      waitIndexKeys(w).map((k) => ({ name: k.name, path: k.path, value: k.value, id: w.id })),
    ),
  );
}

/** Inserts the index rows given as `waitKeysJson` in parameter `$n`. */
export const INSERT_WAIT_KEYS = (n: number) =>
  `INSERT INTO wait_keys (name, path, value, wait_id)
   SELECT k.name, k.path, k.value, k.id FROM json_to_recordset($${n}::json) AS k(name text, path text, value text, id text)
   ON CONFLICT DO NOTHING`;

/** Replaces a wait's index rows with those of `w` (none once it is woken). */
async function reindex(tx: Tx, w: WaitRecord): Promise<void> {
  await tx.query('DELETE FROM wait_keys WHERE wait_id = $1', [w.id], 'o8_unindex_wait');
  const keys = waitKeysJson([w]);
  if (keys !== '[]') await tx.query(INSERT_WAIT_KEYS(1), [keys], 'o8_index_wait');
}

export class PostgresWaits implements WaitStore {
  constructor(private readonly store: Database) {}

  async putWait(w: WaitRecord): Promise<void> {
    await this.store.transaction('record a wait', async (tx) => {
      await tx.query(
        `INSERT INTO waits (${WAIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, state = EXCLUDED.state, due_at = EXCLUDED.due_at,
         events = EXCLUDED.events, version = EXCLUDED.version, body = EXCLUDED.body`,
        waitParams(w),
        'o8_put_wait',
      );
      await reindex(tx, w);
    });
  }

  async getWait(id: string): Promise<WaitRecord | undefined> {
    const r = await this.store.query(
      'read a wait',
      'SELECT body FROM waits WHERE id = $1',
      [id],
      'o8_get_wait',
    );
    return r.rows[0] && toWait(r.rows[0]);
  }

  async dueWaits(now: number, limit = 1000): Promise<WaitRecord[]> {
    // Woken waits of distributed executions are not listed: their tasks were inserted with
    // the claim, nothing is left for a scan to do.
    const r = await this.store.query(
      'read due waits',
      `SELECT body FROM (
         (SELECT body, 0 AS o, created_at AS t, id FROM waits WHERE state = 'woken' AND NOT distributed
          ORDER BY created_at LIMIT $2)
         UNION ALL
         (SELECT body, 1 AS o, due_at AS t, id FROM waits WHERE state = 'pending' AND due_at <= $1
          ORDER BY due_at, created_at LIMIT $2)
       ) w ORDER BY o, t, id LIMIT $2`,
      [now, limit],
      'o8_due_waits',
    );
    return r.rows.map(toWait);
  }

  async nextDueAt(): Promise<number | undefined> {
    const r = await this.store.query<{ at: number | null }>(
      'read the next due wait',
      `SELECT min(due_at) AS at FROM waits WHERE state = 'pending' AND due_at IS NOT NULL`,
      [],
      'o8_next_due',
    );
    return r.rows[0]?.at ?? undefined;
  }

  async waitsForEvent(name: string, event?: WaitEvent): Promise<WaitRecord[]> {
    if (event === undefined) {
      const r = await this.store.query(
        'read waits for an event',
        `SELECT body FROM waits WHERE state = 'pending' AND events @> ARRAY[$1::text] ORDER BY created_at, id`,
        [name],
        'o8_waits_for_event',
      );
      return r.rows.map(toWait);
    }
    // The key paths in use for this name (a loose index scan: one probe per distinct path),
    // then the waits under the event's value at each, and the unkeyed ones.
    const p = await this.store.query<{ path: string }>(
      'read the key paths of an event',
      `WITH RECURSIVE p AS (
         (SELECT path FROM wait_keys WHERE name = $1 AND path > '' ORDER BY path LIMIT 1)
         UNION ALL
         SELECT (SELECT k.path FROM wait_keys k WHERE k.name = $1 AND k.path > p.path ORDER BY k.path LIMIT 1)
         FROM p WHERE p.path IS NOT NULL
       )
       SELECT path FROM p WHERE path IS NOT NULL`,
      [name],
      'o8_wait_key_paths',
    );
    const paths = [''];
    const values = [''];
    for (const { path } of p.rows) {
      const v = eventKeyValue(event, path);
      if (v === undefined) continue;
      paths.push(path);
      values.push(v);
    }
    const r = await this.store.query(
      'read waits for an event',
      `SELECT w.body FROM waits w WHERE w.state = 'pending' AND w.id IN (
         SELECT k.wait_id FROM wait_keys k JOIN unnest($2::text[], $3::text[]) AS x(path, value)
           ON k.name = $1 AND k.path = x.path AND k.value = x.value)
       ORDER BY w.created_at, w.id`,
      [name, paths, values],
      'o8_waits_for_keyed_event',
    );
    return r.rows.map(toWait);
  }

  async listWaits(q: WaitQuery = {}): Promise<WaitRecord[]> {
    // Only the conditions asked for, so that the plan uses the index on execution_id.
    const where: string[] = [];
    const values: unknown[] = [];
    let name = 'o8_list_waits_';
    for (const [col, v, flag] of [
      ['kind', q.kind, 'k'],
      ['execution_id', q.executionId, 'e'],
      ['state', q.state, 's'],
    ] as const) {
      if (v === undefined) continue;
      values.push(v);
      where.push(`${col} = $${values.length}`);
      name += flag;
    }
    if (q.after !== undefined) {
      // Keyset: the next page starts strictly after the previous page's last wait.
      values.push(q.after.createdAt, q.after.id);
      where.push(`(created_at, id) > ($${values.length - 1}, $${values.length})`);
      name += 'a';
    }
    values.push(q.limit ?? null);
    const r = await this.store.query(
      'list waits',
      `SELECT body FROM waits ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at, id LIMIT $${values.length}`,
      values,
      name,
    );
    return r.rows.map(toWait);
  }

  async claimWait(id: string, version: number, next: WaitRecord): Promise<boolean> {
    const set = [next.state, next.dueAt ?? null, next.version, JSON.stringify(next), id, version];
    if (next.state !== 'woken') {
      // A partial update (an `all` wait took one of its events): the wait stays pending,
      // indexed under the events it still needs.
      return this.store.transaction('claim a wait', async (tx) => {
        const r = await tx.query(
          `UPDATE waits SET state = $1, due_at = $2, version = $3, body = $4
           WHERE id = $5 AND version = $6 AND state = 'pending'`,
          set,
          'o8_claim_wait_partial',
        );
        if (r.rowCount !== 1) return false;
        await reindex(tx, next);
        return true;
      });
    }
    const queue = await this.store.transaction('wake a wait', async (tx) => {
      // The execution's row lock first: a worker deciding that the execution only waits
      // (parking it) takes it too, so it sees the task inserted here, or this sees its status.
      const locked = await tx.query(
        `SELECT e.id FROM waits w JOIN executions e ON e.id = w.execution_id WHERE w.id = $1
         FOR NO KEY UPDATE OF e`,
        [id],
        'o8_wake_lock',
      );
      if (locked.rowCount === 0) return undefined;
      const r = await tx.query(
        `WITH c AS (
           UPDATE waits SET state = $1, due_at = $2, version = $3, body = $4
           WHERE id = $5 AND version = $6 AND state = 'pending'
           RETURNING execution_id, step_id, queue
         ), t AS (
           INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at)
           SELECT c.execution_id, c.step_id, coalesce(c.queue, 'default'), 'ready', ${NOW}, ${NOW}
           FROM c JOIN executions e ON e.id = c.execution_id
           -- A wait of the engine's own (step id '#deadline', which no step can have) has no task:
           -- workers keep an execution's deadline in deadline_at.
           WHERE e.distributed AND e.stop IS NULL AND e.status NOT IN ${TERMINAL} AND left(c.step_id, 1) <> '#'
           ON CONFLICT (execution_id, step_id) DO NOTHING
           RETURNING execution_id, queue
         ), k AS (
           -- A woken wait is out of the event index.
           DELETE FROM wait_keys WHERE wait_id = $5 AND EXISTS (SELECT 1 FROM c)
         ), x AS (
           UPDATE executions SET status = 'running', status_reason = 'woken', updated_at = $7
           WHERE id IN (SELECT execution_id FROM t) AND status = 'waiting'
           RETURNING id
         )
         SELECT (SELECT count(*) FROM c)::int AS claimed, (SELECT queue FROM t LIMIT 1) AS queue,
           (SELECT count(*) FROM x)::int AS resumed`,
        [...set, next.outcome?.at ?? Date.now()],
        'o8_wake_wait',
      );
      const row = r.rows[0]!;
      if (row.claimed !== 1) return undefined;
      return { queue: (row.queue as string | null) ?? null };
    });
    if (queue === undefined) return false;
    if (queue.queue !== null) this.store.notify(Channel.tasks, queue.queue);
    return true;
  }

  async deleteWait(id: string): Promise<void> {
    await this.store.query('delete a wait', 'DELETE FROM waits WHERE id = $1', [id], 'o8_delete_wait');
  }

  async takeWaitingExecution(executionId: string, at: number): Promise<boolean> {
    const r = await this.store.query(
      'take a waiting execution',
      `UPDATE executions SET status = 'running', status_reason = 'woken', updated_at = $1
       WHERE id = $2 AND status = 'waiting' AND NOT distributed`,
      [at, executionId],
      'o8_take_waiting',
    );
    return r.rowCount === 1;
  }

  async putEvent(e: WaitEvent): Promise<boolean> {
    const r = await this.store.query(
      'record an event',
      `INSERT INTO wait_events (name, id, received_at, body) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name, id) DO NOTHING`,
      [e.name, e.id, e.receivedAt, JSON.stringify({ payload: e.payload, executionId: e.executionId })],
      'o8_put_event',
    );
    return r.rowCount === 1;
  }

  /**
   * A turn of events in one multi-row INSERT: a repeated name and id, in the batch or already
   * in the inbox, is answered false (the first in the batch is the one kept). The look-back
   * prune, when asked for, follows in the same transaction: a DELETE in the same statement
   * would not see the rows just inserted.
   */
  async putEvents(events: readonly WaitEvent[], pruneBefore?: number): Promise<boolean[]> {
    if (events.length === 0) {
      if (pruneBefore !== undefined) await this.pruneEvents(pruneBefore);
      return [];
    }
    // A repeated name and id in the batch: the first is the one offered, the rest are false.
    const first = new Map<string, WaitEvent>();
    for (const e of events) {
      const key = eventKey(e.name, e.id);
      if (!first.has(key)) first.set(key, e);
    }
    const columns: [string[], string[], number[], string[]] = [[], [], [], []];
    for (const e of first.values()) {
      columns[0].push(e.name);
      columns[1].push(e.id);
      columns[2].push(e.receivedAt);
      columns[3].push(JSON.stringify({ payload: e.payload, executionId: e.executionId }));
    }
    const inserted =
      pruneBefore === undefined
        ? await this.store.query('record events', PUT_EVENTS, columns, 'o8_put_events')
        : await this.store.transaction('record events', async (tx) => {
            const r = await tx.query(PUT_EVENTS, columns, 'o8_put_events');
            await tx.query(PRUNE_EVENTS, [pruneBefore], 'o8_prune_events');
            return r;
          });
    const fresh = new Set(inserted.rows.map((r) => eventKey(r.name as string, r.id as string)));
    return events.map((e) => first.get(eventKey(e.name, e.id)) === e && fresh.has(eventKey(e.name, e.id)));
  }

  async recentEvents(name: string, since: number): Promise<WaitEvent[]> {
    const r = await this.store.query(
      'read recent events',
      `SELECT name, id, received_at, body FROM wait_events WHERE name = $1 AND received_at >= $2
       ORDER BY received_at, id`,
      [name, since],
      'o8_recent_events',
    );
    return r.rows.map((row) => {
      const body = JSON.parse(row.body as string) as { payload: unknown; executionId?: string | null };
      const e: WaitEvent = {
        name: row.name as string,
        id: row.id as string,
        payload: body.payload,
        receivedAt: row.received_at as number,
      };
      if (body.executionId != null) e.executionId = body.executionId;
      return e;
    });
  }

  async pruneEvents(before: number): Promise<number> {
    const r = await this.store.query('prune events', PRUNE_EVENTS, [before], 'o8_prune_events');
    return r.rowCount ?? 0;
  }

  async waitingCancels(): Promise<string[]> {
    const r = await this.store.query(
      'read cancel requests of waiting executions',
      `SELECT c.execution_id FROM cancel_requests c JOIN executions e ON e.id = c.execution_id
       WHERE e.status = 'waiting' AND NOT e.distributed ORDER BY c.requested_at`,
      [],
      'o8_waiting_cancels',
    );
    return r.rows.map((row) => row.execution_id as string);
  }

  async putAnswer(key: string, answer: StoredAnswer, now: number): Promise<StoredAnswer | undefined> {
    return this.store.transaction('remember an answer', async (tx) => {
      await tx.query('DELETE FROM wait_answers WHERE "key" = $1 AND expires_at <= $2', [key, now]);
      const inserted = await tx.query(
        `INSERT INTO wait_answers ("key", body, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT ("key") DO NOTHING`,
        [key, JSON.stringify(answer), answer.expiresAt],
      );
      if (inserted.rowCount === 1) return undefined;
      const r = await tx.query('SELECT body FROM wait_answers WHERE "key" = $1', [key]);
      return r.rows[0] && (JSON.parse(r.rows[0].body as string) as StoredAnswer);
    });
  }

  async getAnswer(key: string, now: number): Promise<StoredAnswer | undefined> {
    const r = await this.store.query(
      'read an answer',
      'SELECT body FROM wait_answers WHERE "key" = $1 AND expires_at > $2',
      [key, now],
    );
    return r.rows[0] && (JSON.parse(r.rows[0].body as string) as StoredAnswer);
  }
}
