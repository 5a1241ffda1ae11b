/**
 * End to end over real processes: two `orchestr8 serve` on one PostgreSQL share the trigger
 * state and the leader lease. Each occurrence of a schedule starts one execution, and when
 * the leader is SIGKILLed the other takes over once the lease expires, catching up the
 * occurrences due meanwhile (within the tolerance), so none is lost. Bounded polls; no timing
 * is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgServer, startPostgres } from '../../../store-postgres/test/pg-server.js';
import { assertBuilt, startServe, until } from './served.js';

let pg: PgServer;

beforeAll(async () => {
  assertBuilt();
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

/** Two serve on one store: a short trigger lease, so the survivor takes over within the test. */
const serve = (store: string) => startServe(['--store', store, '--trigger-lease', '2s']);

async function fireTimes(url: string): Promise<number[]> {
  const r = await fetch(`${url}/executions?trigger=tick&limit=1000`);
  const { items } = (await r.json()) as { items: { correlationId: string }[] };
  return items.map((e) => Date.parse(e.correlationId.slice('trigger:tick@'.length))).sort((a, b) => a - b);
}

describe('two orchestr8 serve on one PostgreSQL', { timeout: 120_000 }, () => {
  it('fire each occurrence once, and the other takes over when the leader is SIGKILLed', async () => {
    const store = pg.freshSchemaUrl();
    const a = await serve(store);
    const doc = {
      version: '1.0.0',
      metadata: { id: 'shared' },
      steps: [{ id: 'a', agent: '@orchestr8/echo', input: { message: 'hi' } }],
      triggers: [{ name: 'tick', schedule: { every: '1s', overlap: 'allowAll' } }],
    };
    const put = await fetch(`${a.url}/workflows/shared`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    expect(put.status).toBeLessThan(300);
    await until('a first execution', async () => ((await fireTimes(a.url)).length > 0 ? true : undefined));
    // b starts after a holds the lease: a leads.
    const b = await serve(store);
    await until('three more executions', async () =>
      (await fireTimes(b.url)).length >= 4 ? true : undefined,
    );
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    const times = await until('executions b fired after the kill', async () => {
      const t = await fireTimes(b.url);
      return t.filter((x) => x > killedAt + 1000).length >= 3 ? t : undefined;
    });
    // Once each, and none lost: consecutive seconds from the first to the last.
    expect(new Set(times).size).toBe(times.length);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    b.child.kill('SIGTERM');
  });
});
