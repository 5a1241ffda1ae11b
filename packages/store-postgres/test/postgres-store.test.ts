/**
 * What the PostgreSQL store adds to the contract: migrations (concurrent, refusing newer
 * schemas and foreign tables), idempotency decided by the database across pools, URLs and
 * schemas, errors that name the database but never the password.
 */
import { hasCode } from '@orchestr8/common';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { execution } from '../../core/test/store-contract.js';
import { MIGRATIONS, openPostgresStore, POSTGRES_SCHEMA_VERSION } from '../src/index.js';
import { freePort } from './pg-server.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

async function sql(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: server.url() });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  it('apply once when many processes open a fresh schema at the same time', async () => {
    const url = server.freshSchemaUrl();
    const stores = await Promise.all(
      Array.from({ length: 8 }, () => openPostgresStore({ url, poolSize: 2 })),
    );
    try {
      for (const s of stores) expect(await s.schemaVersion()).toBe(POSTGRES_SCHEMA_VERSION);
      const schema = new URL(url).searchParams.get('schema');
      const r = await sql(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
      expect(r.rows.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('refuse a schema newer than this code, leaving it untouched', async () => {
    const url = server.freshSchemaUrl();
    const schema = new URL(url).searchParams.get('schema');
    await (await openPostgresStore({ url })).close();
    await sql(`INSERT INTO ${schema}.schema_migrations VALUES (999, 'from the future', 0)`);
    const error = await rejection(openPostgresStore({ url }));
    expect(hasCode(error, 'STORE')).toBe(true);
    expect(error.message).toMatch(/schema version 999, newer than this version of orchestr8 supports/);
  });

  it('refuse a schema that holds tables of the same names but is not ours', async () => {
    await sql('CREATE SCHEMA foreign_app');
    await sql('CREATE TABLE foreign_app.executions (id int)');
    const error = await rejection(openPostgresStore({ url: server.url(), schema: 'foreign_app' }));
    expect(error.message).toMatch(/already has tables named like orchestr8's/);
    const r = await sql("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'foreign_app'");
    expect(r.rows[0].n).toBe(1);
  });

  it('refuse an old schema when migrations are off', async () => {
    const url = server.freshSchemaUrl();
    const error = await rejection(openPostgresStore({ url, migrate: false }));
    expect(error.message).toMatch(/at orchestr8 schema version 0, older than/);
  });
});

describe('idempotency across API instances', () => {
  it('creates one execution when separate pools race for the same key', async () => {
    const url = server.freshSchemaUrl();
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ url, poolSize: 4 })));
    try {
      const claim = { key: 'race', fingerprint: 'f', expiresAt: Date.now() + 60_000 };
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => stores[i % 3]!.createExecution(execution(), claim)),
      );
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      const winner = created[0]!.created ? created[0]!.execution.id : '';
      for (const r of results) if (!r.created) expect(r.existing.executionId).toBe(winner);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe('connections', () => {
  it('keeps tables in the schema named by the URL', async () => {
    const store = await openPostgresStore({ url: `${server.url()}?schema=custom_place` });
    try {
      expect(store.schema).toBe('custom_place');
      expect(store.where).toBe(`postgres@127.0.0.1:${server.port}/postgres (schema custom_place)`);
      await store.createExecution(execution({ id: 'here' }));
      expect(await store.isDistributed('here')).toBe(false);
      expect(await store.isDistributed('nowhere')).toBe(false);
      const r = await sql('SELECT id FROM custom_place.executions');
      expect(r.rows).toEqual([{ id: 'here' }]);
    } finally {
      await store.close();
    }
  });

  it('rejects malformed URLs and schema names with VALIDATION', async () => {
    expect(
      hasCode(await rejection(openPostgresStore({ url: 'postgres://x/db?schema=Bad-Name' })), 'VALIDATION'),
    ).toBe(true);
    expect(hasCode(await rejection(openPostgresStore({ url: 'mysql://x/db' })), 'VALIDATION')).toBe(true);
  });

  it('names the database but never the password when it cannot connect', async () => {
    const port = await freePort();
    const error = await rejection(
      openPostgresStore({ url: `postgres://ada:s3cret-pw@127.0.0.1:${port}/orders` }),
    );
    expect(hasCode(error, 'STORE')).toBe(true);
    expect(error.message).toContain(`cannot connect to PostgreSQL at ada@127.0.0.1:${port}/orders`);
    expect(error.message).not.toContain('s3cret-pw');
    expect(JSON.stringify(error.details)).not.toContain('s3cret-pw');
  });

  it('answers a NOTIFY on a channel of its schema', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const got: string[] = [];
      const stop = await store.listen('ping', (p) => got.push(p));
      await store.query('notify', 'SELECT pg_notify($1, $2)', [store.channel('ping'), 'hello']);
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual(['hello']);
      stop();
    } finally {
      await store.close();
    }
  });
});
