import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import { createEngine, type Engine, type EngineOptions, type Store } from '@orchestr8/core';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { createServer, type Listener, type Orchestr8Server, type ServerOptions } from '../src/index.js';

/** Gates the tests open by hand: a `test/gate` step waits until its gate is opened. */
const gates = new Map<string, { promise: Promise<void>; open: () => void }>();

export function gate(name: string): { promise: Promise<void>; open: () => void } {
  let g = gates.get(name);
  if (!g) {
    let open!: () => void;
    const promise = new Promise<void>((r) => {
      open = r;
    });
    g = { promise, open };
    gates.set(name, g);
  }
  return g;
}

export const gateAgent = defineAgent<{ name: string }, { opened: string }>({
  id: '@test/gate',
  async execute(input, ctx) {
    await Promise.race([
      gate(input.name).promise,
      new Promise((_, reject) =>
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
      ),
    ]);
    return { opened: input.name };
  },
});

export const registry = () => createAgentRegistry([...builtinAgents, gateAgent]);

export function oneStep(id = 'one-step', input: Record<string, unknown> = { n: 1 }) {
  return { version: '1.0.0', metadata: { id }, steps: [{ id: 'echo', agent: '@orchestr8/echo', input }] };
}

/** `first` waits on a gate, then `second` and `third` run: events arrive in two bursts. */
export function gated(gateName: string, id = 'gated') {
  return {
    version: '1.0.0',
    metadata: { id },
    steps: [
      { id: 'first', agent: '@test/gate', input: { name: gateName } },
      { id: 'second', agent: '@orchestr8/echo', dependencies: ['first'], input: { v: 2 } },
      { id: 'third', agent: '@orchestr8/echo', dependencies: ['second'], input: { v: 3 } },
    ],
  };
}

export interface TestServer {
  dir: string;
  dbPath: string;
  store: Store;
  engine: Engine;
  server: Orchestr8Server;
  listener: Listener;
  url: string;
  /** Closes the listener, suspends the engine and closes the store (the temp dir stays unless `remove`). */
  stop(options?: { remove?: boolean }): Promise<void>;
}

export async function startServer(
  options: Partial<Omit<ServerOptions, 'engine' | 'registry'>> & {
    dir?: string;
    host?: string;
    engine?: Partial<EngineOptions>;
  } = {},
): Promise<TestServer> {
  const { dir: givenDir, host, engine: engineOptions, ...serverOptions } = options;
  const dir = givenDir ?? mkdtempSync(join(tmpdir(), 'o8-server-test-'));
  const dbPath = join(dir, 'orchestr8.db');
  const store = await openSqliteStore({ path: dbPath });
  const reg = registry();
  const engine = createEngine({ registry: reg, store, ...engineOptions });
  await engine.resumeAll();
  const server = createServer({ engine, registry: reg, keepAliveMs: 100, ...serverOptions });
  const listener = await server.listen(0, host ?? '127.0.0.1');
  let stopped = false;
  return {
    dir,
    dbPath,
    store,
    engine,
    server,
    listener,
    url: listener.url,
    async stop(o = {}) {
      if (!stopped) {
        stopped = true;
        await Promise.all([listener.close({ graceMs: 200 }), engine.shutdown({ graceMs: 200 })]);
        await store.close();
      }
      if (o.remove ?? true) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function put(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts a problem response and returns its body. */
export async function problemOf(res: Response): Promise<Record<string, any>> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('application/problem+json'))
    throw new Error(`expected a problem, got ${res.status} ${type}: ${await res.text()}`);
  const body = (await res.json()) as Record<string, any>;
  if (body.status !== res.status || typeof body.code !== 'string' || typeof body.detail !== 'string') {
    throw new Error(`malformed problem: ${JSON.stringify(body)}`);
  }
  if (JSON.stringify(body).includes('    at '))
    throw new Error(`a problem leaked a stack trace: ${JSON.stringify(body)}`);
  return body;
}

/** Polls until the execution is terminal (no timing assertion: it only bounds the wait). */
export async function waitTerminal(url: string, id: string): Promise<Record<string, any>> {
  for (let i = 0; i < 500; i++) {
    const r = await fetch(`${url}/executions/${id}`);
    const body = (await r.json()) as Record<string, any>;
    if (['completed', 'failed', 'cancelled'].includes(body.status)) return body;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`execution ${id} did not finish`);
}
