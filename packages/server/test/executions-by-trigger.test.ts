/**
 * GET /executions filters by what started an execution: `?trigger=<name>` (the correlation
 * ids triggers give, `trigger:<name>@<fire time>` and `trigger:<name>#<id>`) and
 * `?correlationId=<prefix>`, across pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneStep, startServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
  const wf = t.engine.compile(oneStep());
  for (const correlationId of [
    'trigger:nightly@2026-01-01T03:00:00.000Z',
    'trigger:nightly@2026-01-02T03:00:00.000Z',
    'trigger:nightly#evt-1',
    'trigger:nightly2@2026-01-01T03:00:00.000Z',
    'trigger:push#d-1',
    'manual-run',
  ])
    await (await t.engine.start(wf, { correlationId })).result;
});
afterAll(() => t.stop());

const list = async (query: string) =>
  (await (await fetch(`${t.url}/executions?${query}`)).json()) as {
    items: { correlationId?: string }[];
    nextCursor?: string;
  };

describe('GET /executions by trigger', () => {
  it('?trigger=<name> lists what that trigger started (fire times and ids), not a trigger with a longer name', async () => {
    const { items } = await list('trigger=nightly');
    expect(items.map((e) => e.correlationId).sort()).toEqual([
      'trigger:nightly#evt-1',
      'trigger:nightly@2026-01-01T03:00:00.000Z',
      'trigger:nightly@2026-01-02T03:00:00.000Z',
    ]);
  });

  it('?correlationId=<prefix> matches by prefix', async () => {
    const { items } = await list(`correlationId=${encodeURIComponent('trigger:')}`);
    expect(items).toHaveLength(5);
    expect((await list('correlationId=manual')).items.map((e) => e.correlationId)).toEqual(['manual-run']);
  });

  it('keeps the filter on the next page (cursor and Link)', async () => {
    const res = await fetch(`${t.url}/executions?trigger=nightly&limit=2`);
    const first = (await res.json()) as { items: unknown[]; nextCursor: string };
    expect(first.items).toHaveLength(2);
    expect(res.headers.get('link')).toContain('trigger=nightly');
    const second = await list(`trigger=nightly&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`);
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeUndefined();
  });
});
