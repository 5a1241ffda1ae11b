/**
 * A fresh database that fills up fast (a load test, a first import) must not leave the
 * store's prepared statements scanning whole tables: their plans, made while the tables were
 * small, last until PostgreSQL's statistics of the tables change, and autovacuum looks only
 * once a minute. The store analyzes its tables as they grow (statistics-upkeep.ts).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../src/index.js';
import { MIN_ROWS, startStatisticsUpkeep } from '../src/statistics-upkeep.js';
import { type PgServer, startPostgres } from './pg-server.js';

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** Inserts executions `from`..`to` (ids e00000001, ...) in one statement. */
const fill = (store: PostgresStore, from: number, to: number) =>
  store.query(
    'fill',
    `INSERT INTO executions (id, workflow_id, workflow_version, definition_hash, status, created_at, updated_at)
     SELECT 'e' || lpad(i::text, 8, '0'), 'wf', '1.0.0', 'hash', 'completed', i, i FROM generate_series($1::int, $2::int) i`,
    [from, to],
  );

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
      // PostgreSQL's row counts reach pg_stat_user_tables within a second or so of a commit.
      const analyzedOnce = async () => (await upkeep.check()).includes('executions');
      await fill(store, 1, MIN_ROWS - 1);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await upkeep.check()).toEqual([]);
      await fill(store, MIN_ROWS, 1500);
      await expect.poll(analyzedOnce, { timeout: 15_000, interval: 200 }).toBe(true);
      expect(await analyses(store)).toBe(1);
      // 2,400 rows: less than twice the 1,500 analyzed.
      await fill(store, 1501, 2400);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await upkeep.check()).toEqual([]);
      await fill(store, 2401, 3100);
      await expect.poll(analyzedOnce, { timeout: 15_000, interval: 200 }).toBe(true);
      expect(await analyses(store)).toBe(2);
    } finally {
      await upkeep.stop();
      await store.close();
    }
  }, 40_000);

  it('does nothing with statisticsUpkeepMs 0, and stops looking when the store closes', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 0 });
    try {
      await fill(store, 1, 5000);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await analyses(store)).toBe(0);
    } finally {
      await store.close();
    }
    const looking = await openPostgresStore({ url: server.freshSchemaUrl(), statisticsUpkeepMs: 50 });
    await looking.close();
    // Closed while its first look was due: nothing runs on the ended pool (no unhandled rejection).
    await new Promise((r) => setTimeout(r, 200));
  });
});
