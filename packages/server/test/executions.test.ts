import { createEngine } from '@orchestr8/core';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gate,
  gated,
  oneStep,
  post,
  problemOf,
  registry,
  startServer,
  type TestServer,
  waitTerminal,
} from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const run = async (doc: unknown, inputs: Record<string, unknown> = {}) =>
  (await (await post(`${t.url}/workflows/execute?wait=10`, { workflow: doc, inputs })).json()) as Record<
    string,
    any
  >;

describe('GET /executions', () => {
  it('filters by workflow and status and pages with a cursor, newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await run(oneStep('listed'), { i })).executionId);
    const failing = {
      version: '1.0.0',
      metadata: { id: 'listed' },
      steps: [{ id: 'boom', agent: '@orchestr8/fail', input: { always: true, retryable: false } }],
    };
    const failed = (await run(failing)).executionId;

    const completed: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await fetch(
        `${t.url}/executions?workflowId=listed&status=completed&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Record<string, any>[]; nextCursor?: string };
      if (page.nextCursor) expect(res.headers.get('link')).toContain('rel="next"');
      for (const e of page.items) {
        expect(e.status).toBe('completed');
        expect(e.workflowId).toBe('listed');
        completed.push(e.executionId);
      }
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(completed).toEqual([...ids].reverse());

    const onlyFailed = (await (
      await fetch(`${t.url}/executions?workflow=listed&status=failed,cancelled`)
    ).json()) as Record<string, any>;
    expect(onlyFailed.items.map((e: { executionId: string }) => e.executionId)).toEqual([failed]);
    expect(onlyFailed.items[0].error.code).toBe('TERMINAL');
  });

  it('rejects an unknown status, a bad limit and a forged cursor with 400', async () => {
    for (const q of [
      'status=done',
      'limit=0',
      'limit=abc',
      'limit=5000',
      'cursor=not-a-cursor',
      'limit=1&limit=2',
    ]) {
      const p = await problemOf(await fetch(`${t.url}/executions?${q}`));
      expect(p.status, q).toBe(400);
    }
  });
});

describe('GET /executions/:id', () => {
  it('returns the execution with an ETag, and 304 for If-None-Match with it', async () => {
    const id = (await run(oneStep('etag'))).executionId;
    const res = await fetch(`${t.url}/executions/${id}`);
    expect(res.status).toBe(200);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^W\/".+"$/);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ executionId: id, workflowId: 'etag', status: 'completed' });
    const again = await fetch(`${t.url}/executions/${id}`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const stale = await fetch(`${t.url}/executions/${id}`, { headers: { 'if-none-match': 'W/"stale"' } });
    expect(stale.status).toBe(200);
  });

  it('changes the ETag when the execution changes', async () => {
    const g = gate('etag-changes');
    const started = (await (
      await post(`${t.url}/workflows/execute`, { workflow: gated('etag-changes') })
    ).json()) as Record<string, any>;
    const running = await fetch(`${t.url}/executions/${started.executionId}`);
    const etag = running.headers.get('etag')!;
    g.open();
    await waitTerminal(t.url, started.executionId);
    const done = await fetch(`${t.url}/executions/${started.executionId}`, {
      headers: { 'if-none-match': etag },
    });
    expect(done.status).toBe(200);
    expect(done.headers.get('etag')).not.toBe(etag);
  });

  it('answers 404 for an unknown id, however odd', async () => {
    for (const id of ['nope', encodeURIComponent("'; DROP TABLE executions; --"), '%E0%A4%A']) {
      const res = await fetch(`${t.url}/executions/${id}`);
      const p = await problemOf(res);
      expect([400, 404]).toContain(p.status);
    }
  });

  it('says a path with a malformed percent-encoding is one', async () => {
    const p = await problemOf(await fetch(`${t.url}/executions/%E0%A4%A`));
    expect(p).toMatchObject({ status: 400, code: 'BAD_REQUEST', instance: '/executions/%E0%A4%A' });
    expect(p.detail).toContain('malformed percent-encoding in "%E0%A4%A"');
  });
});

describe('GET /executions/:id/journal', () => {
  it('returns NDJSON entries, paged by cursor', async () => {
    gate('journal-paged').open();
    const exec = await run(gated('journal-paged', 'journal'));
    await waitTerminal(t.url, exec.executionId);
    const all: { seq: number; type: string }[] = [];
    let cursor = 0;
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${t.url}/executions/${exec.executionId}/journal?cursor=${cursor}&limit=3`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const lines = (await res.text()).split('\n').filter(Boolean);
      const entries = lines.map((l) => JSON.parse(l) as { seq: number; type: string });
      all.push(...entries);
      const link = res.headers.get('link');
      if (!link) break;
      cursor = entries[entries.length - 1]!.seq;
    }
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all[0]!.type).toBe('execution.started');
    expect(all[all.length - 1]!.type).toBe('execution.completed');
  });

  it('answers 404 for an unknown execution and 400 for a bad cursor', async () => {
    expect((await problemOf(await fetch(`${t.url}/executions/nope/journal`))).status).toBe(404);
    const id = (await run(oneStep('journal-bad'))).executionId;
    expect((await problemOf(await fetch(`${t.url}/executions/${id}/journal?cursor=-1`))).status).toBe(400);
  });
});

describe('POST /executions/:id/cancel', () => {
  it('cancels a running execution with 202, and it ends cancelled', async () => {
    gate('never-opened');
    const started = (await (
      await post(`${t.url}/workflows/execute`, { workflow: gated('never-opened') })
    ).json()) as Record<string, any>;
    const res = await post(`${t.url}/executions/${started.executionId}/cancel`, { reason: 'test says stop' });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/executions/${started.executionId}`);
    const done = await waitTerminal(t.url, started.executionId);
    expect(done.status).toBe('cancelled');
    expect(done.statusReason).toBe('test says stop');
  });

  it('records a cancel request for an execution another process runs, and that process stops it', async () => {
    // A second engine on its own connection to the same file stands in for another process.
    const otherStore = await openSqliteStore({ path: t.dbPath });
    const other = createEngine({ registry: registry(), store: otherStore, cancelPollMs: 20 });
    try {
      gate('other-process');
      const { validateWorkflowObject } = await import('@orchestr8/schema');
      const handle = await other.start(validateWorkflowObject(gated('other-process', 'elsewhere')).workflow!);
      for (
        let i = 0;
        i < 500 && !(await otherStore.getExecution(handle.id))?.status.startsWith('running');
        i++
      ) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(t.engine.isRunning(handle.id)).toBe(false);
      const res = await post(`${t.url}/executions/${handle.id}/cancel`, { reason: 'stopped from the API' });
      expect(res.status).toBe(202);
      const result = await handle.result;
      expect(result.status).toBe('cancelled');
      expect(result.statusReason).toBe('stopped from the API');
      expect((await problemOf(await post(`${t.url}/executions/${handle.id}/cancel`, {}))).code).toBe(
        'EXECUTION_FINISHED',
      );
    } finally {
      await other.shutdown({ graceMs: 50 });
      await otherStore.close();
    }
  });

  it('answers 409 EXECUTION_FINISHED for a finished execution', async () => {
    const id = (await run(oneStep('cancel-finished'))).executionId;
    const p = await problemOf(await post(`${t.url}/executions/${id}/cancel`, {}));
    expect(p.status).toBe(409);
    expect(p.code).toBe('EXECUTION_FINISHED');
    expect(p.executionStatus).toBe('completed');
  });

  it('answers 404 for an unknown execution, 400 for a bad body, and accepts no body', async () => {
    expect((await problemOf(await post(`${t.url}/executions/nope/cancel`, {}))).status).toBe(404);
    const id = (await run(oneStep('cancel-bad'))).executionId;
    expect((await problemOf(await post(`${t.url}/executions/${id}/cancel`, { reason: 42 }))).status).toBe(
      400,
    );
    const noBody = await fetch(`${t.url}/executions/${id}/cancel`, { method: 'POST' });
    expect((await problemOf(noBody)).status).toBe(409);
  });
});
