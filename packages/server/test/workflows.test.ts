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

  it('reserves the ids "execute" and "validate": their paths answer only POST, and such documents are refused', async () => {
    for (const name of ['execute', 'validate', 'Execute']) {
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH']) {
        const res = await fetch(`${t.url}/workflows/${name}`, {
          method,
          ...(method === 'PUT'
            ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(oneStep(name)) }
            : {}),
        });
        expect(res.status, `${method} /workflows/${name}`).toBe(405);
        expect(res.headers.get('allow')).toBe('POST');
        if (method !== 'HEAD') expect((await problemOf(res)).code).toBe('METHOD_NOT_ALLOWED');
      }
      const options = await fetch(`${t.url}/workflows/${name}`, { method: 'OPTIONS' });
      expect(options.status).toBe(204);
      expect(options.headers.get('allow')).toBe('POST');
    }
    // Percent-encoded, the id reaches PUT /workflows/{id}, whose {id} rule refuses it.
    const encoded = await problemOf(await put(`${t.url}/workflows/%65xecute`, oneStep('execute')));
    expect(encoded).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(encoded.detail).toContain('reserved');
    // Registered wherever HTTP registers a document: PUT under another id, and an inline execute.
    for (const id of ['execute', 'validate']) {
      const viaPut = await problemOf(await put(`${t.url}/workflows/other`, oneStep(id)));
      expect(viaPut).toMatchObject({ status: 422, code: 'VALIDATION' });
      expect(viaPut.detail).toContain(`"${id}" is reserved`);
      expect(viaPut.errors).toEqual([expect.objectContaining({ pointer: '/metadata/id' })]);
      const viaExecute = await problemOf(
        await fetch(`${t.url}/workflows/execute`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ workflow: oneStep(id) }),
        }),
      );
      expect(viaExecute).toMatchObject({ status: 422, code: 'VALIDATION' });
      expect(viaExecute.errors).toEqual([expect.objectContaining({ pointer: '/metadata/id' })]);
      expect(viaExecute.errors[0].message).toContain(`"${id}" is a reserved workflow id`);
      const verdict = (await (
        await fetch(`${t.url}/workflows/validate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ document: oneStep(id) }),
        })
      ).json()) as Record<string, any>;
      expect(verdict.valid).toBe(false);
      expect(verdict.diagnostics).toEqual([expect.objectContaining({ pointer: '/metadata/id' })]);
    }
    expect(await t.store.listDefinitions()).not.toContainEqual(expect.objectContaining({ id: 'execute' }));
  });

  it('refuses a {id} that is not a workflow id, by the rule of metadata.id, before reading the document', async () => {
    for (const id of ['..%2F..%2Fetc', '-dash', 'a'.repeat(256), 'a%20b']) {
      const p = await problemOf(await put(`${t.url}/workflows/${id}`, oneStep('greet')));
      expect(p, id).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      expect(p.detail).toContain(
        'path parameter "id" must be a workflow id matching ^[A-Za-z0-9][A-Za-z0-9_.-]*$',
      );
      expect(p.errors).toEqual([expect.objectContaining({ pointer: '/params/id' })]);
    }
    const longest = 'a'.repeat(255);
    expect((await put(`${t.url}/workflows/${longest}`, oneStep(longest))).status).toBe(201);
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
