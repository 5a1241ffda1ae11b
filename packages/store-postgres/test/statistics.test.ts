/**
 * A fresh database that fills up fast (a load test, a first import) must not leave the
 * store's prepared statements scanning whole tables: their plans, made while the tables were
 * small, last until PostgreSQL's statistics of the tables change, and autovacuum looks only
 * once a minute. The store analyzes its tables as they grow (statistics-upkeep.ts).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../src/index.js';
import { MIN_ROWS, startStatisticsUpkeep } from '../src/statistics-upkeep.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

/**
 * Inserts executions `from`..`to` (ids e00000001, ...) in one transaction, and has its
 * connection report the new rows to pg_stat_user_tables as it commits (PostgreSQL 15 may
 * otherwise hold a connection's counts back for up to 10 s).
 */
const fill = (store: PostgresStore, from: number, to: number) =>
  store.transaction('fill', async (tx) => {
    await tx.query(
      `INSERT INTO executions (id, workflow_id, workflow_version, definition_hash, status, created_at, updated_at)
       SELECT 'e' || lpad(i::text, 8, '0'), 'wf', '1.0.0', 'hash', 'completed', i, i FROM generate_series($1::int, $2::int) i`,
      [from, to],
    );
    await tx.query('SELECT pg_stat_force_next_flush()');
  });

/** Until pg_stat_user_tables counts `rows` live executions (what the upkeep looks at). */
const counted = (store: PostgresStore, rows: number) =>
  expect
    .poll(
      async () =>
        Number(
          (
            await store.query<{ n: string }>(
              'count rows',
              `SELECT n_live_tup AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'executions'`,
              [store.schema],
            )
          ).rows[0]?.n ?? 0,
        ),
      { timeout: 15_000, interval: 50 },
    )
    .toBe(rows);

/** How often the executions table was analyzed by hand (autovacuum's own are counted apart). */
const analyses = async (store: PostgresStore) => {
  const r = await store.query<{ n: string }>(
    'count analyses',
    `SELECT analyze_count AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'executions'`,
    [store.schema],
  );
  return Number(r.rows[0]?.n ?? 0);
};

describe("the store's statistics upkeep", () => {
  it("replaces a key lookup's whole-table scan, planned on a small table, once the table has grown", async () => {
    // Its first look comes after the table has grown and the stale plan has been seen.
    const store = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 3000 });
    // A connection of its own, holding a prepared statement like the store's named ones.
    const client = new pg.Client({ connectionString: server.url() });
    await client.connect();
    try {
      await client.query(`SET search_path = "${store.schema}"`);
      // As PostgreSQL does for most of the store's statements once they have run a few times.
      await client.query('SET plan_cache_mode = force_generic_plan');
      await fill(store, 1, 20);
      await client.query('PREPARE lookup(text[]) AS SELECT id FROM executions WHERE id = ANY($1)');
      // The generic plan, made for a 20-row table, is kept until the table's statistics change.
      await client.query(`EXECUTE lookup('{e00000003}')`);
      const plan = async () =>
        (await client.query(`EXPLAIN EXECUTE lookup('{e00000003}')`)).rows
          .map((r) => r['QUERY PLAN'] as string)
          .join('\n');
      await fill(store, 21, 20_000);
      expect(await plan()).toMatch(/Seq Scan on executions/);
      await expect
        .poll(plan, { timeout: 20_000, interval: 100 })
        .toMatch(/Index (Only )?Scan using executions_pkey/);
      expect(await analyses(store)).toBeGreaterThanOrEqual(1);
    } finally {
      await client.end();
      await store.close();
    }
  }, 40_000);

  it('analyzes a table once it has grown past twice the rows it had when last analyzed, and a small one never', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 0 });
    const upkeep = startStatisticsUpkeep(store, store.schema, 0);
    try {
      await fill(store, 1, MIN_ROWS - 1);
      await counted(store, MIN_ROWS - 1);
      expect(await upkeep.check()).toEqual([]);
      await fill(store, MIN_ROWS, 1500);
      await counted(store, 1500);
      expect(await upkeep.check()).toEqual(['executions']);
      expect(await analyses(store)).toBe(1);
      // 2,400 rows: less than twice the 1,500 analyzed.
      await fill(store, 1501, 2400);
      await counted(store, 2400);
      expect(await upkeep.check()).toEqual([]);
      await fill(store, 2401, 3100);
      await counted(store, 3100);
      expect(await upkeep.check()).toEqual(['executions']);
      expect(await analyses(store)).toBe(2);
    } finally {
      await upkeep.stop();
      await store.close();
    }
  }, 40_000);

  it('leaves tables the connecting role does not own to autovacuum', async () => {
    const owner = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 0 });
    const role = `reader_${owner.schema}`;
    await owner.query('create a role', `CREATE ROLE ${role} LOGIN`);
    await owner.query('grant', `GRANT USAGE ON SCHEMA "${owner.schema}" TO ${role}`);
    await owner.query('grant', `GRANT SELECT ON ALL TABLES IN SCHEMA "${owner.schema}" TO ${role}`);
    const url = new URL(server.url());
    url.username = role;
    url.searchParams.set('schema', owner.schema);
    const reader = await openPostgresStore({ url: url.toString(), migrate: false, statisticsUpkeepMs: 0 });
    try {
      await fill(owner, 1, 3000);
      await counted(owner, 3000);
      // PostgreSQL would skip the table with a warning, at every look.
      expect(await startStatisticsUpkeep(reader, reader.schema, 0).check()).toEqual([]);
      expect(await startStatisticsUpkeep(owner, owner.schema, 0).check()).toEqual(['executions']);
    } finally {
      await reader.close();
      await owner.close();
    }
  });

  it('skips a table another session has locked (a migration, another analysis) instead of waiting', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 0 });
    const client = new pg.Client({ connectionString: server.url() });
    await client.connect();
    try {
      await fill(store, 1, 3000);
      await counted(store, 3000);
      // The lock a plain CREATE INDEX takes; it conflicts with ANALYZE's.
      await client.query('BEGIN');
      await client.query(`LOCK TABLE "${store.schema}".executions IN SHARE MODE`);
      const upkeep = startStatisticsUpkeep(store, store.schema, 0);
      // Returns while the lock is still held (waiting would time the test out).
      await upkeep.check();
      expect(await analyses(store)).toBe(0);
      await client.query('COMMIT');
      expect(await upkeep.check()).toEqual(['executions']);
      expect(await analyses(store)).toBe(1);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('does not look while its store is idle, so its pool drains and a program that leaves it open can exit', async () => {
    const idle = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 50 });
    const url = new URL(server.url());
    url.searchParams.set('schema', idle.schema);
    const writer = await openPostgresStore({ url: url.toString(), statisticsUpkeepMs: 0 });
    try {
      await fill(writer, 1, 3000);
      await counted(writer, 3000);
      // Ten intervals and more, with the table due for an analysis: the idle store leaves it.
      await new Promise((r) => setTimeout(r, 700));
      expect(await analyses(writer)).toBe(0);
      // One statement of its own, and it looks again.
      await idle.listExecutions({ limit: 1 });
      await expect.poll(() => analyses(writer), { timeout: 10_000, interval: 50 }).toBe(1);
    } finally {
      await writer.close();
      await idle.close();
    }
  });

  it('does nothing with statisticsUpkeepMs 0', async () => {
    const opened = Date.now();
    const store = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 0 });
    try {
      await fill(store, 1, 5000);
      await counted(store, 5000);
      // Past the latest first look of the default (5 s, give or take a quarter).
      await new Promise((r) => setTimeout(r, Math.max(0, opened + 6500 - Date.now())));
      expect(await analyses(store)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('refuses an interval setTimeout cannot keep', async () => {
    for (const statisticsUpkeepMs of [-1, 1.5, Number.POSITIVE_INFINITY, 2 ** 31])
      await expect(openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs })).rejects.toThrow(
        /statisticsUpkeepMs must be a whole number of milliseconds from 0 \(never\) to 2147483647/,
      );
  });
});
