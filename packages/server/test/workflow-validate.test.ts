/**
 * `POST /workflows/validate` and `GET /workflows/:id/versions`: what the console's document
 * view and version picker read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, problemOf, put, startServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ engine: { capabilities: {} } });
});
afterAll(() => t.stop());

const validate = async (document: unknown) => {
  const res = await post(`${t.url}/workflows/validate`, { document });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    valid: boolean;
    diagnostics: Record<string, any>[];
    workflow?: Record<string, any>;
  };
};

describe('POST /workflows/validate', () => {
  it('answers the diagnostics of YAML text with line and column, storing nothing', async () => {
    const text = [
      'version: 1.0.0',
      'metadata: { id: broken }',
      'steps:',
      '  - id: a',
      '    agent: "@orchestr8/echo"',
      '    dependencies: [nope]',
      '  - id: b',
      '    agent: "@no/such-agent"',
    ].join('\n');
    const r = await validate(text);
    expect(r.valid).toBe(false);
    expect(r.workflow).toBeUndefined();
    const unknownStep = r.diagnostics.find((d) => d.pointer === '/steps/0/dependencies/0');
    expect(unknownStep).toMatchObject({ severity: 'error', line: 6, column: expect.any(Number) });
    const unknownAgent = r.diagnostics.find((d) => d.pointer === '/steps/1/agent');
    expect(unknownAgent).toMatchObject({ severity: 'error', line: 8 });
    expect(await (await fetch(`${t.url}/workflows/broken`)).status).toBe(404);
  });

  it('says a valid document is valid, with what it compiles to', async () => {
    const r = await validate({
      version: '1.0.0',
      metadata: { id: 'fine' },
      steps: [{ id: 'a', agent: '@orchestr8/echo', input: {} }],
    });
    expect(r).toMatchObject({
      valid: true,
      diagnostics: [],
      workflow: { id: 'fine', version: '1.0.0', steps: 1 },
    });
  });

  it("adds a CAPABILITY_DENIED diagnostic for what the document asks beyond this host's grants", async () => {
    const r = await validate({
      version: '1.0.0',
      metadata: { id: 'greedy' },
      context: { environment: ['HOME'] },
      steps: [{ id: 'a', agent: '@orchestr8/echo', input: { home: '${env.HOME}' } }],
    });
    expect(r.valid).toBe(false);
    expect(r.diagnostics.some((d) => d.code === 'CAPABILITY_DENIED' && typeof d.hint === 'string')).toBe(
      true,
    );
  });

  it('takes the document as "workflow", the name execute uses, as well as "document"', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'named' },
      steps: [{ id: 'a', agent: '@orchestr8/echo' }],
    };
    const res = await post(`${t.url}/workflows/validate`, { workflow: doc });
    expect(res.status).toBe(200);
    const byWorkflow = await res.json();
    expect(byWorkflow).toMatchObject({ valid: true, workflow: { id: 'named', steps: 1 } });
    expect(await validate(doc)).toEqual(byWorkflow);
    // YAML text too, with line and column.
    const text = await post(`${t.url}/workflows/validate`, {
      workflow: 'version: 1.0.0\nmetadata: { id: t }\nsteps:\n  - id: a\n    agent: "@no/such"\n',
    });
    const diagnostics = ((await text.json()) as { diagnostics: Record<string, unknown>[] }).diagnostics;
    expect(diagnostics.find((d) => d.pointer === '/steps/0/agent')).toMatchObject({ line: 5 });
  });

  it('refuses both "workflow" and "document", or neither, with a 400 naming the field', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'twice' },
      steps: [{ id: 'a', agent: '@orchestr8/echo' }],
    };
    const both = await post(`${t.url}/workflows/validate`, { workflow: doc, document: doc });
    expect(both.status).toBe(400);
    const twice = await problemOf(both);
    expect(twice).toMatchObject({
      code: 'BAD_REQUEST',
      detail: '"document" must not be given with "workflow": give the document once, in either',
      errors: [{ pointer: '/document', message: expect.stringContaining('"workflow"') }],
    });
    const neither = await post(`${t.url}/workflows/validate`, {});
    expect(neither.status).toBe(400);
    expect((await problemOf(neither)).detail).toBe(
      '"workflow" (or "document") is required: {"workflow": <YAML or JSON text, or an object>} (or "document" in place of "workflow")',
    );
    const wrongType = await problemOf(await post(`${t.url}/workflows/validate`, { workflow: 5 }));
    expect(wrongType.errors[0]).toMatchObject({
      pointer: '/workflow',
      message: 'must be a string or an object',
    });
  });

  it('describes both names in /openapi.json', async () => {
    const spec = (await (await fetch(`${t.url}/openapi.json`)).json()) as Record<string, any>;
    const body = spec.paths['/workflows/validate'].post.requestBody.content['application/json'].schema;
    const schema = body.$ref ? spec.components.schemas[body.$ref.split('/').pop()] : body;
    expect(Object.keys(schema.properties).sort()).toEqual(['document', 'workflow']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.description).toBe('Exactly one of `workflow` and `document`.');
  });

  it('refuses a malformed request with 400', async () => {
    const res = await post(`${t.url}/workflows/validate`, { doc: 'x' });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).detail).toContain('unknown field "doc"');
    const missing = await post(`${t.url}/workflows/validate`, { document: 5 });
    expect(missing.status).toBe(400);
  });
});

describe('GET /workflows/:id/versions', () => {
  it('lists every version oldest first and names the newest; 404 for an unknown workflow', async () => {
    const doc = (version: string) => ({
      version,
      metadata: { id: 'versioned' },
      steps: [{ id: 'a', agent: '@orchestr8/echo', input: { v: version } }],
    });
    expect((await put(`${t.url}/workflows/versioned`, doc('1.0.0'))).status).toBe(201);
    expect((await put(`${t.url}/workflows/versioned`, doc('1.1.0'))).status).toBe(201);
    const r = (await (await fetch(`${t.url}/workflows/versioned/versions`)).json()) as Record<string, any>;
    expect(r.latestVersion).toBe('1.1.0');
    expect(r.versions.map((v: { version: string }) => v.version)).toEqual(['1.0.0', '1.1.0']);
    expect((await fetch(`${t.url}/workflows/nope/versions`)).status).toBe(404);
  });
});
