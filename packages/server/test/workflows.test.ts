import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneStep, problemOf, put, startServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const v = (version: string, n: number) => ({ ...oneStep('defs', { n }), version });

describe('workflow definitions', () => {
  it('registers a version with 201 and an ETag, and re-registering it unchanged is 200', async () => {
    const res = await put(`${t.url}/workflows/defs`, v('1.0.0', 1));
    expect(res.status).toBe(201);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(res.headers.get('location')).toBe('/workflows/defs?version=1.0.0');
    expect(await res.json()).toMatchObject({ id: 'defs', version: '1.0.0', latestVersion: '1.0.0' });
    const again = await put(`${t.url}/workflows/defs`, v('1.0.0', 1));
    expect(again.status).toBe(200);
    expect(again.headers.get('etag')).toBe(etag);
  });

  it('registers and reads a workflow whose id is "execute", while POST /workflows/execute still runs workflows', async () => {
    const put1 = await put(`${t.url}/workflows/execute`, {
      ...oneStep('execute', { n: 1 }),
      version: '1.0.0',
    });
    expect(put1.status).toBe(201);
    const got = await fetch(`${t.url}/workflows/execute`);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ id: 'execute', version: '1.0.0' });
    const run = await fetch(`${t.url}/workflows/execute?wait=5`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflowId: 'execute', inputs: {} }),
    });
    expect(run.status).toBe(200);
    expect(await run.json()).toMatchObject({ status: 'completed' });
    const patch = await fetch(`${t.url}/workflows/execute`, { method: 'PATCH' });
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')).toContain('POST');
    expect(patch.headers.get('allow')).toContain('GET');
  });

  it('registers a YAML document sent as application/yaml, and reports YAML mistakes with line and column', async () => {
    const yaml = [
      'version: "1.0.0"',
      'metadata: { id: yaml-defs, name: yaml }',
      'steps:',
      '  - id: a',
      '    agent: "@orchestr8/echo"',
      '    input: { n: 1 }',
      '',
    ].join('\n');
    const ok = await fetch(`${t.url}/workflows/yaml-defs`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml' },
      body: yaml,
    });
    expect(ok.status).toBe(201);
    const stored = (await (await fetch(`${t.url}/workflows/yaml-defs`)).json()) as {
      document: { steps: unknown[] };
    };
    expect(stored.document.steps).toHaveLength(1);
    const bad = await fetch(`${t.url}/workflows/yaml-defs`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml' },
      body: yaml.replace(
        '    agent: "@orchestr8/echo"',
        '    agent: "@orchestr8/echo"\n    dependencies: [nope]',
      ),
    });
    const p = (await problemOf(bad)) as {
      status: number;
      errors: { code: string; line?: number; column?: number }[];
    };
    expect(p.status).toBe(422);
    expect(p.errors[0]).toMatchObject({ code: 'E_UNKNOWN_STEP', line: 6 });
  });

  it('refuses other content under an existing version with 409', async () => {
    const p = await problemOf(await put(`${t.url}/workflows/defs`, v('1.0.0', 999)));
    expect(p.status).toBe(409);
    expect(p.code).toBe('CONFLICT');
  });

  it('honours If-Match: the current ETag passes, a stale one is 412', async () => {
    const current = (await fetch(`${t.url}/workflows/defs`)).headers.get('etag')!;
    const next = await put(`${t.url}/workflows/defs`, v('1.1.0', 2), { 'if-match': current });
    expect(next.status).toBe(201);
    const newer = next.headers.get('etag')!;
    expect(newer).not.toBe(current);
    const stale = await problemOf(
      await put(`${t.url}/workflows/defs`, v('1.2.0', 3), { 'if-match': current }),
    );
    expect(stale.status).toBe(412);
    expect(stale.code).toBe('PRECONDITION_FAILED');
    expect(stale.currentEtag).toBe(newer);
    expect((await put(`${t.url}/workflows/defs`, v('1.2.0', 3), { 'if-match': newer })).status).toBe(201);
  });

  it('honours If-None-Match: * (create only) and If-Match: * (update only)', async () => {
    expect(
      (await problemOf(await put(`${t.url}/workflows/defs`, v('1.3.0', 4), { 'if-none-match': '*' }))).status,
    ).toBe(412);
    const fresh = { ...oneStep('brand-new'), version: '1.0.0' };
    expect(
      (await problemOf(await put(`${t.url}/workflows/brand-new`, fresh, { 'if-match': '*' }))).status,
    ).toBe(412);
    expect((await put(`${t.url}/workflows/brand-new`, fresh, { 'if-none-match': '*' })).status).toBe(201);
  });

  it('lists workflows with their versions, and serves one with ETag and 304', async () => {
    const list = (await (await fetch(`${t.url}/workflows`)).json()) as { items: Record<string, any>[] };
    const defs = list.items.find((w) => w.id === 'defs')!;
    expect(defs.latestVersion).toBe('1.2.0');
    expect(defs.versions.map((x: { version: string }) => x.version)).toEqual(['1.0.0', '1.1.0', '1.2.0']);

    const res = await fetch(`${t.url}/workflows/defs`);
    const etag = res.headers.get('etag')!;
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ id: 'defs', version: '1.2.0' });
    expect(body.document.steps[0].input).toEqual({ n: 3 });
    expect((await fetch(`${t.url}/workflows/defs`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const old = (await (await fetch(`${t.url}/workflows/defs?version=1.0.0`)).json()) as Record<string, any>;
    expect(old.document.steps[0].input).toEqual({ n: 1 });
  });

  it('answers 404 for an unknown workflow or version', async () => {
    expect((await problemOf(await fetch(`${t.url}/workflows/unknown`))).status).toBe(404);
    expect((await problemOf(await fetch(`${t.url}/workflows/defs?version=9.9.9`))).status).toBe(404);
  });

  it("rejects an invalid document or one whose id is not the URL's with 422", async () => {
    const invalid = await problemOf(
      await put(`${t.url}/workflows/defs`, { version: '1.0.0', metadata: { id: 'defs' }, steps: [] }),
    );
    expect(invalid.status).toBe(422);
    expect(invalid.errors[0].code).toBe('E_SCHEMA');
    const mismatch = await problemOf(await put(`${t.url}/workflows/defs`, oneStep('other-id')));
    expect(mismatch.status).toBe(422);
    expect(mismatch.errors[0].pointer).toBe('/metadata/id');
    expect((await problemOf(await put(`${t.url}/workflows/defs`, '[]'))).status).toBe(400);
  });
});
