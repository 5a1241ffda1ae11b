import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CancelledError, ErrorCode, ensureError, sendProblem, TerminalError } from '@orchestr8/common';
import {
  type Agent,
  type AgentContext,
  type AgentLogger,
  type Capabilities,
  CapabilityError,
  checkAgainstSchema,
  GrantDenied,
  type ResolvedCapabilities,
  resolveCapabilities,
} from '@orchestr8/core';
import { isLoopbackHost } from '@orchestr8/server';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor } from '../capabilities.js';
import { loadProjectConfig, NO_CONFIG } from '../config.js';
import { loadUserAgents } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';

/**
 * `orchestr8 agent serve [modules...]`: agents as an HTTP microservice, the server side of
 * `createRemoteAgent` (`@orchestr8/agents`). A workflow step reaches it with
 * `agent: {id: "@acme/upper", url: "http://127.0.0.1:8090"}`; the agent code is the same
 * object that runs in-process.
 *
 * - `POST /agents/<id>/execute` `{input, context: {executionId, stepId, attempt, idempotencyKey, config, item?, index?}}`
 *   -> `200 {output}`, or `application/problem+json` `{type, title, status, detail, code, retryable, retryAfterMs?, details?, instance}`
 * - `GET /agents` -> `{agents: [{id, version, description, inputSchema, outputSchema}]}`; `GET /agents/<id>`: one
 * - `GET /health` -> `{status: "ok", agents: <n>}`
 *
 * Inputs and outputs are checked against the agent's schemas here; a client that
 * disconnects (the step timed out or was cancelled) aborts the agent's `ctx.signal`.
 */

interface AgentServeOptions extends CapabilityFlags {
  port: string;
  host: string;
  grace: string;
  verbose?: boolean;
}

const BODY_LIMIT = 10 * 1024 * 1024;

export function registerAgentCommand(program: Command): void {
  const agent = program.command('agent').description('work with agents: serve them over HTTP');
  agent
    .command('serve')
    .description('serve agents as an HTTP microservice that workflows call by URL (agent: {id, url})')
    .argument('[modules...]', 'JS or TS modules exporting agents (default: the agents of orchestr8.config)')
    .option('-p, --port <port>', 'port; 0 picks a free one (the URL is printed)', '8090')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--grace <ms>',
      'on SIGTERM, how long running calls get to finish before they are aborted',
      '5000',
    )
    .option('-v, --verbose', 'log every call on stderr')
    .addHelpText(
      'after',
      '\nEndpoints: POST /agents/<id>/execute, GET /agents, GET /agents/<id>, GET /health.\n' +
        'There is no authentication: keep the default loopback address unless the network is trusted.\n' +
        'Exit codes: 0 stopped cleanly (SIGTERM or Ctrl-C), 1 failed to start, 2 usage (no agents, bad port).',
    )
    .action(async (modules: string[], opts: AgentServeOptions) => {
      process.exitCode = await agentServeCommand(modules, opts);
    });
}

async function agentServeCommand(modules: string[], opts: AgentServeOptions): Promise<number> {
  const port = Number(opts.port);
  if (!/^\d+$/.test(opts.port) || port > 65535)
    return failUsage(`--port must be 0-65535, got "${opts.port}"`);
  const graceMs = Number(opts.grace);
  if (!/^\d+$/.test(opts.grace))
    return failUsage(`--grace must be a number of milliseconds, got "${opts.grace}"`);
  let agents: Agent[];
  let capabilities: Capabilities;
  try {
    const config = await loadProjectConfig();
    // Modules named on the command line are served instead of the config's agents.
    agents = modules.length > 0 ? await loadUserAgents(modules, NO_CONFIG) : await loadUserAgents([], config);
    capabilities = capabilitiesFor(config, opts);
  } catch (e) {
    return reportError(e);
  }
  if (agents.length === 0)
    return failUsage(
      'no agents to serve: name a module (orchestr8 agent serve ./agents/index.ts) or list agents in orchestr8.config',
    );
  if (!isLoopbackHost(opts.host))
    process.stderr.write(
      `warning: serving on ${opts.host} without authentication: anyone who can reach it can run these agents\n`,
    );

  const service = createAgentService(agents, { verbose: Boolean(opts.verbose), capabilities });
  let url: string;
  try {
    url = await service.listen(port, opts.host);
  } catch (e) {
    process.stderr.write(`error: cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}\n`);
    return ExitCode.failed;
  }
  const list = agents.map((a) => (a.version ? `${a.id}@${a.version}` : a.id)).join(', ');
  process.stdout.write(`orchestr8 agent service listening on ${url} (${agents.length} agents: ${list})\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.stderr.write(`${signal}: stopping…\n`);
  process.once('SIGTERM', () => process.exit(ExitCode.failed));
  process.once('SIGINT', () => process.exit(ExitCode.failed));
  await service.close(graceMs);
  return ExitCode.ok;
}

export interface AgentService {
  readonly server: Server;
  /** Resolves with the base URL. */
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting calls; running ones get `graceMs`, then their signal aborts. */
  close(graceMs?: number): Promise<void>;
}

/** The HTTP service behind `orchestr8 agent serve`, for embedding and tests. */
export function createAgentService(
  agents: readonly Agent[],
  options: { verbose?: boolean; capabilities?: Capabilities } = {},
): AgentService {
  const capabilities = resolveCapabilities(options.capabilities);
  const byId = new Map<string, Agent>();
  for (const a of agents) byId.set(a.id, a);
  const running = new Set<AbortController>();
  let idle: (() => void) | undefined;

  const server = createServer((req, res) => {
    const started = performance.now();
    void handle(req, res).finally(() => {
      if (options.verbose)
        process.stderr.write(
          `${req.method} ${req.url} ${res.statusCode} ${Math.round(performance.now() - started)}ms\n`,
        );
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (path === '/health') {
        if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
        return json(res, 200, { status: 'ok', agents: byId.size });
      }
      if (path === '/agents' || path === '/agents/') {
        if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
        return json(res, 200, { agents: [...byId.values()].map(describeAgent) });
      }
      const execute = /^\/agents\/(.+)\/execute$/.exec(path);
      const one = execute ? undefined : /^\/agents\/(.+)$/.exec(path);
      const id = safeDecode((execute ?? one)?.[1]);
      if (id === undefined) return problem(res, 404, 'NOT_FOUND', `no route ${req.method} ${path}`, false);
      const agent = byId.get(id);
      if (!agent) {
        return problem(
          res,
          404,
          ErrorCode.AGENT_NOT_FOUND,
          `no agent "${id}" here (serving: ${[...byId.keys()].join(', ')})`,
          false,
        );
      }
      if (one)
        return req.method === 'GET' ? json(res, 200, describeAgent(agent)) : methodNotAllowed(res, 'GET');
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      return await executeAgent(agent, req, res);
    } catch (e) {
      const err = ensureError(e, ErrorCode.INTERNAL);
      return problem(res, 500, err.code, err.message, err.retryable);
    }
  }

  async function executeAgent(agent: Agent, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if ('status' in body) return problem(res, body.status, body.code, body.error, false);
    const call = body.value as { input?: unknown; context?: Record<string, unknown> };
    const c = call.context ?? {};
    if (typeof c !== 'object' || c === null || Array.isArray(c))
      return problem(res, 400, ErrorCode.VALIDATION, 'context must be an object', false);
    const controller = new AbortController();
    // The client gave up (its step timed out or was cancelled): stop the agent.
    const onClose = () => {
      if (!res.writableEnded) controller.abort(new CancelledError('the caller disconnected'));
    };
    res.on('close', onClose);
    running.add(controller);
    try {
      checkAgainstSchema(agent.inputSchema, call.input, `input of agent "${agent.id}"`);
      const ctx = contextFor(agent, c, controller.signal, capabilities);
      const output = await agent.execute(call.input, ctx);
      checkAgainstSchema(agent.outputSchema, output, `output of agent "${agent.id}"`);
      if (controller.signal.aborted) return;
      json(res, 200, { output: output ?? null });
    } catch (e) {
      if (controller.signal.aborted && res.destroyed) return;
      const err = ensureError(e);
      const status =
        err.code === ErrorCode.VALIDATION
          ? 400
          : err.code === ErrorCode.CAPABILITY_DENIED
            ? 403
            : err.code === ErrorCode.HTTP_429
              ? 429
              : err.retryable
                ? 503
                : 500;
      problem(res, status, err.code, err.message, err.retryable, err.retryAfterMs, err.details);
    } finally {
      res.off('close', onClose);
      running.delete(controller);
      if (running.size === 0) idle?.();
    }
  }

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve(`http://${h}:${a.port}`);
        });
      }),
    async close(graceMs = 5000) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (running.size > 0) {
        const drained = new Promise<void>((r) => {
          idle = r;
        });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
        for (const c of running) c.abort(new CancelledError('the agent service is shutting down'));
      }
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * The caller's `config` is a document's: narrowed to what this service's operator grants, as
 * the engine does (a GrantDenied becomes CAPABILITY_DENIED, 403).
 */
function contextFor(
  agent: Agent,
  c: Record<string, unknown>,
  signal: AbortSignal,
  capabilities: ResolvedCapabilities,
): AgentContext {
  const str = (v: unknown, fallback: string) => (typeof v === 'string' && v !== '' ? v : fallback);
  const executionId = str(c.executionId, 'remote');
  const stepId = str(c.stepId, agent.id);
  const requested = (
    c.config && typeof c.config === 'object' && !Array.isArray(c.config) ? c.config : {}
  ) as Record<string, unknown>;
  let config = requested;
  if (agent.grant !== undefined) {
    try {
      config = agent.grant(requested, capabilities.agents[agent.id] ?? {}, capabilities) as Record<
        string,
        unknown
      >;
    } catch (e) {
      if (!(e instanceof GrantDenied)) throw e;
      throw new CapabilityError([{ capability: e.capability, message: e.message, grant: e.grant }]);
    }
  }
  const ctx: AgentContext = {
    signal,
    executionId,
    stepId,
    attempt: typeof c.attempt === 'number' && c.attempt >= 1 ? c.attempt : 1,
    idempotencyKey: str(c.idempotencyKey, randomUUID()),
    config,
    capabilities,
    logger: loggerFor(`${agent.id} ${executionId}/${stepId}`),
    ...(typeof c.index === 'number' ? { item: c.item, index: c.index } : {}),
    runWorkflow: () =>
      Promise.reject(
        new TerminalError('ctx.runWorkflow is not available to an agent served by `orchestr8 agent serve`'),
      ),
  };
  return ctx;
}

function loggerFor(prefix: string): AgentLogger {
  const log = (level: string) => (message: string, data?: Record<string, unknown>) => {
    process.stderr.write(`[${prefix}] ${level} ${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
  };
  return { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };
}

function describeAgent(a: Agent) {
  return {
    id: a.id,
    version: a.version ?? null,
    description: a.description ?? null,
    inputSchema: jsonSchemaOf(a.inputSchema),
    outputSchema: jsonSchemaOf(a.outputSchema),
  };
}

/** JSON Schemas as they are; zod schemas converted (zod 4), else null. */
function jsonSchemaOf(schema: unknown): unknown {
  if (schema === undefined || schema === null || typeof schema !== 'object') return null;
  const z = schema as { safeParse?: unknown; toJSONSchema?: () => unknown };
  if (typeof z.safeParse !== 'function') return schema;
  try {
    return typeof z.toJSONSchema === 'function' ? z.toJSONSchema() : null;
  } catch {
    return null;
  }
}

function safeDecode(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

type Body = { value: unknown; error?: undefined } | { error: string; status: number; code: string };

async function readJson(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT)
      return {
        error: `the request body is larger than ${BODY_LIMIT} bytes`,
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      };
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return {
        error: 'the body must be a JSON object {input, context}',
        status: 400,
        code: ErrorCode.VALIDATION,
      };
    return { value };
  } catch (e) {
    return { error: `the body is not JSON: ${(e as Error).message}`, status: 400, code: 'INVALID_JSON' };
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function problem(
  res: ServerResponse,
  status: number,
  code: string,
  detail: string,
  retryable: boolean,
  retryAfterMs?: number,
  details?: unknown,
): void {
  if (retryAfterMs !== undefined && !res.headersSent)
    res.setHeader('retry-after', Math.ceil(retryAfterMs / 1000));
  sendProblem(res, status, code, detail, {
    retryable,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(details !== undefined ? { details } : {}),
  });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  problem(res, 405, 'METHOD_NOT_ALLOWED', `use ${allow}`, false);
}
