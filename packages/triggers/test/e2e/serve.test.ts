/**
 * End to end over real processes (the built CLI): `orchestr8 serve` on SQLite fires
 * schedules, catches up after downtime as its policy says, and refuses bad webhooks.
 * Waits are bounded polls; no timing is asserted.
 */
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, listedTrigger, startServe as serve, until, useTempRoot } from './served.js';

const dir = useTempRoot('triggers-e2e')();
beforeAll(assertBuilt);

const put = (url: string, doc: unknown) =>
  fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });

interface Exec {
  id: string;
  correlationId?: string;
  createdAt: number;
}
async function executions(url: string, workflowId: string): Promise<Exec[]> {
  const r = await fetch(`${url}/executions?workflowId=${workflowId}&limit=100`);
  const body = (await r.json()) as { items: Exec[] };
  return body.items.filter((e) => (e as unknown as { workflowId: string }).workflowId === workflowId);
}

const workflow = (id: string, triggers: unknown[], extra: Record<string, unknown> = {}) => ({
  version: '1.0.0',
  metadata: { id },
  steps: [{ id: 'a', agent: '@orchestr8/echo', input: { message: 'hi' } }],
  triggers,
  ...extra,
});

const activeTrigger = (url: string, workflowId: string) =>
  listedTrigger(url, `the triggers of ${workflowId}`, (t) => t.workflowId === workflowId);

describe('orchestr8 serve with triggers', { timeout: 120_000 }, () => {
  it('fires a registered schedule on SQLite, and the executions say which occurrence started them', async () => {
    const s = await serve(['--store', `sqlite:${join(dir, 'a.db')}`]);
    try {
      expect(
        (
          await put(
            `${s.url}/workflows/every-second`,
            workflow('every-second', [{ name: 'tick', schedule: { every: '1s', overlap: 'allowAll' } }]),
          )
        ).status,
      ).toBeLessThan(300);
      await activeTrigger(s.url, 'every-second');
      const runs = await until('two scheduled executions', async () => {
        const e = await executions(s.url, 'every-second');
        return e.length >= 2 ? e : undefined;
      });
      for (const e of runs)
        expect(e.correlationId).toMatch(/^trigger:tick@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    } finally {
      await s.stop();
    }
  });

  it('after downtime spanning three occurrences, the catch-up policy "last" runs the latest missed one only', async () => {
    const store = `sqlite:${join(dir, 'b.db')}`;
    const args = ['--store', store, '--trigger-tolerance', '1s'];
    let s = await serve(args);
    await put(
      `${s.url}/workflows/catch-up`,
      workflow('catch-up', [
        { name: 'tick', schedule: { every: '1s', overlap: 'allowAll', catchUp: { policy: 'last' } } },
      ]),
    );
    await activeTrigger(s.url, 'catch-up');
    await until('a first execution', async () =>
      (await executions(s.url, 'catch-up')).length > 0 ? true : undefined,
    );
    await s.stop();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 4500));
    // Nothing ran between `down` and `up`: every occurrence of that span was missed.
    const up = Date.now();
    s = await serve(args);
    try {
      await activeTrigger(s.url, 'catch-up');
      await new Promise((r) => setTimeout(r, 1500));
      const runs = (await executions(s.url, 'catch-up')).map((e) => ({
        fire: Date.parse(e.correlationId!.slice('trigger:tick@'.length)),
        created: e.createdAt,
      }));
      // The downtime (4.5 s, every second) held at least three occurrences, of which "last" runs
      // one at most (none of them when the latest missed one fell after `up`, while the server
      // was starting). Told apart by their times, not by how late they started: on a loaded
      // machine a regular tick can start more than the tolerance late too.
      const missed = runs.filter((r) => r.fire > down + 500 && r.fire < up);
      expect(missed.length).toBeLessThanOrEqual(1);
      // The latest missed occurrence ran, late (more than the tolerance after its time).
      expect(runs.some((r) => r.fire > down + 500 && r.created - r.fire > 1000)).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('refuses a webhook with a bad signature (401, nothing started), and a replayed delivery id starts nothing new', async () => {
    const s = await serve(['--store', `sqlite:${join(dir, 'c.db')}`, '--allow-env', 'HOOK_SECRET'], {
      HOOK_SECRET: 's3cret',
    });
    try {
      await put(
        `${s.url}/workflows/hooked`,
        workflow(
          'hooked',
          [{ name: 'gh', webhook: { signature: { secret: 'hook' }, dedupeHeader: 'X-GitHub-Delivery' } }],
          {
            context: { secretRefs: { hook: { env: 'HOOK_SECRET' } } },
          },
        ),
      );
      await activeTrigger(s.url, 'hooked');
      const body = JSON.stringify({ action: 'opened' });
      const sig = `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`;
      const send = (signature: string, delivery: string) =>
        fetch(`${s.url}/hooks/hooked/gh`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature-256': signature,
            'x-github-delivery': delivery,
          },
          body,
        });
      const bad = await send(`sha256=${'0'.repeat(64)}`, 'd-0');
      expect(bad.status).toBe(401);
      expect((await bad.json()) as object).toMatchObject({ code: 'SIGNATURE_INVALID' });
      expect(await executions(s.url, 'hooked')).toEqual([]);
      expect((await send(sig, 'd-1')).status).toBe(202);
      const replay = await send(sig, 'd-1');
      expect(replay.status).toBe(200);
      expect(await replay.json()).toEqual({ duplicate: true, deliveryId: 'd-1' });
      expect((await executions(s.url, 'hooked')).map((e) => e.correlationId)).toEqual(['trigger:gh#d-1']);
    } finally {
      await s.stop();
    }
  });

  it("honours a document's policies.flow on POST /workflows/execute: over its rate limit, 429 with Retry-After", async () => {
    const s = await serve(['--store', `sqlite:${join(dir, 'd.db')}`]);
    try {
      const doc = {
        version: '1.0.0',
        metadata: { id: 'limited' },
        policies: { flow: { rateLimit: { limit: 2, per: '1h' } } },
        steps: [{ id: 'a', agent: '@orchestr8/echo', input: { message: 'hi' } }],
      };
      const execute = () =>
        fetch(`${s.url}/workflows/execute`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ workflow: doc }),
        });
      expect((await execute()).status).toBe(202);
      expect((await execute()).status).toBe(202);
      const over = await execute();
      expect(over.status).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await over.json()).toMatchObject({ code: 'RATE_LIMITED', reason: 'rate_limited' });
      expect(await executions(s.url, 'limited')).toHaveLength(2);
    } finally {
      await s.stop();
    }
  });
});
