import { createEngine, type Store } from '@orchestr8/core';
import { parseDuration } from '@orchestr8/schema';
import { POSTGRES_SCHEMA_VERSION, type PostgresStore } from '@orchestr8/store-postgres';
import { SQLITE_SCHEMA_VERSION, type SqliteStore } from '@orchestr8/store-sqlite';
import { createDistributedEngine, listWorkers } from '@orchestr8/worker';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor } from '../capabilities.js';
import { configuredStore, loadProjectConfig, streamGraceMs } from '../config.js';
import { buildRegistry, collect } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { moderateHeapGrowth } from '../heap-growth.js';
import {
  engineLogging,
  LOG_FORMAT_OPTION,
  type LogOptions,
  logLevelOption,
  openLogger,
  serverLogger,
} from '../logger.js';
import { openStore } from '../open-store.js';
import { setupTelemetry, type Telemetry } from '../telemetry.js';
import { parseExposure } from './mcp.js';

interface ServeOptions extends LogOptions, CapabilityFlags {
  host: string;
  port: string;
  store?: string;
  agents: string[];
  apiKeys?: string;
  corsOrigin: string[];
  allowedHosts?: string;
  grace: string;
  rateLimit: string;
  bodyLimit: string;
  idempotencyTtl: string;
  worker?: boolean;
  workerConcurrency: string;
  triggerTolerance: string;
  triggerLease: string;
  /** Where to write the server's state once listening (`orchestr8 server start` sets it). */
  stateFile?: string;
  mcpExpose?: string;
  ask?: boolean;
  /** Open the console in the default browser once listening. */
  open?: boolean;
  stream: string[];
  streamNats?: string;
  streamGrace?: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API: execute, inspect, cancel and stream workflow executions')
    .option('--host <host>', 'address to bind; anything but loopback requires API keys', '127.0.0.1')
    .option('-p, --port <port>', 'port; 0 picks a free one (the URL is printed)', '8088')
    .option(
      '--store <url>',
      'where executions are recorded: sqlite:<path>, postgres://user@host/db or memory (default: $ORCHESTR8_STORE, the config store, or sqlite:./.orchestr8/orchestr8.db)',
    )
    .option(
      '--worker',
      'with a postgres:// store: also run steps in this process (else `orchestr8 worker` processes do)',
    )
    .option('--worker-concurrency <n>', 'with --worker: steps this process runs at once', '8')
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option('--api-keys <keys>', 'comma-separated API keys (default: $ORCHESTR8_API_KEYS)')
    .option(
      '--cors-origin <origin>',
      'let browsers call the API from this origin ("*" for any); repeatable',
      collect,
      [],
    )
    .option(
      '--allowed-hosts <hosts>',
      'comma-separated Host names to answer besides localhost and IP addresses: name, .domain, *.domain, or "*" for any (default: $ORCHESTR8_ALLOWED_HOSTS)',
    )
    .option('--grace <duration>', 'on SIGTERM, how long running steps get to finish (e.g. 5s)', '5s')
    .option(
      '--rate-limit <n>',
      'requests per minute per client, sustained, bursts of a sixth of it; loopback clients are not limited (0 = no limit)',
      '6000',
    )
    .option('--body-limit <bytes>', 'largest request body, e.g. 1mb', '1mb')
    .option('--idempotency-ttl <duration>', 'how long an Idempotency-Key is remembered (e.g. 24h)', '24h')
    .option(
      '--trigger-tolerance <duration>',
      'how late a schedule occurrence may start before it counts as missed (its catchUp policy decides)',
      '10s',
    )
    .option(
      '--trigger-lease <duration>',
      'the scheduler lease: of several serve on one store one fires schedules; another takes over this long after it dies',
      '15s',
    )
    .option(
      '--mcp-expose <ids>',
      'registered workflows that MCP clients of POST /mcp get a tool for: comma-separated ids, or "*" for all (default: "*" on a loopback --host, else none)',
    )
    .option(
      '--ask',
      "serve POST /ask: plans a workflow from a sentence with this host's LLM provider ($ORCHESTR8_LLM_PROVIDER, its key) and agents",
    )
    .option(
      '--stream <file>',
      'process this stream document in serve (crews on its engine and store; POST /streams/:id/events, GET /streams/:id/actions); repeatable',
      collect,
      [],
    )
    .option(
      '--stream-nats <url>',
      "with --stream: the streams' events, actions and context on NATS JetStream (else in this process's memory)",
    )
    .option(
      '--stream-grace <duration>',
      "with --stream: how long after a slice ends its late events are still taken (network delay of producers; at most 24 days; default: the config's streams.grace, else 0ms)",
    )
    .option(...logLevelOption('info'))
    .option(...LOG_FORMAT_OPTION)
    .option('--open', 'once listening, open the console (served at /) in the default browser')
    .option(
      '--state-file <file>',
      'once listening, write pid, URL and store to this JSON file (removed on exit); `orchestr8 server start` uses .orchestr8/server.json',
    )
    .addHelpText(
      'after',
      '\nOn SIGTERM or SIGINT the server stops accepting requests, running steps get the grace period, and executions ' +
        'still running are left to resume on the next start. On start, executions left running are resumed.\n' +
        'Logs (requests, execution lifecycle) go to stderr. GET /metrics serves Prometheus metrics; traces are\n' +
        'exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or another standard OTEL_* variable) is set.\n' +
        'Exit codes: 0 stopped cleanly, 1 failed to start, 2 usage (e.g. a non-loopback --host without API keys).',
    )
    .action(async (opts: ServeOptions) => {
      try {
        moderateHeapGrowth();
      } catch (e) {
        process.exitCode = failUsage((e as Error).message);
        return;
      }
      process.exitCode = await serveCommand(opts);
    });
}

function parseNumber(name: string, value: string, min: number, max: number): number | string {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    return `${name} must be an integer from ${min} to ${max}, got "${value}"`;
  return n;
}

async function serveCommand(opts: ServeOptions): Promise<number> {
  // Loaded here, not at the top: every other command starts ~200 ms faster without it.
  const { createServer, isLoopbackHost, parseAllowedHosts, parseApiKeys } = await import('@orchestr8/server');
  const { createMetrics } = await import('@orchestr8/observability/metrics');
  const logger = openLogger(opts, 'info');
  if ('usage' in logger) return failUsage(logger.usage);
  const port = parseNumber('--port', opts.port, 0, 65535);
  if (typeof port === 'string') return failUsage(port);
  const rateLimit = parseNumber('--rate-limit', opts.rateLimit, 0, 1_000_000_000);
  if (typeof rateLimit === 'string') return failUsage(rateLimit);
  let graceMs: number;
  let idempotencyTtlMs: number;
  let allowedHosts: string[];
  let streamGrace: number | undefined;
  try {
    graceMs = parseDuration(/^\d+$/.test(opts.grace) ? Number(opts.grace) : opts.grace);
    idempotencyTtlMs = parseDuration(opts.idempotencyTtl);
    if (opts.streamGrace !== undefined) streamGrace = streamGraceMs('--stream-grace', opts.streamGrace);
    allowedHosts = parseAllowedHosts(opts.allowedHosts ?? process.env.ORCHESTR8_ALLOWED_HOSTS);
  } catch (e) {
    return failUsage((e as Error).message);
  }
  const apiKeys = parseApiKeys(opts.apiKeys ?? process.env.ORCHESTR8_API_KEYS);
  if (!isLoopbackHost(opts.host) && apiKeys.length === 0) {
    return failUsage(
      `refusing to serve on ${opts.host} without API keys: anyone who can reach it could run workflows. ` +
        'Set ORCHESTR8_API_KEYS (or --api-keys), or bind 127.0.0.1',
    );
  }

  let store: Store | undefined;
  let telemetry: Telemetry | undefined;
  try {
    telemetry = await setupTelemetry(logger);
    const config = await loadProjectConfig();
    const registry = await buildRegistry(opts.agents, config);
    const capabilities = capabilitiesFor(config, opts);
    const spec = configuredStore(opts.store, config);
    store = await openStore(spec);
    const opened = store;
    const metrics = createMetrics({ defaultMetrics: true });
    const logging = engineLogging(logger, registry);
    const observers = [metrics.observer, ...(logging.observers ?? [])];
    // On PostgreSQL the API instance starts executions and workers run their steps.
    const pg = store.kind === 'postgres' ? (store as PostgresStore) : undefined;
    const workerConcurrency = Number(opts.workerConcurrency);
    if (opts.worker && (!Number.isInteger(workerConcurrency) || workerConcurrency < 1)) {
      return failUsage(`--worker-concurrency must be a positive integer, got "${opts.workerConcurrency}"`);
    }
    const engine = pg
      ? await createDistributedEngine({
          ...logging,
          store: pg,
          observers,
          capabilities,
          worker: opts.worker ? { concurrency: workerConcurrency } : false,
        })
      : createEngine({ ...logging, store, observers, capabilities });
    metrics.collect(engine);
    const resumed = await engine.resumeAll();
    if (resumed.length > 0)
      logger.info({ resumed: resumed.length }, `resumed ${resumed.length} execution(s) left running`);
    // Triggers: schedules, webhooks and events of the registered workflows (@orchestr8/triggers).
    const triggers = await import('@orchestr8/triggers');
    const { envReadable, resolveCapabilities } = await import('@orchestr8/core');
    const grants = resolveCapabilities(capabilities);
    // Trigger state beside the executions: SQLite tables in the same file, PostgreSQL tables in
    // the same schema (leader lease shared by every serve on the database), else in memory.
    const triggerStore =
      opened.kind === 'sqlite'
        ? triggers.openSqliteTriggerStore((opened as SqliteStore).path)
        : pg
          ? await triggers.createPostgresTriggerStore(pg)
          : triggers.createMemoryTriggerStore();
    const leaseTtlMs = parseDuration(opts.triggerLease);
    const scheduler = triggers.createScheduler({
      engine,
      store: triggerStore,
      toleranceMs: parseDuration(opts.triggerTolerance),
      leaseTtlMs,
      allowEnv: (name) => envReadable(grants, name),
      logger: {
        info: (data, message) => logger.info(data, message),
        warn: (data, message) => logger.warn(data, message),
      },
    });
    // MCP (streamable HTTP at /mcp), behind the same Host/Origin checks, API keys and rate limit.
    const mcp = await import('@orchestr8/mcp');
    const mcpService = mcp.createMcpService({
      engine,
      store,
      expose: parseExposure(opts.mcpExpose) ?? (isLoopbackHost(opts.host) ? '*' : []),
    });
    // Streams (@orchestr8/streams): processors of --stream documents, their routes behind the same guard and keys.
    // Each --stream* flag beats the config's streams.files, .nats, .grace.
    const { parseByteSize } = await import('@orchestr8/server');
    const streamFiles = opts.stream.length > 0 ? opts.stream : config.streams.files;
    const streamNats = opts.streamNats ?? config.streams.nats;
    const streams =
      streamFiles.length > 0
        ? await (await import('./stream-host.js')).hostStreams({
            files: streamFiles,
            engine,
            ...(streamNats ? { nats: streamNats } : {}),
            graceMs: streamGrace ?? config.streams.graceMs ?? 0,
            registry: metrics.registry,
            bodyLimit: parseByteSize(opts.bodyLimit),
            onError: (line) => logger.warn({ stream: true }, line),
          })
        : undefined;
    if (typeof streams === 'string')
      return failUsage(
        opts.stream.length > 0 ? streams : streams.replace(/^--stream /, 'config streams.files: '),
      );
    const server = createServer({
      routers: [
        // The console: its page at / (public: no data in it), its data route behind auth.
        ...(await import('@orchestr8/console')).createConsoleRouters({ store: opened }),
        ...triggers.createTriggerRouter({ scheduler, apiKeys }),
        ...(streams ? [streams.router] : []),
        { handler: mcp.createMcpHttpHandler(mcpService, { bodyLimit: opts.bodyLimit }) },
        ...(opts.ask
          ? [
              {
                handler: mcp.createAskHandler({
                  engine,
                  agents: () => registry.list(),
                  complete: (await import('./ask.js')).llmPlanner(grants),
                }),
              },
            ]
          : []),
      ],
      // POST /events is the server's: it wakes waiting executions, then starts event triggers.
      onEvent: triggers.triggerEventHook(scheduler),
      // A document's policies.flow limits its POST /workflows/execute starts.
      executeGate: triggers.createExecuteGate(),
      engine,
      registry,
      store,
      apiKeys,
      rateLimit: rateLimit === 0 ? false : { limit: rateLimit },
      bodyLimit: opts.bodyLimit,
      idempotencyTtlMs,
      logger: { ...serverLogger(logger), infoEnabled: () => logger.isLevelEnabled('info') },
      metrics,
      ...(pg ? { workers: () => listWorkers(pg) } : {}),
      ...(opts.corsOrigin.length > 0 ? { cors: { origins: opts.corsOrigin } } : {}),
      allowedHosts,
      ready: async () => {
        if (opened.kind === 'postgres') {
          const v = await (opened as PostgresStore).schemaVersion();
          if (v !== POSTGRES_SCHEMA_VERSION)
            throw new Error(`store schema version ${v}, expected ${POSTGRES_SCHEMA_VERSION}`);
          return;
        }
        if (opened.kind !== 'sqlite') {
          await opened.listExecutions({ limit: 1 });
          return;
        }
        const version = await (opened as SqliteStore).schemaVersion();
        if (version !== SQLITE_SCHEMA_VERSION)
          throw new Error(`store schema version ${version}, expected ${SQLITE_SCHEMA_VERSION}`);
      },
    });
    const listener = await server.listen(port, opts.host);
    await scheduler.start();
    process.stdout.write(`orchestr8 listening on ${listener.url} (store ${spec})\n`);
    if (opts.open) {
      const { consoleUrl, openConsole } = await import('./console.js');
      await openConsole(consoleUrl(listener.url));
    }
    // Started by `orchestr8 server start`: say where this server is (local-server.ts).
    const stateFile = opts.stateFile;
    if (stateFile) {
      const local = await import('../local-server.js');
      const { port: listening } = new URL(listener.url);
      local.writeServerState(stateFile, {
        pid: process.pid,
        url: listener.url,
        host: opts.host,
        port: Number(listening),
        store: local.absoluteStore(spec),
        startedAt: new Date().toISOString(),
        version: local.cliVersion(),
        agents: registry.list().map((a) => a.id),
        apiKeys: apiKeys.length > 0,
        graceMs,
        argv: process.argv.slice(2),
      });
      process.once('exit', () => local.removeServerState(stateFile, process.pid));
    }

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    logger.info({ signal, graceMs }, `${signal}: shutting down (grace ${graceMs} ms)`);
    // A second signal does not wait for the grace period.
    const force = () => process.exit(ExitCode.failed);
    process.once('SIGTERM', force);
    process.once('SIGINT', force);
    await scheduler.stop();
    await streams?.service.stop();
    await Promise.all([listener.close({ graceMs }), engine.shutdown({ graceMs })]);
    await triggerStore.close();
    await store.close();
    store = undefined;
    await telemetry.shutdown();
    logger.info('stopped');
    return ExitCode.ok;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(`error: cannot listen on ${opts.host}:${opts.port}: ${(e as Error).message}\n`);
      return ExitCode.failed;
    }
    return reportError(e);
  } finally {
    await store?.close().catch(() => {});
    await telemetry?.shutdown();
  }
}
