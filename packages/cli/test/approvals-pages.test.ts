/**
 * `orchestr8 approvals` reads GET /approvals a page at a time: it follows `nextCursor` to list
 * every pending approval (2,500 here: three pages of the server's 1,000), oldest first, each
 * once; `--limit <n>` stops after n and says more are pending. The built CLI against a real
 * server on loopback, its store seeded with approval waits.
 */
import { createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine, createMemoryStore, type Engine, type Store } from '@orchestr8/core';
import { createServer, type Listener } from '@orchestr8/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalWaits } from '../../server/test/fixtures/approval-waits.js';
import { assertBuilt, cli } from './fixtures/harness.js';

const COUNT = 2_500;
let store: Store;
let engine: Engine;
let listener: Listener;
/** `<executionId> <stepId>` of each seeded approval, oldest first. */
const seeded: string[] = [];
let pagesRead = 0;

beforeAll(async () => {
  assertBuilt();
  store = createMemoryStore();
  // Two per millisecond.
  for (const w of await approvalWaits(store, COUNT, 2)) {
    await store.waits!.putWait(w);
    seeded.push(`${w.executionId} ${w.stepId}`);
  }
  engine = createEngine({ registry: createAgentRegistry([]), store });
  // Counts the pages the server reads for GET /approvals.
  const approvals = engine.approvals;
  engine.approvals = (query) => {
    pagesRead++;
    return approvals(query);
  };
  listener = await createServer({ engine, registry: createAgentRegistry([]) }).listen(0, '127.0.0.1');
});
afterAll(async () => {
  await Promise.all([listener?.close({ graceMs: 200 }), engine?.shutdown({ graceMs: 200 })]);
});

const env = { ORCHESTR8_API_KEY: undefined };
const listed = (items: { executionId: string; stepId: string }[]) =>
  items.map((a) => `${a.executionId} ${a.stepId}`);

describe('orchestr8 approvals pages', { timeout: 120_000 }, () => {
  it('follows nextCursor to list every pending approval, oldest first, each once, 1000 per request', async () => {
    pagesRead = 0;
    const r = await cli(['approvals', '--json', '--server', listener.url], { env });
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as { items: { executionId: string; stepId: string }[]; more?: boolean };
    expect(body.more).toBeUndefined();
    expect(listed(body.items)).toEqual(seeded);
    expect(pagesRead).toBe(3);

    const text = await cli(['approvals', '--server', listener.url], { env });
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(COUNT);
    expect(lines[0]).toContain('exec-0000 ok  approve 0?');
    expect(lines[COUNT - 1]).toContain(`exec-${COUNT - 1} ok  approve ${COUNT - 1}?`);
  });

  it('--limit n lists the oldest n and says more are pending', async () => {
    const r = await cli(['approvals', '--json', '--limit', '1001', '--server', listener.url], { env });
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as { items: { executionId: string; stepId: string }[]; more?: boolean };
    expect(listed(body.items)).toEqual(seeded.slice(0, 1001));
    expect(body.more).toBe(true);

    const text = await cli(['approvals', '--limit', '3', '--server', listener.url], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.trim().split('\n')).toEqual([
      expect.stringContaining('exec-0000 ok  approve 0?'),
      expect.stringContaining('exec-0001 ok  approve 1?'),
      expect.stringContaining('exec-0002 ok  approve 2?'),
      '(more pending: these are the oldest 3; raise --limit)',
    ]);

    const all = await cli(['approvals', '--json', '--limit', String(COUNT), '--server', listener.url], {
      env,
    });
    expect(JSON.parse(all.stdout)).toEqual({ items: expect.any(Array) });
  });

  it('refuses a --limit that is not a positive integer (exit 2), and says how it pages in its help', async () => {
    for (const bad of ['0', '-1', 'ten', '1.5']) {
      const r = await cli(['approvals', '--limit', bad, '--server', listener.url], { env });
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain('--limit must be a positive integer');
    }
    const help = (await cli(['approvals', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('follows its nextCursor to the end; --limit <n> stops after n');
  });
});
