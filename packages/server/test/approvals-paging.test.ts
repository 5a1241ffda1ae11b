/**
 * GET /approvals pages on the server (keyset: createdAt, then id): `limit` (1..1000, default
 * 50), `nextCursor` and a `Link: rel="next"` header while there are more, a 400 problem naming
 * a bad `limit` or `cursor`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalWaits } from './fixtures/approval-waits.js';
import { problemOf, startServer, type TestServer } from './helpers.js';

let t: TestServer;
/** The seeded approvals' ids (`<executionId>/<stepId>`), oldest first. */
const seeded: string[] = [];

interface Page {
  items: { executionId: string; stepId: string; title: string; createdAt: string }[];
  nextCursor?: string;
}

beforeAll(async () => {
  t = await startServer();
  const waits = t.store.waits!;
  // Three approvals per millisecond.
  const rows = await approvalWaits(t.store, 120, 3);
  seeded.push(...rows.map((w) => w.id));
  // Registered in another order than created: the listing's order is the store's, not insertion's.
  for (const w of [...rows].reverse()) await waits.putWait(w);
});
afterAll(() => t.stop());

const get = (query: string) => fetch(`${t.url}/approvals${query}`);
const idsOf = (page: Page) => page.items.map((a) => `${a.executionId}/${a.stepId}`);

describe('GET /approvals pages', () => {
  it('pages 120 pending approvals 50 at a time (50, 50, 20), each once, oldest first, with Link', async () => {
    const sizes: number[] = [];
    const listed: string[] = [];
    let next = '?limit=50';
    for (let i = 0; i < 10; i++) {
      const res = await get(next);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      sizes.push(page.items.length);
      listed.push(...idsOf(page));
      const link = res.headers.get('link');
      if (page.nextCursor === undefined) {
        expect(link).toBeNull();
        break;
      }
      // The Link header names the next page: the same limit, this page's cursor.
      expect(link).toBe(
        `</approvals?${new URLSearchParams({ limit: '50', cursor: page.nextCursor })}>; rel="next"`,
      );
      next = link!.slice('</approvals'.length, link!.indexOf('>'));
    }
    expect(sizes).toEqual([50, 50, 20]);
    expect(listed).toEqual(seeded);
  });

  it('answers 50 by default, and the whole rest when limit covers it', async () => {
    const first = (await (await get('')).json()) as Page;
    expect(idsOf(first)).toEqual(seeded.slice(0, 50));
    const rest = (await (await get(`?limit=1000&cursor=${first.nextCursor}`)).json()) as Page;
    expect(idsOf(rest)).toEqual(seeded.slice(50));
    expect(rest.nextCursor).toBeUndefined();
  });

  it('shifts nothing when an approval of an earlier page is decided between pages', async () => {
    const first = (await (await get('?limit=10')).json()) as Page;
    // Decided (its wait gone) after its page was read: the next page starts where it did.
    await t.store.waits!.deleteWait(seeded[3]!);
    try {
      const second = (await (await get(`?limit=10&cursor=${first.nextCursor}`)).json()) as Page;
      expect(idsOf(second)).toEqual(seeded.slice(10, 20));
    } finally {
      const [executionId, stepId] = seeded[3]!.split('/') as [string, string];
      await t.store.waits!.putWait({
        id: seeded[3]!,
        executionId,
        stepId,
        workflowId: 'paged',
        kind: 'approval',
        state: 'pending',
        approval: { title: 'approve 3?' },
        version: 0,
        createdAt: Date.UTC(2030, 0, 1) + 1,
      });
    }
  });

  it('refuses limit=0, limit=1001 and a malformed cursor with a 400 problem naming the parameter', async () => {
    for (const [query, pointer] of [
      ['?limit=0', '/query/limit'],
      ['?limit=1001', '/query/limit'],
      ['?limit=abc', '/query/limit'],
      ['?cursor=not-a-cursor', '/query/cursor'],
      [`?cursor=${Buffer.from('{"a":1}').toString('base64url')}`, '/query/cursor'],
    ] as const) {
      const p = await problemOf(await get(query));
      expect(p.status, query).toBe(400);
      expect(
        p.errors.map((e: { pointer: string }) => e.pointer),
        query,
      ).toEqual([pointer]);
    }
  });
});
