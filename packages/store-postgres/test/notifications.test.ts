/**
 * LISTEN/NOTIFY through the store (what workers and engines wait on), and the errors a
 * database gives for a missing database or a conflicting transaction, on a real PostgreSQL.
 */
import { hasCode } from '@orchestr8/common';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../src/index.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

/** Polls until `done()` holds (a notification travels through the server asynchronously). */
async function until(done: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
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

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('notifications on the postgres store', () => {
  it('reach every handler of the channel, even when one throws, and no other channel or schema', async () => {
    const a = await openPostgresStore({ url: server.freshSchemaUrl() });
    const b = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const first: string[] = [];
      const second: string[] = [];
      const other: string[] = [];
      const otherSchema: string[] = [];
      await a.listen('work', () => {
        throw new Error('a broken handler');
      });
      await a.listen('work', (p) => first.push(p));
      await a.listen('work', (p) => second.push(p));
      await a.listen('cancel', (p) => other.push(p));
      await b.listen('work', (p) => otherSchema.push(p));
      a.notify('work', 'one');
      a.notify('work', 'two');
      await until(() => first.length === 2 && second.length === 2, 'both notifications');
      expect(first).toEqual(['one', 'two']);
      expect(second).toEqual(['one', 'two']);
      // A marker on b's own channel: once it arrives, anything a's notifications would have
      // sent to b would have arrived before it.
      b.notify('work', 'marker');
      await until(() => otherSchema.length === 1, "b's own notification");
      expect(otherSchema).toEqual(['marker']);
      expect(other).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('stop once the last handler of a channel unsubscribes', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const got: string[] = [];
      const marker: string[] = [];
      const stopOne = await store.listen('work', (p) => got.push(`1:${p}`));
      const stopTwo = await store.listen('work', (p) => got.push(`2:${p}`));
      await store.listen('marker', (p) => marker.push(p));
      stopOne();
      store.notify('work', 'a');
      await until(() => got.length === 1, 'the remaining handler');
      expect(got).toEqual(['2:a']);
      stopTwo();
      store.notify('work', 'b');
      store.notify('marker', 'after');
      await until(() => marker.length === 1, 'the marker');
      expect(got).toEqual(['2:a']);
    } finally {
      await store.close();
    }
  });

  it('come back after the listening connection is killed, and tell subscribers to re-read', async () => {
    const store: PostgresStore = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const got: string[] = [];
      let reconnects = 0;
      await store.listen(
        'work',
        (p) => got.push(p),
        () => {
          reconnects++;
        },
      );
      const channel = store.channel('work');
      // The listening backend is the one that LISTENs on our channel.
      const killed = await sql(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE query = $1 AND pid <> pg_backend_pid()`,
        [`LISTEN "${channel}"`],
      );
      expect(killed.rows.map((r) => r.ok)).toEqual([true]);
      await until(() => reconnects === 1, 'the reconnect');
      store.notify('work', 'after the reconnect');
      await until(() => got.length === 1, 'a notification on the new connection');
      expect(got).toEqual(['after the reconnect']);
    } finally {
      await store.close();
    }
  });

  it('cannot be listened to once the store is closed', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    await store.close();
    const error = await rejection(store.listen('work', () => {}));
    expect(hasCode(error, 'STORE')).toBe(true);
  });
});

describe('errors from the database', () => {
  it('say a database does not exist, naming it, not retryable', async () => {
    const error = await rejection(openPostgresStore({ url: server.url('no_such_db') }));
    expect(hasCode(error, 'STORE')).toBe(true);
    expect(error.message).toContain(`/no_such_db does not exist`);
    expect(error.message).toContain('create it first');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ sqlState: '3D000' });
  });

  it('name the statement that failed in words, with its SQLSTATE', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const error = await rejection(store.query('read a table that is not there', 'SELECT * FROM nope'));
      expect(hasCode(error, 'STORE')).toBe(true);
      expect(error.message).toContain('failed to read a table that is not there');
      expect(error.details).toMatchObject({ sqlState: '42P01', action: 'read a table that is not there' });
      expect(error.retryable).toBe(false);
    } finally {
      await store.close();
    }
  });
});
