import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import { createEngine, type Engine, type Store } from '@orchestr8/core';
import { createServer, type Listener } from '@orchestr8/server';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Orchestr8Client, Orchestr8ClientError, parseSse } from '../src/index.js';

let release!: () => void;
const held = new Promise<void>((r) => {
  release = r;
});
const holdAgent = defineAgent({
  id: '@test/hold',
  execute: async (_input: unknown, ctx) => {
    await Promise.race([
      held,
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    ]);
    return { released: true };
  },
});

const doc = (id: string, agent = '@orchestr8/echo') => ({
  version: '1.0.0',
  metadata: { id },
  steps: [
    { id: 'a', agent, input: { v: 1 } },
    { id: 'b', agent: '@orchestr8/echo', dependencies: ['a'], input: { v: 2 } },
  ],
});

let dir: string;
let store: Store;
let engine: Engine;
let listener: Listener;
let client: Orchestr8Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'o8-client-test-'));
  store = await openSqliteStore({ path: join(dir, 'o8.db') });
  const registry = createAgentRegistry([...builtinAgents, holdAgent]);
  engine = createEngine({ registry, store });
  listener = await createServer({ engine, registry, apiKeys: ['client-key'], keepAliveMs: 50 }).listen(0);
  client = createClient({ baseUrl: `${listener.url}/`, apiKey: 'client-key' });
});

afterAll(async () => {
  release();
  await Promise.all([listener.close({ graceMs: 100 }), engine.shutdown({ graceMs: 100 })]);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the client', () => {
  it('executes and waits, with idempotent replays reported', async () => {
    const first = await client.execute(
      { workflow: doc('client-exec') },
      { wait: 10, idempotencyKey: 'client-key-1' },
    );
    expect(first.finished).toBe(true);
    expect(first.replayed).toBe(false);
    expect(first.execution.status).toBe('completed');
    expect(first.location).toBe(`/executions/${first.execution.executionId}`);
    const again = await client.execute(
      { workflow: doc('client-exec') },
      { wait: 10, idempotencyKey: 'client-key-1' },
    );
    expect(again.replayed).toBe(true);
    expect(again.execution.executionId).toBe(first.execution.executionId);
  });

  it('follows events to the end, and resumes after a given id', async () => {
    const { execution } = await client.execute({ workflow: doc('client-events') }, { wait: 10 });
    const all = [];
    for await (const m of client.events(execution.executionId)) all.push(m);
    expect(all.at(-1)!.event).toBe('execution.completed');
    expect(all.map((m) => Number(m.id))).toEqual(all.map((_, i) => i + 1));
    const rest = [];
    for await (const m of client.events(execution.executionId, { lastEventId: all[2]!.id! })) rest.push(m);
    expect(rest.map((m) => m.id)).toEqual(all.slice(3).map((m) => m.id));
    expect(rest[0]!.data.executionId).toBe(execution.executionId);
  });

  it('reads, lists and pages the journal', async () => {
    const { execution } = await client.execute({ workflow: doc('client-read') }, { wait: 10 });
    expect((await client.getExecution(execution.executionId)).steps.b!.output).toEqual({ v: 2 });
    const page = await client.listExecutions({ workflowId: 'client-read', status: ['completed'], limit: 10 });
    expect(page.items.map((e) => e.executionId)).toEqual([execution.executionId]);
    const first = await client.journal(execution.executionId, { limit: 2 });
    expect(first.entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(first.nextCursor).toBe(2);
    const second = await client.journal(execution.executionId, { cursor: first.nextCursor!, limit: 1000 });
    expect(second.entries[0]!.seq).toBe(3);
    expect(second.nextCursor).toBeUndefined();
  });

  it('cancels a running execution', async () => {
    const { execution } = await client.execute({ workflow: doc('client-cancel', '@test/hold') });
    const cancelling = await client.cancel(execution.executionId, { reason: 'client test' });
    expect(cancelling.executionId).toBe(execution.executionId);
    const events = [];
    for await (const m of client.events(execution.executionId)) events.push(m.event);
    expect(events.at(-1)).toBe('execution.cancelled');
    expect((await client.getExecution(execution.executionId)).status).toBe('cancelled');
  });

  it('registers and reads workflows', async () => {
    const put = await client.putWorkflow(doc('client-def'));
    expect(put.created).toBe(true);
    expect(put.etag).toMatch(/^"/);
    const got = await client.getWorkflow('client-def');
    expect(got.etag).toBe(put.etag);
    expect(got.document).toEqual(doc('client-def'));
    expect((await client.listWorkflows()).map((w) => w.id)).toContain('client-def');
    const stale = await client
      .putWorkflow({ ...doc('client-def'), version: '1.0.1' }, { ifMatch: '"stale"' })
      .catch((e) => e);
    expect(stale).toBeInstanceOf(Orchestr8ClientError);
    expect(stale.status).toBe(412);
  });

  it('throws Orchestr8ClientError carrying the problem', async () => {
    const invalid = await client
      .execute({ workflow: { version: '1.0.0', metadata: { id: 'x' }, steps: [] } })
      .catch((e) => e);
    expect(invalid).toBeInstanceOf(Orchestr8ClientError);
    expect(invalid.status).toBe(422);
    expect(invalid.code).toBe('VALIDATION');
    expect(invalid.problem.errors[0].code).toBe('E_SCHEMA');
    const missing = await client.getExecution('missing').catch((e) => e);
    expect(missing.code).toBe('NOT_FOUND');
    const unauthorised = await createClient({ baseUrl: listener.url })
      .listWorkflows()
      .catch((e) => e);
    expect(unauthorised.code).toBe('UNAUTHORIZED');
    const unreachable = await createClient({ baseUrl: 'http://127.0.0.1:1' })
      .listWorkflows()
      .catch((e) => e);
    expect(unreachable).toMatchObject({ status: 0, code: 'NETWORK' });
  });
});

describe('parseSse', () => {
  it('parses fields, multi-line data, comments and CRLF split across chunks', async () => {
    const chunks = [
      ': hello\r\n',
      'id: 7\r',
      '\nevent: x\ndata: {"a":',
      '1}\n\n',
      'data: line1\ndata: line2\n\nid: 8\ndata: 2\n\n',
    ];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        controller.close();
      },
    });
    const out = [];
    for await (const m of parseSse(body)) out.push(m);
    expect(out).toEqual([
      { id: '7', event: 'x', data: { a: 1 } },
      { id: '7', event: 'message', data: 'line1\nline2' },
      { id: '8', event: 'message', data: 2 },
    ]);
  });
});
