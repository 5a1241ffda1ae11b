/**
 * The trust boundary, end to end: `orchestr8 serve` as a real process with API keys, attacked
 * through documents an API caller sends. Each attack is refused with a clear problem and no
 * side effect (no file written, no process started, no secret in any output, journal or log);
 * the same documents work once the operator grants what they need.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, type Served, serve, useTempRoot } from './fixtures/harness.js';

const KEY = 'tenant-a-key-0123456789';
const OTHER_KEY = 'tenant-b-key-SECRET-9876543210';
const APP_SECRET = 'app-secret-value-4242';
const tempRoot = useTempRoot('security');

function serveIn(dir: string, env: Record<string, string> = {}): Promise<Served> {
  return serve(['--port', '0', '--log-format', 'json'], {
    cwd: dir,
    env: {
      ORCHESTR8_API_KEYS: `${KEY},${OTHER_KEY}`,
      ORCHESTR8_STORE: `sqlite:${join(dir, 'o8.db')}`,
      APP_TOKEN: APP_SECRET,
      ...env,
    },
  });
}

async function execute(s: Served, document: unknown, inputs: unknown = {}) {
  const res = await fetch(`${s.url}/workflows/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, prefer: 'wait=20' },
    body: JSON.stringify({ workflow: document, inputs }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function get(s: Served, path: string): Promise<any> {
  const res = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
  return res.json();
}

const doc = (steps: unknown[], extra: Record<string, unknown> = {}) => ({
  version: '1.0.0',
  metadata: { id: 'attack' },
  ...extra,
  steps,
});

/** The dir a document's shell step tries to write into, to prove nothing ran. */
function shellWrites(marker: string, config: Record<string, unknown>) {
  return doc([
    {
      id: 'own',
      agent: { id: '@orchestr8/shell', config },
      input: { command: ['node', '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'pwned')`] },
    },
  ]);
}

beforeAll(() => assertBuilt());

describe('a document sent to orchestr8 serve by an API caller', () => {
  let dir: string;
  let s: Served;
  beforeAll(async () => {
    dir = tempRoot();
    s = await serveIn(dir);
  });
  afterAll(async () => {
    await s.stop();
  });

  it('cannot grant itself programs, a root or environment for the shell agent', async () => {
    const marker = join(dir, 'pwned.txt');
    for (const config of [
      { allow: ['*'] },
      { allow: ['node'] },
      { allow: ['node'], root: '/' },
      { allow: ['node'], passEnv: ['ORCHESTR8_API_KEYS'] },
    ]) {
      const r = await execute(s, shellWrites(marker, config));
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ code: 'CAPABILITY_DENIED' });
      expect(r.body.problems[0]).toMatchObject({ stepId: 'own' });
      expect(r.body.problems[0].grant).toContain('capabilities.agents["@orchestr8/shell"]');
    }
    // Without any config the operator allows nothing either: a program written in the document
    // is refused before anything is recorded; one that comes from the inputs fails its step.
    const plain = await execute(s, shellWrites(marker, {}));
    expect(plain.status).toBe(403);
    expect(plain.body).toMatchObject({ code: 'CAPABILITY_DENIED' });
    expect(plain.body.problems[0]).toMatchObject({ stepId: 'own', capability: '@orchestr8/shell.allow' });
    expect(plain.body.problems[0].message).toContain('shell: no command is allowed, so "node" cannot run');
    const fromInputs = await execute(
      s,
      doc([{ id: 'own', agent: '@orchestr8/shell', input: { command: ['${inputs.program}', '-e', '1'] } }], {
        inputs: { type: 'object', properties: { program: { type: 'string' } } },
      }),
      { program: 'node' },
    );
    expect(fromInputs.status).toBe(200);
    expect(fromInputs.body.status).toBe('failed');
    expect(fromInputs.body.steps.own.error.code).toBe('SHELL_NOT_ALLOWED');
    expect(existsSync(marker)).toBe(false);
    // Refused documents left no execution behind.
    expect((await get(s, '/executions?limit=100')).items).toHaveLength(1);
  });

  it("cannot read the server's environment: orchestr8's own variables never, others only when granted", async () => {
    for (const context of [
      { environment: ['ORCHESTR8_API_KEYS'] },
      { environment: ['APP_TOKEN'] },
      { secretRefs: { keys: { env: 'ORCHESTR8_API_KEYS' } } },
    ]) {
      const r = await execute(
        s,
        doc([{ id: 'leak', agent: '@orchestr8/echo', input: { v: '${env.ORCHESTR8_API_KEYS ?? ""}' } }], {
          context,
        }),
      );
      expect(r.status === 403 || r.status === 422).toBe(true);
      expect(JSON.stringify(r.body)).not.toContain(OTHER_KEY);
      if (r.status === 403) expect(r.body.code).toBe('CAPABILITY_DENIED');
    }
    const reserved = await execute(
      s,
      doc([{ id: 'leak', agent: '@orchestr8/echo', input: { v: '${env.ORCHESTR8_API_KEYS}' } }], {
        context: { environment: ['ORCHESTR8_API_KEYS'] },
      }),
    );
    expect(reserved.status).toBe(403);
    expect(reserved.body.detail).toContain('never readable');
  });

  it('stops a workflow that calls itself at the nesting limit instead of running away', async () => {
    const self = {
      version: '1.0.0',
      metadata: { id: 'recurse' },
      steps: [
        {
          id: 'again',
          agent: '@orchestr8/workflow',
          input: { workflow: '${variables.self}' },
        },
      ],
    };
    // The document carries itself as data, unrolled deeper than the limit: each level starts the next.
    const r = await execute(s, JSON.parse(stringifyCycle(self, 18)));
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('failed');
    const text = JSON.stringify(r.body);
    expect(text).toContain('LIMIT_EXCEEDED');
    const all = await get(s, '/executions?limit=100');
    const recursions = all.items.filter((e: { workflowId: string }) => e.workflowId === 'recurse');
    // The top level plus 16 nested ones, all finished: none left running.
    expect(recursions.length).toBe(17);
    expect(recursions.every((e: { status: string }) => e.status !== 'running')).toBe(true);
  });

  it('is refused when registered with PUT /workflows, and as a sub-workflow its parent step fails', async () => {
    const marker = join(dir, 'child-pwned.txt');
    const greedy = { ...shellWrites(marker, { allow: ['node'] }), metadata: { id: 'greedy' } };
    const put = await fetch(`${s.url}/workflows/greedy`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify(greedy),
    });
    expect(put.status).toBe(403);
    expect(((await put.json()) as { code: string }).code).toBe('CAPABILITY_DENIED');
    expect(
      (await fetch(`${s.url}/workflows/greedy`, { headers: { authorization: `Bearer ${KEY}` } })).status,
    ).toBe(404);
    const parent = await execute(
      s,
      doc([{ id: 'child', agent: '@orchestr8/workflow', input: { workflow: '${variables.child}' } }], {
        context: { variables: { child: greedy } },
      }),
    );
    expect(parent.status).toBe(200);
    expect(parent.body.status).toBe('failed');
    expect(parent.body.steps.child.error.code).toBe('CAPABILITY_DENIED');
    expect(existsSync(marker)).toBe(false);
  });

  it('cannot make the http agent fetch a loopback-only service of the server (SSRF)', async () => {
    let hits = 0;
    const internal = createServer((_req, res) => {
      hits++;
      res.end('internal secrets');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
    const port = (internal.address() as AddressInfo).port;
    try {
      for (const url of [
        `http://127.0.0.1:${port}/`,
        `http://localhost:${port}/`,
        'http://169.254.169.254/latest/',
      ]) {
        // Written in the document: refused before anything is recorded.
        const literal = await execute(s, doc([{ id: 'fetch', agent: '@orchestr8/http', input: { url } }]));
        expect(literal.status).toBe(403);
        expect(literal.body).toMatchObject({ code: 'CAPABILITY_DENIED' });
        expect(literal.body.problems[0]).toMatchObject({ stepId: 'fetch', capability: 'egress' });
        // From the inputs: refused when the step connects.
        const r = await execute(
          s,
          doc([{ id: 'fetch', agent: '@orchestr8/http', input: { url: '${inputs.url}' } }], {
            inputs: { type: 'object', properties: { url: { type: 'string' } } },
          }),
          { url },
        );
        expect(r.status).toBe(200);
        expect(r.body.status).toBe('failed');
        expect(r.body.steps.fetch.error.code).toBe('EGRESS_DENIED');
        expect(r.body.steps.fetch.attempts).toBe(1);
        expect(JSON.stringify(r.body)).not.toContain('internal secrets');
      }
      expect(hits).toBe(0);
    } finally {
      internal.close();
    }
  });

  it('keeps __proto__, constructor and prototype keys as plain data that pollutes nothing', async () => {
    const r = await execute(
      s,
      doc([{ id: 'data', agent: '@orchestr8/echo', input: { payload: '${inputs.payload}' } }]),
      JSON.parse('{"payload": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}}'),
    );
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('completed');
    const out = r.body.steps.data.output.payload;
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: true });
    expect(out.constructor).toEqual({ prototype: { x: 1 } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await get(s, '/healthz')).status).toBe('ok');
  });

  it("never shows another tenant's key in the logs, the journal or the store", async () => {
    const db = readFileSync(join(dir, 'o8.db')).toString('latin1');
    expect(db).not.toContain(OTHER_KEY);
    expect(s.output()).not.toContain(OTHER_KEY);
    expect(s.output()).not.toContain(APP_SECRET);
  });
});

describe('the same documents once the operator grants what they need', () => {
  let dir: string;
  let s: Served;
  beforeAll(async () => {
    dir = tempRoot();
    mkdirSync(join(dir, 'work'));
    writeFileSync(
      join(dir, 'orchestr8.config.json'),
      JSON.stringify({
        capabilities: {
          env: ['APP_*'],
          agents: { '@orchestr8/shell': { allow: ['node'], root: './work' } },
          maxWorkflowDepth: 2,
        },
      }),
    );
    s = await serveIn(dir);
  });
  afterAll(async () => {
    await s.stop();
  });

  it('runs a granted program inside the granted root, and refuses a wider ask still', async () => {
    const ok = await execute(
      s,
      doc([
        {
          id: 'write',
          agent: { id: '@orchestr8/shell', config: { allow: ['node'] } },
          input: { command: ['node', '-e', "require('fs').writeFileSync('made.txt', 'ok')"] },
        },
      ]),
    );
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('completed');
    expect(readdirSync(join(dir, 'work'))).toEqual(['made.txt']);
    const wider = await execute(s, shellWrites(join(dir, 'x'), { allow: ['node', 'sh'] }));
    expect(wider.status).toBe(403);
    expect(wider.body.problems[0].message).toContain('"sh"');
  });

  it('reads a granted environment variable, and still never ORCHESTR8_*', async () => {
    const ok = await execute(
      s,
      doc([{ id: 'read', agent: '@orchestr8/echo', input: { v: '${env.APP_TOKEN}' } }], {
        context: { environment: ['APP_TOKEN'] },
      }),
    );
    expect(ok.body.status).toBe('completed');
    expect(ok.body.steps.read.output.v).toBe(APP_SECRET);
    const reserved = await execute(
      s,
      doc([{ id: 'read', agent: '@orchestr8/echo', input: { v: '${env.ORCHESTR8_API_KEYS}' } }], {
        context: { environment: ['ORCHESTR8_API_KEYS'] },
      }),
    );
    expect(reserved.status).toBe(403);
  });

  it('takes the nesting limit from the config', async () => {
    const self = {
      version: '1.0.0',
      metadata: { id: 'recurse' },
      steps: [{ id: 'again', agent: '@orchestr8/workflow', input: { workflow: '${variables.self}' } }],
    };
    const r = await execute(s, JSON.parse(stringifyCycle(self, 10)));
    expect(r.body.status).toBe('failed');
    const all = await get(s, '/executions?limit=100');
    expect(all.items.filter((e: { workflowId: string }) => e.workflowId === 'recurse')).toHaveLength(3);
  });
});

/** A document that starts itself as a sub-workflow, unrolled `depth` times (JSON has no cycles). */
function stringifyCycle(doc: Record<string, unknown>, depth: number): string {
  let inner: Record<string, unknown> = { ...doc, context: { variables: { self: {} } } };
  for (let i = 0; i < depth; i++) inner = { ...doc, context: { variables: { self: inner } } };
  return JSON.stringify(inner);
}

describe('orchestr8 run of a workflow file that calls itself', () => {
  it('fails at the nesting limit with LIMIT_EXCEEDED, leaving nothing running', async () => {
    const dir = tempRoot();
    writeFileSync(
      join(dir, 'self.yaml'),
      [
        'version: "1.0.0"',
        'metadata: { id: self-calling }',
        'steps:',
        '  - id: again',
        '    agent: "@orchestr8/workflow"',
        '    input: { path: self.yaml }',
      ].join('\n'),
    );
    const store = `sqlite:${join(dir, 'o8.db')}`;
    const run = await cli(['run', 'self.yaml', '--json', '--store', store, '--max-workflow-depth', '5'], {
      cwd: dir,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('LIMIT_EXCEEDED');
    const list = await cli(['list', '--json', '--store', store, '--limit', '100'], { cwd: dir });
    const items = JSON.parse(list.stdout) as { status: string }[];
    expect(items).toHaveLength(6);
    expect(items.every((e) => e.status === 'failed')).toBe(true);
  });
});
