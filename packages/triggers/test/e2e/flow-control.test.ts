// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * End to end over real processes: 1,000 events over 10 keys, through `orchestr8 serve` on
 * SQLite, to an event trigger with a per-key concurrency limit of 2. Every event runs, and
 * the executions' own start and finish times never show more than 2 of one key at once.
 * Bounded polls; no timing is asserted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../../cli/dist/bin.js', import.meta.url));
let dir: string;
let child: ChildProcess | undefined;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm build)`);
  dir = mkdtempSync(join(tmpdir(), 'o8-triggers-flow-'));
});
afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function serve(store: string): Promise<string> {
  child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--log-level', 'warn', '--store', store], {
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child!.stdout!.on('data', (d) => {
      out += d;
      const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child!.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Summary {
  correlationId: string;
  status: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
}

describe('flow control through orchestr8 serve', () => {
  it('1,000 events with 10 keys and a per-key limit of 2 all run, never more than 2 per key at once', async () => {
    const url = await serve(`sqlite:${join(dir, 'flow.db')}`);
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
    await until('the trigger', async () => {
      const r = (await (await fetch(`${url}/triggers`)).json()) as { items: { name: string }[] };
      return r.items.some((t) => t.name === 'jobs') ? true : undefined;
    });

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

    const done = await until('1,000 completed executions', async () => {
      const r = await fetch(`${url}/executions?workflowId=per-key&status=completed&limit=1000`);
      const { items } = (await r.json()) as { items: Summary[] };
      return items.length === N ? items : undefined;
    });
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
    child!.kill('SIGTERM');
  });
});
