import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gate, gated, oneStep, post, problemOf, put, startServer, type TestServer } from './helpers.js';

let t: TestServer;
let doc: Record<string, any>;
beforeAll(async () => {
  t = await startServer();
  doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as Record<string, any>;
});
afterAll(() => t.stop());

const toOpenApiPath = (p: string) => p.replace(/:([A-Za-z]+)/g, '{$1}');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('describes exactly the routes the server serves', () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) =>
        Object.keys(ops)
          // Served only when the host mounts @orchestr8/triggers' router: triggers-openapi.test.ts.
          .filter((m) => METHODS.includes(m) && !(ops[m] as Record<string, unknown>)['x-orchestr8-router'])
          .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = t.server.routes.map((r) => `${r.method.toUpperCase()} ${toOpenApiPath(r.path)}`);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it('resolves every $ref', () => {
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const target = ref
        .slice(2)
        .split('/')
        .reduce<any>((node, seg) => node?.[seg], doc);
      expect(target, ref).toBeDefined();
    }
  });

  it('matches real responses: executions, pages, workflows and problems', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema(doc, 'openapi.json');
    const check = (name: string, value: unknown) => {
      const validate = ajv.getSchema(`openapi.json#/components/schemas/${name}`)!;
      expect(validate(value), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    };
    const execution = await (
      await post(`${t.url}/workflows/execute?wait=10`, { workflow: oneStep('shapes') })
    ).json();
    check('Execution', execution);
    gate('shapes-running');
    check(
      'Execution',
      await (await post(`${t.url}/workflows/execute`, { workflow: gated('shapes-running') })).json(),
    );
    check('ExecutionPage', await (await fetch(`${t.url}/executions?limit=2`)).json());
    const failing = {
      version: '1.0.0',
      metadata: { id: 'shapes-fail' },
      steps: [{ id: 'x', agent: '@orchestr8/fail', input: { always: true, retryable: false } }],
    };
    check(
      'Execution',
      await (await post(`${t.url}/workflows/execute?wait=10`, { workflow: failing })).json(),
    );
    check('WorkflowVersion', await (await put(`${t.url}/workflows/shapes`, oneStep('shapes'))).json());
    check('WorkflowDefinition', await (await fetch(`${t.url}/workflows/shapes`)).json());
    check('WorkflowList', await (await fetch(`${t.url}/workflows`)).json());
    const journal = (
      await (
        await fetch(`${t.url}/executions/${(execution as { executionId: string }).executionId}/journal`)
      ).text()
    )
      .split('\n')
      .filter(Boolean);
    for (const line of journal) check('JournalEntry', JSON.parse(line));
    check('Problem', await problemOf(await post(`${t.url}/workflows/execute`, { workflow: { steps: 1 } })));
    check('Problem', await problemOf(await fetch(`${t.url}/nowhere`)));
  });
});

describe('PUT /workflows/{id} in the OpenAPI document', () => {
  it('lists the YAML media types the server accepts, and a YAML body of each registers the workflow', async () => {
    const content = doc.paths['/workflows/{id}'].put.requestBody.content;
    const types = ['application/json', 'application/yaml', 'text/yaml', 'application/x-yaml', 'text/x-yaml'];
    expect(Object.keys(content).sort()).toEqual([...types].sort());
    for (const type of types.slice(1)) {
      const id = `yaml-${type.replace(/\W/g, '-')}`;
      const yaml = `version: 1.0.0\nmetadata:\n  id: ${id}\nsteps:\n  - id: echo\n    agent: "@orchestr8/echo"\n    input: {n: 1}\n`;
      const res = await put(`${t.url}/workflows/${id}`, yaml, { 'content-type': type });
      expect(res.status, `${type}: ${await res.clone().text()}`).toBe(201);
    }
  });
});

describe('health', () => {
  it('answers /healthz and /readyz with 200', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', store: 'sqlite' });
  });

  it('answers /readyz with 503 when the readiness check fails', async () => {
    const notReady = await startServer({
      ready: async () => {
        throw new Error('schema version 1, expected 2');
      },
    });
    try {
      const p = await problemOf(await fetch(`${notReady.url}/readyz`));
      expect(p.status).toBe(503);
      expect(p.code).toBe('NOT_READY');
      expect(p.detail).not.toContain('schema version');
      expect((await fetch(`${notReady.url}/healthz`)).status).toBe(200);
    } finally {
      await notReady.stop();
    }
  });
});

describe('routing', () => {
  it('answers 404 problems for unknown paths', async () => {
    const p = await problemOf(await fetch(`${t.url}/no/such/path`));
    expect(p).toMatchObject({ status: 404, code: 'NOT_FOUND', title: 'Not Found' });
    expect(p.type).toMatch(/^https:\/\//);
  });

  it('answers 405 with Allow for every route and a method it does not support', async () => {
    const byPath = new Map<string, Set<string>>();
    for (const r of t.server.routes) {
      const concrete = r.path.replace(/:id/g, 'some-id');
      byPath.set(concrete, (byPath.get(concrete) ?? new Set()).add(r.method.toUpperCase()));
    }
    for (const [path, methods] of byPath) {
      const wrong = ['DELETE', 'PATCH', 'PUT', 'POST'].find((m) => !methods.has(m))!;
      const res = await fetch(`${t.url}${path}`, { method: wrong });
      const p = await problemOf(res);
      expect(p.status, `${wrong} ${path}`).toBe(405);
      expect(p.code).toBe('METHOD_NOT_ALLOWED');
      const allow = res.headers.get('allow')!.split(', ');
      for (const m of methods) expect(allow).toContain(m);
    }
  });

  it('answers OPTIONS with 204 and Allow', async () => {
    const res = await fetch(`${t.url}/executions`, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('problems in the OpenAPI document', () => {
  const operations = () =>
    Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([m]) => METHODS.includes(m))
        .map(([m, op]) => ({ name: `${m.toUpperCase()} ${path}`, op })),
    );

  it('documents 413 and 415 for every built-in route that reads a body, and 431 for every route', () => {
    const withBody = operations().filter(({ op }) => op.requestBody && !op['x-orchestr8-router']);
    expect(withBody.length).toBeGreaterThan(10);
    for (const { name, op } of withBody) {
      expect(op.responses['413'], name).toEqual({ $ref: '#/components/responses/PayloadTooLarge' });
      expect(op.responses['415'], name).toEqual({ $ref: '#/components/responses/UnsupportedMediaType' });
    }
    for (const { name, op } of operations())
      expect(op.responses['431'], name).toEqual({ $ref: '#/components/responses/HeadersTooLarge' });
  });

  it('documents HOST_NOT_ALLOWED and ORIGIN_NOT_ALLOWED in every 403, and CAPABILITY_DENIED where documents are checked', () => {
    for (const { name, op } of operations()) {
      const ref = op.responses['403']?.$ref as string | undefined;
      const text: string = ref
        ? doc.components.responses[ref.split('/').pop()!].description
        : op.responses['403'].description;
      expect(text, name).toContain('HOST_NOT_ALLOWED');
      expect(text, name).toContain('ORIGIN_NOT_ALLOWED');
    }
    for (const path of ['/workflows/execute', '/workflows/{id}']) {
      const op = doc.paths[path][path === '/workflows/execute' ? 'post' : 'put'];
      expect(op.responses['403'].description).toContain('CAPABILITY_DENIED');
      expect(op.responses['403'].description).toContain('`problems`');
    }
  });

  it('lists every problem code, and every field the server adds to a problem', async () => {
    const { ProblemCode } = await import('../src/problem.js');
    const problem = doc.components.schemas.Problem;
    expect(problem.properties.code.examples).toEqual(
      expect.arrayContaining([...Object.values(ProblemCode), 'SIGNATURE_INVALID']),
    );
    for (const field of [
      'errors',
      'warnings',
      'problems',
      'executionId',
      'executionStatus',
      'host',
      'origin',
      'currentEtag',
      'workflowVersion',
      'storedHash',
      'hash',
      'reason',
    ])
      expect(problem.properties, field).toHaveProperty(field);
  });

  it('answers 415 where it documents it: validate, events, signals, approvals and retry', async () => {
    for (const path of [
      '/workflows/validate',
      '/events',
      '/executions/x/signals/s',
      '/executions/x/steps/s/approve',
      '/executions/x/steps/s/reject',
      '/executions/x/retry',
    ]) {
      const res = await fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'x',
      });
      expect((await problemOf(res)).status, path).toBe(415);
    }
  });
});
