import { maxHeaderSize, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { AgentRegistry, Engine, Store } from '@orchestr8/core';
import express, { type Express, type RequestHandler } from 'express';
import { type AllowedHosts, createAllowedHosts } from './allowed-hosts.js';
import { apiKeyAuth, isLoopbackHost } from './auth.js';
import { jsonBody, parseByteSize } from './body.js';
import {
  type ExecuteGate,
  Lifecycle,
  type MetricsSource,
  type RouteDef,
  type ServerContext,
  startTurns,
} from './context.js';
import type { RouteContract } from './contracts/contract.js';
import { corsMiddleware } from './cors.js';
import { EventFeed } from './event-feed.js';
import { hostGuard } from './host-guard.js';
import {
  errorHandler,
  HttpProblem,
  ProblemCode,
  problemBody,
  problemInstance,
  type ServerLogger,
  silentLogger,
} from './problem.js';
import { type RateLimitOptions, rateLimiter } from './rate-limit.js';
import { requestLog } from './request-log.js';
import { eventRoutes } from './routes/events.js';
import { executionRoutes } from './routes/executions.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { operationRoutes } from './routes/operations.js';
import { type EventHook, waitRoutes } from './routes/waits.js';
import { workersRoutes } from './routes/workers.js';
import { workflowRoutes } from './routes/workflows.js';
import { WorkflowResolver } from './workflow-resolver.js';

export interface ServerOptions {
  engine: Engine;
  registry: AgentRegistry;
  /** Defaults to the engine's store. */
  store?: Store;
  /** Required (non-empty) to listen on anything but a loopback address. */
  apiKeys?: readonly string[];
  /**
   * Per client (API key, else IP address): a token bucket of 6000 requests a minute by
   * default, bursts of a sixth of that. Loopback clients are not limited unless `loopback:
   * true` (proxied ones are). `false` turns it off.
   */
  rateLimit?: false | RateLimitOptions;
  /** Largest request body, in bytes or as "1mb". Default 1 MiB. */
  bodyLimit?: number | string;
  /** Origins allowed to call the API from a browser. Off unless given. */
  cors?: { origins: readonly string[] | '*' };
  /**
   * `Host` names the API answers to besides `localhost`, `*.localhost`, IP addresses and the
   * name it listens on: exact names, `.example.com` (it and its subdomains) or `*.example.com`
   * (its subdomains). `'*'` answers any Host. Other Hosts get 403 `HOST_NOT_ALLOWED`.
   */
  allowedHosts?: readonly string[] | '*';
  /** How long an Idempotency-Key is remembered. Default 24 h. */
  idempotencyTtlMs?: number;
  /** Upper bound of `Prefer: wait`. Default 60 s. */
  maxWaitSeconds?: number;
  /** Keep-alive comment interval of event streams. Default 15 s. */
  keepAliveMs?: number;
  /** Events kept for `GET /events` resumption. Default 10,000. */
  eventBufferSize?: number;
  /** How often expired Idempotency-Keys are deleted from the store. Default 10 minutes; 0 = never. */
  pruneIntervalMs?: number;
  /** Readiness: throws when the server cannot serve (e.g. store not migrated). Default: the store answers a query. */
  ready?: () => Promise<void>;
  /** Logs internal errors, and one structured line per request (`info('request', {...})`). */
  logger?: ServerLogger;
  /** Served at `GET /metrics` (Prometheus text format); without it, `/metrics` is 404. */
  metrics?: MetricsSource;
  /** Served at `GET /workers` (distributed PostgreSQL set-ups); without it, `/workers` is 404. */
  workers?: () => Promise<unknown>;
  /**
   * Routes of other packages (e.g. `@orchestr8/triggers`), so the server needs no dependency on
   * them. Mounted after the Host/Origin checks and before the built-in routes and body parsing:
   * each reads its own body. `public: true` mounts it before API-key auth and rate limiting
   * (webhooks, which authenticate by signature).
   */
  routers?: readonly ExtraRouter[];
  /**
   * Told of every event `POST /events` accepts, after it was delivered to waiting executions
   * (e.g. `@orchestr8/triggers` starts its event triggers here); what it returns is merged
   * into the response. With it, the server's `POST /events` takes precedence over a router's.
   */
  onEvent?: EventHook;
  /** Flow control of `POST /workflows/execute` (e.g. `createExecuteGate()` of `@orchestr8/triggers`). */
  executeGate?: ExecuteGate;
}

export interface ExtraRouter {
  handler: RequestHandler;
  public?: boolean;
  /** What the router serves (`defineRoute`): described in the served `/openapi.json`. */
  contracts?: readonly RouteContract[];
}

export interface Listener {
  /** e.g. `http://127.0.0.1:8088`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly server: Server;
  /**
   * Stops accepting connections, ends event streams, lets requests in flight finish, and
   * answers requests still waiting for a result (`Prefer: wait`) with the current status
   * after `graceMs` (default 5000). The engine is the caller's to shut down.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

export interface Orchestr8Server {
  readonly app: Express;
  /** Every route, for documentation and the OpenAPI agreement test. */
  readonly routes: readonly { method: string; path: string }[];
  listen(port?: number, host?: string): Promise<Listener>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function createServer(options: ServerOptions): Orchestr8Server {
  const store = options.store ?? options.engine.store;
  const logger = options.logger ?? silentLogger;
  const lifecycle = new Lifecycle();
  const apiKeys = options.apiKeys ?? [];
  const hosts = createAllowedHosts(options.allowedHosts);
  const ctx: ServerContext = {
    engine: options.engine,
    store,
    registry: options.registry,
    resolver: new WorkflowResolver(store, options.registry),
    feed: new EventFeed(options.engine.events, options.eventBufferSize ?? 10_000),
    lifecycle,
    logger,
    idempotencyTtlMs: options.idempotencyTtlMs ?? DAY_MS,
    maxWaitSeconds: options.maxWaitSeconds ?? 60,
    keepAliveMs: options.keepAliveMs ?? 15_000,
    ready: options.ready ?? (async () => void (await store.listExecutions({ limit: 1 }))),
    metrics: options.metrics,
    workers: options.workers,
    startTurn: startTurns(),
    executeGate: options.executeGate,
    routerContracts: (options.routers ?? []).flatMap((r) => r.contracts ?? []),
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (options.logger) app.use(requestLog(options.logger));
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (lifecycle.closing) {
      res.setHeader('Connection', 'close');
      return next(
        new HttpProblem(
          503,
          ProblemCode.SHUTTING_DOWN,
          'the server is shutting down',
          {},
          { 'Retry-After': '1' },
        ),
      );
    }
    next();
  });
  // Before CORS and auth: a rebinding page's preflight is refused too, and public paths are no exception.
  app.use(hostGuard(hosts, options.cors?.origins));
  if (options.cors) app.use(corsMiddleware(options.cors.origins));
  for (const r of options.routers ?? []) if (r.public) app.use(r.handler);
  if (apiKeys.length > 0) app.use(apiKeyAuth(apiKeys));
  if (options.rateLimit !== false) app.use(rateLimiter(options.rateLimit ?? {}));
  const bodyLimit = parseByteSize(options.bodyLimit ?? '1mb');
  // One POST /events wakes waits and tells the hook (triggers), ahead of any router's own.
  const waits = waitRoutes(ctx, options.onEvent);
  if (options.onEvent) app.post('/events', jsonBody(bodyLimit), waits[0]!.handler);
  for (const r of options.routers ?? []) if (!r.public) app.use(r.handler);
  app.use(jsonBody(bodyLimit));

  // Order matters: `/workflows/execute` is registered (with its 405) before `/workflows/:id`:
  // `execute` and `validate` are reserved workflow ids, so those paths answer only POST.
  const table: RouteDef[] = [
    ...healthRoutes(ctx),
    ...metricsRoutes(ctx),
    ...workersRoutes(ctx),
    ...executionRoutes(ctx),
    ...operationRoutes(ctx),
    ...eventRoutes(ctx),
    ...waits,
    ...workflowRoutes(ctx),
  ];
  const byPath = new Map<string, RouteDef[]>();
  for (const r of table) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
  for (const [path, routes] of byPath) {
    for (const r of routes) app[r.method](path, r.handler);
    const allow = [
      ...new Set(routes.flatMap((r) => (r.method === 'get' ? ['GET', 'HEAD'] : [r.method.toUpperCase()]))),
    ].join(', ');
    app.all(path, (req, res, next) => {
      res.setHeader('Allow', allow);
      if (req.method === 'OPTIONS') {
        res.status(204).end();
        return;
      }
      next(
        new HttpProblem(
          405,
          ProblemCode.METHOD_NOT_ALLOWED,
          `${req.method} is not allowed here; allowed: ${allow}`,
        ),
      );
    });
  }
  app.use((req, _res, next) =>
    next(new HttpProblem(404, ProblemCode.NOT_FOUND, `no route for ${req.method} ${req.path}`)),
  );
  app.use(errorHandler(logger));

  return {
    app,
    routes: table.map((r) => ({ method: r.method, path: r.path })),
    listen: (port = 8088, host = '127.0.0.1') =>
      listen(app, ctx, apiKeys, hosts, port, host, options.pruneIntervalMs ?? 600_000),
  };
}

function listen(
  app: Express,
  ctx: ServerContext,
  apiKeys: readonly string[],
  hosts: AllowedHosts,
  port: number,
  host: string,
  pruneIntervalMs: number,
): Promise<Listener> {
  if (!isLoopbackHost(host) && apiKeys.length === 0) {
    return Promise.reject(
      new Orchestr8Error(
        ErrorCode.VALIDATION,
        `refusing to listen on ${host} without API keys: set ORCHESTR8_API_KEYS (or apiKeys), or bind 127.0.0.1`,
      ),
    );
  }
  hosts.addBoundName(host);
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.keepAliveTimeout = 5000;
    // Bounds how long a client may take to send a request (event streams are long responses, not requests).
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    // Malformed HTTP (bad header characters, oversized headers) still gets a problem, not a bare 400.
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable || error.code === 'ECONNRESET') return socket.destroy();
      socket.end(clientErrorResponse(error, maxHeaderSize));
    });
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `http://${urlHost}:${addr.port}`;
      ctx.logger.info(`listening on ${url}`);
      // Expired keys are already ignored; this only keeps the table from growing. Executions are kept.
      const prune =
        pruneIntervalMs > 0
          ? setInterval(() => {
              ctx.store
                .prune({ finishedBefore: 0, now: Date.now() })
                .catch((e) => ctx.logger.error('pruning expired idempotency keys failed', e));
            }, pruneIntervalMs).unref()
          : undefined;
      resolve({
        url,
        host: addr.address,
        port: addr.port,
        server,
        close: (o) => {
          if (prune) clearInterval(prune);
          return closeServer(server, ctx, o?.graceMs ?? 5000);
        },
      });
    });
  });
}

async function closeServer(server: Server, ctx: ServerContext, graceMs: number): Promise<void> {
  const { lifecycle } = ctx;
  if (!lifecycle.closing) lifecycle.closing = true;
  const closed = new Promise<void>((r) => server.close(() => r()));
  for (const end of [...lifecycle.streams]) end();
  server.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  // Requests waiting for results get until the deadline (the engine may finish them), then the current status.
  while (Date.now() < deadline && (lifecycle.waiters.size > 0 || lifecycle.streams.size > 0)) {
    await new Promise((r) => setTimeout(r, 20));
    server.closeIdleConnections();
  }
  lifecycle.releaseAll();
  const settle = Date.now() + 1000;
  let done = false;
  void closed.then(() => {
    done = true;
  });
  while (!done && Date.now() < settle) {
    server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 20));
  }
  server.closeAllConnections();
  await closed;
  ctx.feed.close();
}

const CLIENT_ERROR_TITLES: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};
/** The longest request path shown as a problem's `instance` (an oversized request line has none). */
const MAX_INSTANCE_LENGTH = 2048;

/**
 * The whole HTTP response to a request Node's parser refused (no express request exists):
 * 431 for a request line or headers over the limit, 408 when they came too slowly, else 400.
 */
function clientErrorResponse(
  error: NodeJS.ErrnoException & { reason?: unknown; rawPacket?: unknown },
  headerLimit: number,
): string {
  let status = 400;
  let code: string = ProblemCode.BAD_REQUEST;
  let detail = `malformed HTTP request${typeof error.reason === 'string' && error.reason !== '' ? `: ${error.reason.toLowerCase()}` : ''}`;
  // [status, code] pairs, written so that the docs generator reads each code's status here.
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    [status, code] = [431, ProblemCode.HEADERS_TOO_LARGE];
    detail = `the request line or headers exceed ${headerLimit} bytes`;
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'HPE_HEADERS_TIMEOUT') {
    [status, code] = [408, ProblemCode.REQUEST_TIMEOUT];
    detail = 'the request was not received in time';
  }
  const title = CLIENT_ERROR_TITLES[status]!;
  // The path of the request line, when the parser got that far and it is of a sensible length.
  const line = Buffer.isBuffer(error.rawPacket)
    ? /^[A-Z]+ (\/[^ \r\n]*) HTTP\/1\.[01]\r?\n/.exec(
        error.rawPacket.subarray(0, MAX_INSTANCE_LENGTH + 32).toString('latin1'),
      )
    : null;
  const target = line?.[1];
  const instance =
    target !== undefined && target.length <= MAX_INSTANCE_LENGTH ? problemInstance(target) : undefined;
  const body = JSON.stringify({ ...problemBody(status, code, detail, {}, instance), title });
  return (
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
