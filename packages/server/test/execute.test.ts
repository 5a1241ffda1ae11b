// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { loadWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gate,
  gated,
  oneStep,
  post,
  problemOf,
  put,
  registry,
  startServer,
  type TestServer,
  waitTerminal,
} from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ bodyLimit: 64 * 1024 });
});
afterAll(() => t.stop());

describe('POST /workflows/execute', () => {
  it('accepts an inline document with 202, a Location and the execution id, and runs it', async () => {
    const res = await post(`${t.url}/workflows/execute`, { workflow: oneStep(), inputs: {} });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;
    expect(res.headers.get('location')).toBe(`/executions/${body.executionId}`);
    expect(['queued', 'running', 'completed']).toContain(body.status);
    const done = await waitTerminal(t.url, body.executionId);
    expect(done.status).toBe('completed');
    expect(done.outputs).toEqual({ echo: { n: 1 } });
  });

  it('returns 200 with the result when Prefer: wait covers the execution', async () => {
    const res = await post(`${t.url}/workflows/execute`, { workflow: oneStep() }, { prefer: 'wait=10' });
    expect(res.status).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=10');
    const body = (await res.json()) as Record<string, any>;
    expect(body.status).toBe('completed');
    expect(body.steps.echo.status).toBe('completed');
  });

  it('honours ?wait= like Prefer: wait', async () => {
    const res = await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, any>).status).toBe('completed');
  });

  it('returns 202 with the current status when the wait runs out first', async () => {
    const g = gate('wait-runs-out');
    const res = await post(
      `${t.url}/workflows/execute`,
      { workflow: gated('wait-runs-out') },
      { prefer: 'wait=0.05' },
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;
    expect(body.status).toBe('running');
    g.open();
    expect((await waitTerminal(t.url, body.executionId)).status).toBe('completed');
  });

  it('rejects a malformed ?wait with 400', async () => {
    const p = await problemOf(await post(`${t.url}/workflows/execute?wait=soon`, { workflow: oneStep() }));
    expect(p.code).toBe('BAD_REQUEST');
  });

  it('runs a registered workflow by id, and by id and version', async () => {
    const v1 = oneStep('by-id', { v: 1 });
    const v2 = { ...oneStep('by-id', { v: 2 }), version: '1.1.0' };
    expect((await put(`${t.url}/workflows/by-id`, v1)).status).toBe(201);
    expect((await put(`${t.url}/workflows/by-id`, v2)).status).toBe(201);
    const latest = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflowId: 'by-id' })
    ).json()) as Record<string, any>;
    expect(latest.outputs).toEqual({ echo: { v: 2 } });
    const pinned = (await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflowId: 'by-id', version: '1.0.0' })
    ).json()) as Record<string, any>;
    expect(pinned.outputs).toEqual({ echo: { v: 1 } });
  });

  it('answers 404 for a workflowId that is not registered', async () => {
    const p = await problemOf(await post(`${t.url}/workflows/execute`, { workflowId: 'never-registered' }));
    expect(p.status).toBe(404);
    expect(p.code).toBe('NOT_FOUND');
  });

  it('reports an invalid document with 422 and the same diagnostics as validate', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'broken' },
      steps: [
        { id: 'a', agent: '@orchestr8/echo', dependencies: ['nope'] },
        { id: 'a', agent: '@orchestr8/echo', input: { x: '${steps.zz.output}' } },
      ],
    };
    const p = await problemOf(await post(`${t.url}/workflows/execute`, { workflow: doc }));
    expect(p.status).toBe(422);
    expect(p.code).toBe('VALIDATION');
    const expected = validateWorkflowObject(doc, {
      knownAgents: registry()
        .list()
        .map((a) => a.id),
    }).diagnostics.filter((d) => d.severity === 'error');
    expect(expected.length).toBeGreaterThan(1);
    expect(p.errors).toEqual(expected);
  });

  it('gives line and column for a document sent as YAML text', async () => {
    const text =
      'version: "1.0.0"\nmetadata:\n  id: yaml-doc\nsteps:\n  - id: a\n    agent: "@orchestr8/echo"\n    dependencies: [ghost]\n';
    const p = await problemOf(await post(`${t.url}/workflows/execute`, { workflow: text }));
    expect(p.errors).toEqual(loadWorkflow(text).diagnostics.filter((d) => d.severity === 'error'));
    expect(p.errors[0].line).toBe(7);
  });

  it('reports an unknown agent with 422 E_UNKNOWN_AGENT', async () => {
    const doc = { version: '1.0.0', metadata: { id: 'x' }, steps: [{ id: 'a', agent: '@no/such-agent' }] };
    const p = await problemOf(await post(`${t.url}/workflows/execute`, { workflow: doc }));
    expect(p.errors.map((e: { code: string }) => e.code)).toEqual(['E_UNKNOWN_AGENT']);
  });

  it('reports inputs that do not match the inputs schema with 422 E_INPUTS', async () => {
    const doc = {
      ...oneStep('typed-inputs'),
      inputs: {
        type: 'object',
        properties: { n: { type: 'integer' } },
        required: ['n'],
        additionalProperties: false,
      },
    };
    const p = await problemOf(
      await post(`${t.url}/workflows/execute`, { workflow: doc, inputs: { n: 'one', extra: 1 } }),
    );
    expect(p.status).toBe(422);
    expect(p.code).toBe('VALIDATION');
    expect(p.errors.map((e: { code: string; pointer: string }) => [e.code, e.pointer])).toEqual(
      expect.arrayContaining([
        ['E_INPUTS', '/inputs/n'],
        ['E_INPUTS', '/inputs/extra'],
      ]),
    );
  });

  it('rejects wrong types in the request with 400 and a pointer per problem', async () => {
    const p = await problemOf(
      await post(`${t.url}/workflows/execute`, {
        workflowId: 42,
        inputs: 'not an object',
        options: { maxConcurrentSteps: 0, colour: 'red' },
        extra: true,
      }),
    );
    expect(p.status).toBe(400);
    expect(p.code).toBe('BAD_REQUEST');
    expect(p.errors.map((e: { pointer: string }) => e.pointer)).toEqual(
      expect.arrayContaining([
        '/extra',
        '/workflowId',
        '/inputs',
        '/options/maxConcurrentSteps',
        '/options/colour',
      ]),
    );
  });

  it('rejects a body with both or neither of workflow and workflowId', async () => {
    expect((await problemOf(await post(`${t.url}/workflows/execute`, {}))).status).toBe(400);
    expect(
      (await problemOf(await post(`${t.url}/workflows/execute`, { workflow: oneStep(), workflowId: 'x' })))
        .status,
    ).toBe(400);
    expect((await problemOf(await post(`${t.url}/workflows/execute`, [1, 2]))).status).toBe(400);
  });

  it('rejects a missing body with 400', async () => {
    const res = await fetch(`${t.url}/workflows/execute`, { method: 'POST' });
    expect((await problemOf(res)).code).toBe('BAD_REQUEST');
  });

  it('rejects malformed JSON with 400 INVALID_JSON', async () => {
    for (const body of ['{"workflow": ', '{bad json}', '"a string"', '']) {
      const res = await post(`${t.url}/workflows/execute`, body || ' ');
      const p = await problemOf(res);
      expect(p.status).toBe(400);
      expect(['INVALID_JSON', 'BAD_REQUEST']).toContain(p.code);
    }
  });

  it('rejects a body that is not JSON with 415', async () => {
    const res = await fetch(`${t.url}/workflows/execute`, {
      method: 'POST',
      headers: { 'content-type': 'text/yaml' },
      body: 'a: 1',
    });
    expect((await problemOf(res)).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const untyped = await fetch(`${t.url}/workflows/execute`, {
      method: 'POST',
      body: new Uint8Array([123, 125]),
    });
    expect(untyped.status).toBe(415);
  });

  it('rejects a body over the limit with 413', async () => {
    const huge = JSON.stringify({ workflow: oneStep(), inputs: { blob: 'x'.repeat(200 * 1024) } });
    const p = await problemOf(await post(`${t.url}/workflows/execute`, huge));
    expect(p.status).toBe(413);
    expect(p.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('rejects a body nested absurdly deep with a clean 400', async () => {
    const deep = `{"workflow": ${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const p = await problemOf(await post(`${t.url}/workflows/execute`, deep));
    expect(p.status).toBe(400);
    const inputs = `{"workflowId": "by-id", "inputs": {"a": ${'{"b": '.repeat(300)}1${'}'.repeat(300)}}}`;
    expect((await problemOf(await post(`${t.url}/workflows/execute`, inputs))).status).toBe(400);
  });

  it('does not let __proto__ in inputs pollute anything', async () => {
    const res = await post(
      `${t.url}/workflows/execute?wait=10`,
      `{"workflow": ${JSON.stringify(oneStep())}, "inputs": {"__proto__": {"polluted": true}}}`,
    );
    expect(res.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
