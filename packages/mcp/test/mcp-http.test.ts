import { request } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createServer, type Listener } from '@orchestr8/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcpHttpHandler, createMcpService, type Exposure } from '../src/index.js';
import { GREET, newClient, SLOW, structured, type TestHost, testHost, text } from './helpers.js';

const KEY = 'mcp-test-key';

interface Served {
  host: TestHost;
  listener: Listener;
  url: string;
}

async function serve(expose: Exposure, waitMs = 10_000): Promise<Served> {
  const host = await testHost();
  const service = createMcpService({ engine: host.engine, expose, waitMs });
  const listener = await createServer({
    engine: host.engine,
    registry: createAgentRegistry(builtinAgents),
    apiKeys: [KEY],
    routers: [{ handler: createMcpHttpHandler(service) }],
  }).listen(0, '127.0.0.1');
  return { host, listener, url: `${listener.url}/mcp` };
}

async function connect(url: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) {
  const client = newClient();
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

describe('MCP over streamable HTTP, behind the server auth', () => {
  let s: Served;
  let client: Client;
  beforeAll(async () => {
    s = await serve('*', 400);
    client = await connect(s.url);
  });
  afterAll(async () => {
    await client?.close();
    await s.listener.close({ graceMs: 0 });
    await s.host.close();
  });

  it('lists one tool per exposed workflow, with its description and inputs schema, and the generic tools', async () => {
    const { tools } = await client.listTools();
    const greet = tools.find((t) => t.name === 'greet');
    expect(greet?.description).toContain('Greets someone by name.');
    expect(greet?.inputSchema).toMatchObject({
      type: 'object',
      required: ['name'],
      properties: GREET.inputs.properties,
    });
    // A "." is not allowed in MCP tool names.
    expect(tools.some((t) => t.name === 'slow_job')).toBe(true);
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'orchestr8_start_execution',
        'orchestr8_get_execution',
        'orchestr8_list_executions',
        'orchestr8_cancel_execution',
        'orchestr8_read_journal',
        'orchestr8_validate',
        'orchestr8_list_approvals',
        'orchestr8_decide_approval',
      ]),
    );
  });

  it('a workflow tool answers with the outputs, defaults applied', async () => {
    const r = await client.callTool({ name: 'greet', arguments: { name: 'Ada' } });
    expect(r.isError).toBeFalsy();
    expect(structured(r)).toMatchObject({
      status: 'completed',
      outputs: { greeting: 'Hello, Ada!', times: 1 },
    });
    expect(JSON.parse(text(r)).outputs.greeting).toBe('Hello, Ada!');
  });

  it('invalid arguments give a tool error naming the field, and nothing runs', async () => {
    const before = (await s.host.store.listExecutions({ limit: 1000 })).items.length;
    const missing = await client.callTool({ name: 'greet', arguments: {} });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/^VALIDATION: the arguments do not match the workflow's inputs schema/);
    expect(text(missing)).toContain('name');
    const wrongType = await client.callTool({ name: 'greet', arguments: { name: 'Ada', times: 'twice' } });
    expect(wrongType.isError).toBe(true);
    expect(text(wrongType)).toContain('/times');
    expect((await s.host.store.listExecutions({ limit: 1000 })).items.length).toBe(before);
  });

  it('a long execution answers with its id and status, then is followed to completion', async () => {
    const r = await client.callTool({ name: 'slow_job', arguments: { ms: 1500 } });
    expect(r.isError).toBeFalsy();
    const first = structured(r);
    expect(first.status).toBe('running');
    expect(first.next).toContain('orchestr8_get_execution');
    const id = first.executionId as string;
    let view: Record<string, unknown> = first;
    for (let i = 0; i < 20 && view.status !== 'completed'; i++)
      view = structured(
        await client.callTool({
          name: 'orchestr8_get_execution',
          arguments: { executionId: id, waitSeconds: 5 },
        }),
      );
    expect(view).toMatchObject({ executionId: id, status: 'completed', outputs: { done: true } });
    const journal = structured(
      await client.callTool({ name: 'orchestr8_read_journal', arguments: { executionId: id } }),
    );
    expect((journal.entries as { type: string }[]).map((e) => e.type)).toContain('step.completed');
  });

  it('a failed execution is a tool error carrying its code, with the execution to inspect', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'doomed' },
      steps: [
        {
          id: 'boom',
          agent: '@orchestr8/fail',
          input: { always: true, code: 'TERMINAL', message: 'no way' },
        },
      ],
    };
    const r = await client.callTool({ name: 'orchestr8_start_execution', arguments: { document: doc } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^TERMINAL: execution \S+ failed: /);
    const details = (structured(r).error as { details: { executionId: string; status: string } }).details;
    expect(details.status).toBe('failed');
    expect(
      structured(
        await client.callTool({
          name: 'orchestr8_get_execution',
          arguments: { executionId: details.executionId },
        }),
      ).status,
    ).toBe('failed');
  });

  it('generic tools check their arguments', async () => {
    const r = await client.callTool({ name: 'orchestr8_get_execution', arguments: { executionId: 42 } });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('/executionId');
    const unknown = await client.callTool({
      name: 'orchestr8_get_execution',
      arguments: { executionId: 'nope' },
    });
    expect(text(unknown)).toBe('NOT_FOUND: no execution "nope"');
  });

  it('start, list and cancel executions', async () => {
    const started = structured(
      await client.callTool({
        name: 'orchestr8_start_execution',
        arguments: { workflowId: 'slow.job', inputs: { ms: 60_000 }, waitSeconds: 0 },
      }),
    );
    expect(started.status).toBe('running');
    const listed = structured(
      await client.callTool({
        name: 'orchestr8_list_executions',
        arguments: { workflowId: 'slow.job', status: ['running'] },
      }),
    );
    expect((listed.items as { executionId: string }[]).map((i) => i.executionId)).toContain(
      started.executionId,
    );
    const cancelled = structured(
      await client.callTool({
        name: 'orchestr8_cancel_execution',
        arguments: { executionId: started.executionId },
      }),
    );
    expect(cancelled).toMatchObject({ cancelRequested: true });
    const after = structured(
      await client.callTool({
        name: 'orchestr8_get_execution',
        arguments: { executionId: started.executionId, waitSeconds: 10 },
      }),
    );
    expect(after.status).toBe('cancelled');
  });

  it('validates documents: the problems with where they are', async () => {
    const bad = await client.callTool({
      name: 'orchestr8_validate',
      arguments: {
        document: { ...GREET, steps: [{ id: 'x', agent: '@orchestr8/nope', dependencies: ['y'] }] },
      },
    });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toContain('/steps/0');
    const good = await client.callTool({ name: 'orchestr8_validate', arguments: { document: GREET } });
    expect(structured(good)).toMatchObject({
      valid: true,
      id: 'greet',
      steps: [{ id: 'hello', agent: '@orchestr8/echo' }],
    });
  });

  it('a document asking for a capability the operator did not grant is refused, and nothing runs', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'sneaky' },
      steps: [
        { id: 'own', agent: { id: '@orchestr8/shell', config: { allow: ['*'] } }, input: { command: 'id' } },
      ],
    };
    const r = await client.callTool({ name: 'orchestr8_start_execution', arguments: { document: doc } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(
      /^CAPABILITY_DENIED: the document asks for more than this host grants; nothing was run\n {2}step "own": /,
    );
    expect((await s.host.store.listExecutions({ workflowId: 'sneaky', limit: 10 })).items).toEqual([]);
  });

  it('a program written in the document and not granted is refused by validate and start, and nothing runs', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'literal' },
      steps: [{ id: 'wipe', agent: '@orchestr8/shell', input: { command: ['rm', '-rf', '/tmp/nothing'] } }],
    };
    const checked = await client.callTool({ name: 'orchestr8_validate', arguments: { document: doc } });
    expect(checked.isError).toBe(true);
    expect(text(checked)).toContain('CAPABILITY_DENIED');
    expect(text(checked)).toContain('"rm"');
    const r = await client.callTool({ name: 'orchestr8_start_execution', arguments: { document: doc } });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^CAPABILITY_DENIED: .*nothing was run\n {2}step "wipe": shell: /);
    expect((await s.host.store.listExecutions({ workflowId: 'literal', limit: 10 })).items).toEqual([]);
  });

  it('serves workflow documents and journals as resources', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(['orchestr8://workflows/greet']));
    const doc = await client.readResource({ uri: 'orchestr8://workflows/greet' });
    expect(JSON.parse((doc.contents[0] as { text: string }).text).metadata.id).toBe('greet');
    const run = structured(await client.callTool({ name: 'greet', arguments: { name: 'Bo' } }));
    const journal = await client.readResource({ uri: `orchestr8://executions/${run.executionId}/journal` });
    const lines = (journal.contents[0] as { text: string }).text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toContain('execution.completed');
    await expect(client.readResource({ uri: 'orchestr8://workflows/nope' })).rejects.toThrow(
      /no exposed workflow "nope"/,
    );
  });

  it('approval steps are listed and decided', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'refund' },
      steps: [
        {
          id: 'ok',
          wait: {
            approval: {
              title: 'Refund?',
              form: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
            },
          },
        },
      ],
      outputs: { amount: '${steps.ok.output.data.amount}' },
    };
    const started = structured(
      await client.callTool({
        name: 'orchestr8_start_execution',
        arguments: { document: doc, waitSeconds: 0 },
      }),
    );
    const id = started.executionId as string;
    let items: { executionId: string; stepId: string; title: string }[] = [];
    for (let i = 0; i < 100 && !items.some((a) => a.executionId === id); i++) {
      items = structured(await client.callTool({ name: 'orchestr8_list_approvals', arguments: {} }))
        .items as typeof items;
      if (!items.some((a) => a.executionId === id)) await new Promise((r) => setTimeout(r, 50));
    }
    expect(items.find((a) => a.executionId === id)).toMatchObject({ stepId: 'ok', title: 'Refund?' });
    const invalid = await client.callTool({
      name: 'orchestr8_decide_approval',
      arguments: { executionId: id, stepId: 'ok', decision: 'approve', data: { amount: 'lots' } },
    });
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toContain('amount');
    const decided = await client.callTool({
      name: 'orchestr8_decide_approval',
      arguments: { executionId: id, stepId: 'ok', decision: 'approve', data: { amount: 12 } },
    });
    expect(structured(decided)).toMatchObject({ decision: 'approved' });
    const done = structured(
      await client.callTool({
        name: 'orchestr8_get_execution',
        arguments: { executionId: id, waitSeconds: 10 },
      }),
    );
    expect(done).toMatchObject({ status: 'completed', outputs: { amount: 12 } });
  });

  it('lists approvals a page at a time: limit, then nextCursor as cursor while more are pending; a bad cursor is a tool error', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const started = structured(
        await client.callTool({
          name: 'orchestr8_start_execution',
          arguments: {
            document: {
              version: '1.0.0',
              metadata: { id: 'mcp-paged-approvals' },
              steps: [{ id: 'sign', wait: { approval: { title: `Sign ${i}?` } } }],
            },
            waitSeconds: 0,
          },
        }),
      );
      ids.push(started.executionId as string);
    }
    type Page = { items: { executionId: string; title: string }[]; nextCursor?: string };
    const all = async () => {
      const seen: Page['items'] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 50; n++) {
        const page = structured(
          await client.callTool({
            name: 'orchestr8_list_approvals',
            arguments: { limit: 2, ...(cursor ? { cursor } : {}) },
          }),
        ) as Page;
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items);
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      return seen.filter((a) => ids.includes(a.executionId));
    };
    let mine: Page['items'] = [];
    for (let i = 0; i < 100 && mine.length < 5; i++) {
      mine = await all();
      if (mine.length < 5) await new Promise((r) => setTimeout(r, 50));
    }
    // Each once (the order is the wait store's, checked by its contract suite).
    expect(mine.map((a) => a.title).sort()).toEqual(['Sign 0?', 'Sign 1?', 'Sign 2?', 'Sign 3?', 'Sign 4?']);
    const bad = await client.callTool({ name: 'orchestr8_list_approvals', arguments: { cursor: 'nope' } });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toContain('cursor');
    for (const id of ids)
      await client.callTool({ name: 'orchestr8_cancel_execution', arguments: { executionId: id } });
  });

  it('refuses callers without an API key, from another Host, or from a foreign web page', async () => {
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: {},
    });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const noKey = await fetch(s.url, { method: 'POST', headers, body: init });
    expect(noKey.status).toBe(401);
    // fetch does not let a script set Host: a raw request does what a rebinding page's would.
    const rebinding = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        s.url,
        { method: 'POST', headers: { ...headers, authorization: `Bearer ${KEY}`, host: 'evil.example' } },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(init);
    });
    expect(rebinding.status).toBe(403);
    expect(JSON.parse(rebinding.body).code).toBe('HOST_NOT_ALLOWED');
    const page = await fetch(s.url, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${KEY}`, origin: 'https://evil.example' },
      body: init,
    });
    expect(page.status).toBe(403);
    expect(((await page.json()) as { code: string }).code).toBe('ORIGIN_NOT_ALLOWED');
    await expect(connect(s.url, {})).rejects.toThrow();
  });
});

describe('which workflows are exposed is the operator choice', () => {
  it('with nothing exposed, no workflow tool is listed and none starts by id', async () => {
    const s = await serve([]);
    const client = await connect(s.url);
    try {
      const { tools } = await client.listTools();
      expect(tools.every((t) => t.name.startsWith('orchestr8_'))).toBe(true);
      const r = await client.callTool({
        name: 'orchestr8_start_execution',
        arguments: { workflowId: 'greet', inputs: { name: 'x' } },
      });
      expect(text(r)).toBe('NOT_FOUND: no exposed workflow "greet"');
      expect((await client.listResources()).resources).toEqual([]);
      await expect(client.callTool({ name: 'greet', arguments: { name: 'x' } })).rejects.toThrow(
        /no tool "greet"/,
      );
    } finally {
      await client.close();
      await s.listener.close({ graceMs: 0 });
      await s.host.close();
    }
  });

  it('with a list, only those workflows get a tool', async () => {
    const s = await serve(['greet']);
    const client = await connect(s.url);
    try {
      const names = (await client.listTools()).tools
        .map((t) => t.name)
        .filter((n) => !n.startsWith('orchestr8_'));
      expect(names).toEqual(['greet']);
      void SLOW;
    } finally {
      await client.close();
      await s.listener.close({ graceMs: 0 });
      await s.host.close();
    }
  });
});
