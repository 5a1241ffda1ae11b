import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeClock, type FakeClock } from '@orchestr8/common';
import {
  type Agent,
  type AgentContext,
  type Capabilities,
  createEngine,
  type Engine,
  type EngineOptions,
  type JournalEntry,
  resolveCapabilities,
} from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';

/** Compiles a document given as an object; fails the test with the diagnostics when invalid. */
export function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'test', name: 'test' }, ...doc });
  if (!r.ok || !r.workflow)
    throw new Error(`invalid test workflow: ${JSON.stringify(r.diagnostics, null, 2)}`);
  return r.workflow;
}

export function testEngine(
  agents: readonly Agent[],
  options: Partial<EngineOptions> = {},
): { engine: Engine; clock: FakeClock } {
  const clock = createFakeClock();
  const map = new Map(agents.map((a) => [a.id, a]));
  const engine = createEngine({
    registry: { get: (id) => map.get(id), has: (id) => map.has(id), list: () => [...map.values()] },
    clock,
    random: () => 0.5,
    cancelPollMs: 0,
    ...options,
  });
  return { engine, clock };
}

/**
 * Waits for a promise whose work mixes real I/O (a local server, a child process) with fake
 * timers (retry backoff): fires due fake timers, lets real I/O progress, until it settles.
 */
export async function drive<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  while (!done) {
    await clock.runAll();
    await new Promise((r) => setTimeout(r, 2));
  }
  return promise;
}

/** Runs a workflow to its end on the test engine. */
export async function run(
  engine: Engine,
  clock: FakeClock,
  workflow: CompiledWorkflow,
  inputs?: unknown,
): Promise<Awaited<ReturnType<Engine['execute']>>> {
  const handle = await engine.start(workflow, inputs === undefined ? {} : { inputs });
  return drive(clock, handle.result);
}

export async function journal(engine: Engine, executionId: string): Promise<JournalEntry[]> {
  return engine.store.readJournal(executionId);
}

export function entries(j: readonly JournalEntry[], type: string, stepId?: string): JournalEntry[] {
  return j.filter((e) => e.type === type && (stepId === undefined || e.stepId === stepId));
}

export function dataOf(entry: JournalEntry | undefined): Record<string, any> {
  if (entry === undefined) throw new Error('no such journal entry');
  return (entry.data ?? {}) as Record<string, any>;
}

/**
 * The operator's grant the network agents need to reach the loopback test servers (by
 * default they may connect to public addresses only).
 */
export const LOOPBACK_GRANT: Capabilities = { egress: { allow: ['127.0.0.1', '::1', 'localhost'] } };

/** An agent context for calling `execute` directly, with the operator's `capabilities`. */
export function contextFor(
  overrides: Partial<AgentContext> = {},
  capabilities: Capabilities = {},
): AgentContext {
  return {
    signal: new AbortController().signal,
    executionId: 'exec-1',
    stepId: 'step-1',
    attempt: 1,
    idempotencyKey: 'exec-1:step-1',
    config: {},
    capabilities: resolveCapabilities(capabilities),
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    runWorkflow: () => Promise.reject(new Error('runWorkflow is not available in this test')),
    ...overrides,
  };
}

/** Runs `fn` and returns what it threw (failing the test if it did not throw). */
export async function caught(fn: () => unknown): Promise<any> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure, but it succeeded');
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface TestServer {
  url: string;
  host: string;
  requests: SeenRequest[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 (or `host`) with a random port; `handler` answers each
 * request. The network agents reach it only with LOOPBACK_GRANT.
 */
export async function startServer(
  handler: (req: SeenRequest, res: ServerResponse, n: number) => void | Promise<void>,
  host = '127.0.0.1',
): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      void Promise.resolve(handler(seen, res, requests.length)).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: `http://${authority}`,
    host: authority,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
