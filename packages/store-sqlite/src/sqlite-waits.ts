import {
  eventKeyValue,
  type StoredAnswer,
  type WaitCursor,
  type WaitEvent,
  type WaitRecord,
  type WaitStore,
  waitIndexKeys,
} from '@orchestr8/core';
import type Database from 'libsql';

type Row = Record<string, unknown>;

/**
 * The pending approvals, oldest first: a range of index waits_pending_approvals (migration
 * 9), named because without statistics the planner prefers waits_by_due and sorts.
 */
export const PENDING_APPROVALS_SQL = `SELECT body FROM waits INDEXED BY waits_pending_approvals
  WHERE kind = 'approval' AND state = 'pending'
  ORDER BY created_at, id LIMIT ?`;
/** The same after a cursor's position. */
export const PENDING_APPROVALS_AFTER_SQL = `SELECT body FROM waits INDEXED BY waits_pending_approvals
  WHERE kind = 'approval' AND state = 'pending'
  AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`;
type Run = <T>(action: string, fn: () => T) => Promise<T>;
type Transaction = <T>(fn: () => T) => T;

/**
 * The SQLite store's waits and event inbox (tables of migration 4). Exactly-once wakes
 * rest on conditional updates: `claimWait` updates only the row still at the version the
 * caller read, `takeWaitingExecution` only an execution still `waiting`; SQLite runs each
 * statement atomically under its write lock, across processes sharing the file.
 *
 * Pending waits are indexed by the events they listen for (table wait_keys, migration 5):
 * an event reads the waits without a correlation key for its name, and for each path some
 * keyed wait uses, the waits under the value the event carries there; not every wait.
 */
export function createSqliteWaits(
  db: Database.Database,
  run: Run,
  transaction: Transaction,
): WaitStore & { dispose(): void } {
  let st: ReturnType<typeof prepare> | undefined;
  const s = () => {
    st ??= prepare(db);
    return st;
  };
  const params = (w: WaitRecord) => [
    w.id,
    w.executionId,
    w.kind,
    w.state,
    w.dueAt ?? null,
    w.events ? JSON.stringify(w.events) : null,
    w.version,
    w.createdAt,
    JSON.stringify(w),
  ];
  const toWait = (r: Row): WaitRecord => JSON.parse(r.body as string) as WaitRecord;
  const index = (w: WaitRecord) => {
    for (const k of waitIndexKeys(w)) s().putKey.run([k.name, k.path, k.value, w.id]);
  };
  /** The distinct key paths of an event name (a loose index scan: one seek per path). */
  const pathsOf = (name: string): string[] => (s().paths.all([name]) as Row[]).map((r) => r.path as string);
  const pendingApprovals = (after: WaitCursor | undefined, limit = -1): WaitRecord[] =>
    (after === undefined
      ? (s().approvals.all([limit]) as Row[])
      : (s().approvalsAfter.all([after.createdAt, after.id, limit]) as Row[])
    ).map(toWait);
  const candidates = (name: string, event: WaitEvent | undefined): WaitRecord[] => {
    if (event === undefined) return (s().forName.all([name]) as Row[]).map(toWait);
    // The common case for event triggers: no wait of this name at all (one index seek).
    if (s().anyKey.get([name]) === undefined) return [];
    const seen = new Set<string>();
    const out: WaitRecord[] = [];
    const add = (rows: Row[]) => {
      for (const r of rows) {
        const id = r.id as string;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(toWait(r));
      }
    };
    add(s().forKey.all([name, '', '']) as Row[]);
    for (const path of pathsOf(name)) {
      if (path === '') continue;
      const v = eventKeyValue(event, path);
      if (v !== undefined) add(s().forKey.all([name, path, v]) as Row[]);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  };
  const insertEvent = (e: WaitEvent): boolean =>
    s().putEvent.run([
      e.name,
      e.id,
      e.receivedAt,
      JSON.stringify({ payload: e.payload, executionId: e.executionId }),
    ]).changes === 1;
  const toAnswer = (r: Row | undefined): StoredAnswer | undefined =>
    r && {
      fingerprint: r.fingerprint as string,
      answer: JSON.parse(r.body as string),
      expiresAt: r.expires_at as number,
    };
  return {
    putWait: (w) =>
      run('record a wait', () =>
        transaction(() => {
          s().put.run(params(w));
          s().unindex.run([w.id]);
          index(w);
        }),
      ),
    getWait: (id) =>
      run('read a wait', () => {
        const r = s().get.get([id]) as Row | undefined;
        return r && toWait(r);
      }),
    dueWaits: (now, limit = 1000) =>
      run('read due waits', () => (s().due.all([now, limit]) as Row[]).map(toWait)),
    nextDueAt: () =>
      run('read the next due wait', () => {
        const r = s().next.get([]) as { at: number | null } | undefined;
        return r?.at ?? undefined;
      }),
    waitsForEvent: (name, event) => run('read waits for an event', () => candidates(name, event)),
    listWaits: (q = {}) =>
      run('list waits', () =>
        q.kind === 'approval' && q.state === 'pending' && q.executionId === undefined
          ? pendingApprovals(q.after, q.limit)
          : (
              s().list.all([
                q.kind ?? null,
                q.kind ?? null,
                q.executionId ?? null,
                q.executionId ?? null,
                q.state ?? null,
                q.state ?? null,
                q.after?.createdAt ?? null,
                q.after?.createdAt ?? null,
                q.after?.id ?? null,
                q.limit ?? -1,
              ]) as Row[]
            ).map(toWait),
      ),
    claimWait: (id, version, next) =>
      run('claim a wait', () => {
        const claim = () =>
          s().claim.run([next.state, next.dueAt ?? null, next.version, JSON.stringify(next), id, version])
            .changes === 1;
        // Woken: one statement. Its index rows stay until the wait is deleted (they cascade),
        // and every lookup skips waits that are not pending.
        if (next.state !== 'pending') return claim();
        // Still pending (kind all, part received): re-indexed in the same transaction.
        return transaction(() => {
          const won = claim();
          if (won) {
            s().unindex.run([id]);
            index(next);
          }
          return won;
        });
      }),
    // wait_keys rows go with the wait (ON DELETE CASCADE).
    deleteWait: (id) => run('delete a wait', () => void s().del.run([id])),
    takeWaitingExecution: (executionId, at) =>
      run('take a waiting execution', () => s().take.run([at, executionId]).changes === 1),
    putEvent: (e) => run('record an event', () => insertEvent(e)),
    putEvents: (events, pruneBefore) =>
      run('record events', () =>
        transaction(() => {
          const accepted = events.map(insertEvent);
          if (pruneBefore !== undefined) s().prune.run([pruneBefore]);
          return accepted;
        }),
      ),
    recentEvents: (name, since) =>
      run('read recent events', () =>
        (s().recent.all([name, since]) as Row[]).map((r) => {
          const body = JSON.parse(r.body as string) as { payload: unknown; executionId?: string };
          const e: WaitEvent = {
            name: r.name as string,
            id: r.id as string,
            payload: body.payload,
            receivedAt: r.received_at as number,
          };
          if (body.executionId != null) e.executionId = body.executionId;
          return e;
        }),
      ),
    pruneEvents: (before) => run('prune events', () => s().prune.run([before]).changes),
    waitingCancels: () =>
      run('read cancel requests of waiting executions', () =>
        (s().waitingCancels.all([]) as Row[]).map((r) => r.execution_id as string),
      ),
    putAnswer: (key, a, now) =>
      run('record an answer', () =>
        transaction(() => {
          const existing = toAnswer(s().getAnswer.get([key, now]) as Row | undefined);
          if (existing !== undefined) return existing;
          s().pruneAnswers.run([now]);
          s().putAnswer.run([key, a.fingerprint, JSON.stringify(a.answer ?? null), a.expiresAt]);
          return undefined;
        }),
      ),
    getAnswer: (key, now) =>
      run('read an answer', () => toAnswer(s().getAnswer.get([key, now]) as Row | undefined)),
    dispose() {
      st = undefined;
    },
  };
}

function prepare(db: Database.Database) {
  return {
    put: db.prepare(
      `INSERT INTO waits (id, execution_id, kind, state, due_at, events, version, created_at, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, state = excluded.state, due_at = excluded.due_at,
         events = excluded.events, version = excluded.version, body = excluded.body`,
    ),
    get: db.prepare('SELECT body FROM waits WHERE id = ?'),
    due: db.prepare(
      `SELECT body FROM waits WHERE state = 'woken' OR (state = 'pending' AND due_at <= ?)
       ORDER BY state = 'pending', due_at, created_at LIMIT ?`,
    ),
    next: db.prepare(`SELECT min(due_at) AS at FROM waits WHERE state = 'pending' AND due_at IS NOT NULL`),
    anyKey: db.prepare('SELECT 1 FROM wait_keys WHERE name = ? LIMIT 1'),
    putKey: db.prepare('INSERT OR IGNORE INTO wait_keys (name, path, value, wait_id) VALUES (?, ?, ?, ?)'),
    unindex: db.prepare('DELETE FROM wait_keys WHERE wait_id = ?'),
    forName: db.prepare(
      `SELECT DISTINCT w.id, w.body, w.created_at FROM wait_keys k JOIN waits w ON w.id = k.wait_id
       WHERE k.name = ? AND w.state = 'pending' ORDER BY w.created_at`,
    ),
    forKey: db.prepare(
      `SELECT w.id, w.body FROM wait_keys k JOIN waits w ON w.id = k.wait_id
       WHERE k.name = ? AND k.path = ? AND k.value = ? AND w.state = 'pending'`,
    ),
    paths: db.prepare(
      `WITH RECURSIVE p(path) AS (
         SELECT min(path) FROM wait_keys WHERE name = ?1
         UNION ALL
         SELECT (SELECT min(path) FROM wait_keys WHERE name = ?1 AND path > p.path) FROM p WHERE p.path IS NOT NULL
       ) SELECT path FROM p WHERE path IS NOT NULL`,
    ),
    getAnswer: db.prepare(
      'SELECT fingerprint, body, expires_at FROM wait_answers WHERE key = ? AND expires_at > ?',
    ),
    putAnswer: db.prepare(
      'INSERT OR REPLACE INTO wait_answers (key, fingerprint, body, expires_at) VALUES (?, ?, ?, ?)',
    ),
    pruneAnswers: db.prepare('DELETE FROM wait_answers WHERE expires_at <= ?'),
    list: db.prepare(
      `SELECT body FROM waits WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR execution_id = ?)
       AND (? IS NULL OR state = ?) AND (? IS NULL OR (created_at, id) > (?, ?))
       ORDER BY created_at, id LIMIT ?`,
    ),
    approvals: db.prepare(PENDING_APPROVALS_SQL),
    approvalsAfter: db.prepare(PENDING_APPROVALS_AFTER_SQL),
    claim: db.prepare(
      `UPDATE waits SET state = ?, due_at = ?, version = ?, body = ? WHERE id = ? AND version = ? AND state = 'pending'`,
    ),
    del: db.prepare('DELETE FROM waits WHERE id = ?'),
    take: db.prepare(
      `UPDATE executions SET status = 'running', status_reason = 'woken', updated_at = ? WHERE id = ? AND status = 'waiting'`,
    ),
    putEvent: db.prepare(
      'INSERT INTO wait_events (name, id, received_at, body) VALUES (?, ?, ?, ?) ON CONFLICT (name, id) DO NOTHING',
    ),
    recent: db.prepare(
      'SELECT name, id, received_at, body FROM wait_events WHERE name = ? AND received_at >= ? ORDER BY received_at, id',
    ),
    prune: db.prepare('DELETE FROM wait_events WHERE received_at < ?'),
    waitingCancels: db.prepare(
      `SELECT c.execution_id FROM cancel_requests c JOIN executions e ON e.id = c.execution_id
       WHERE e.status = 'waiting' ORDER BY c.requested_at`,
    ),
  };
}
