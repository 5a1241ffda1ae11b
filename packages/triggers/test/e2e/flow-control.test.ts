// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * End to end over real processes: 1,000 events over 10 keys, through `orchestr8 serve` on
 * SQLite, to an event trigger with a per-key concurrency limit of 2. Every event runs, and
 * the executions' own start and finish times never show more than 2 of one key at once.
 * Bounded polls; no timing is asserted.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, listedTrigger, startServe, until, useTempRoot } from './served.js';

const dir = useTempRoot('triggers-flow')();
beforeAll(assertBuilt);

interface Summary {
  correlationId: string;
  status: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
}

describe('flow control through orchestr8 serve', { timeout: 180_000 }, () => {
  it('1,000 events with 10 keys and a per-key limit of 2 all run, never more than 2 per key at once', async () => {
    const served = await startServe(['--store', `sqlite:${join(dir, 'flow.db')}`]);
    const { url } = served;
    const doc = {
      version: '1.0.0',
      metadata: { id: 'per-key' },
      steps: [{ id: 'work', agent: '@orchestr8/sleep', input: { ms: 20 } }],
      triggers: [
        {
          name: 'jobs',
          event: { name: 'job' },
          flow: { concurrency: { limit: 2, key: '${inputs.key}', maxQueue: 1000 } },
        },
      ],
    };
    const put = await fetch(`${url}/workflows/per-key`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    expect(put.status).toBeLessThan(300);
    await listedTrigger(url, 'the trigger', (t) => t.name === 'jobs');

    const N = 1000;
    let next = 0;
    const send = async () => {
      while (next < N) {
        const i = next++;
        const key = `k${i % 10}`;
        const r = await fetch(`${url}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'job', id: `${key}-${i}`, data: { key } }),
        });
        expect(r.status).toBe(202);
      }
    };
    await Promise.all(Array.from({ length: 50 }, send));

    const done = await until(
      '1,000 completed executions',
      async () => {
        const r = await fetch(`${url}/executions?workflowId=per-key&status=completed&limit=1000`);
        const { items } = (await r.json()) as { items: Summary[] };
        return items.length === N ? items : undefined;
      },
      120_000,
    );
    const byKey = new Map<string, Summary[]>();
    for (const e of done) {
      const key = /^trigger:jobs#(k\d)-\d+$/.exec(e.correlationId)![1]!;
      byKey.set(key, [...(byKey.get(key) ?? []), e]);
    }
    expect([...byKey.keys()].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
    const most: number[] = [];
    for (const [key, runs] of byKey) {
      expect(runs, key).toHaveLength(100);
      // Most at once: sweep the starts and finishes (a finish at the same ms as a start comes first).
      const points = runs.flatMap((e) => [
        { t: e.createdAt, d: 1 },
        { t: e.finishedAt!, d: -1 },
      ]);
      points.sort((a, b) => a.t - b.t || a.d - b.d);
      let open = 0;
      let peak = 0;
      for (const p of points) {
        open += p.d;
        peak = Math.max(peak, open);
      }
      most.push(peak);
    }
    expect(Math.max(...most)).toBe(2);
    await served.stop();
  });
});
