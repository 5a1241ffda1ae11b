/**
 * `orchestr8 stream validate|run|replay`: event streams processed in time slices by crews
 * (see @orchestr8/streams). `run` reads NDJSON events from a file or stdin and writes
 * NDJSON actions, or runs live on NATS JetStream; `replay` re-processes a recorded stream
 * and compares its actions with the recorded ones.
 */
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { createEngine, type Engine, type Store } from '@orchestr8/core';
import { type Diagnostic, formatDiagnostic, parseDuration } from '@orchestr8/schema';
import {
  type CompiledStream,
  type CrewExecutor,
  createMemoryTransport,
  createNatsTransport,
  createStreamMetrics,
  createStreamProcessor,
  createStreamRouter,
  createStreamService,
  loadStreamFile,
  natsStreamStatus,
  type ProcessorView,
  replayStream,
  runEvents,
  type SliceRecord,
  type StreamAction,
  type StreamErrorRecord,
  type StreamService,
  type StreamStatus,
  type StreamTransport,
} from '@orchestr8/streams';
import { runRecorded } from '@orchestr8/testing';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor, capabilityOptions } from '../capabilities.js';
import { configuredStore, loadProjectConfig } from '../config.js';
import { buildRegistry, collect } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { reportError } from '../fail.js';
import { UsageError } from '../inputs.js';
import { openStore, STORE_OPTION_HELP } from '../open-store.js';
import { callServerAt, RemoteError } from '../server-call.js';

interface EngineFlags extends CapabilityFlags {
  agents: string[];
  store?: string;
}

function out(s: string): void {
  process.stdout.write(s);
}
function err(s: string): void {
  process.stderr.write(s);
}

async function loadOrReport(file: string): Promise<CompiledStream | undefined> {
  const r = await loadStreamFile(file);
  for (const d of r.diagnostics) err(`${formatDiagnostic(d)}\n`);
  return r.stream;
}

/**
 * The crews' engine on the project's store (SQLite by default, like `run`): each slice's
 * crews are durable executions, listed by `orchestr8 list` and the console.
 */
async function engineFor(
  flags: EngineFlags,
): Promise<{ engine: Engine; store: Store; close(): Promise<void> }> {
  const config = await loadProjectConfig();
  const registry = await buildRegistry(flags.agents, config);
  const store = await openStore(configuredStore(flags.store, config));
  const engine = createEngine({ registry, store, capabilities: capabilitiesFor(config, flags) });
  return {
    engine,
    store,
    async close() {
      await engine.close();
      await store.close();
    },
  };
}

/**
 * Crews run against the step outputs recorded when the stream ran: each slice record names
 * the execution of each crew, found in the store; no agent is called.
 */
function recordedCrews(store: Store, slices: readonly SliceRecord[]): CrewExecutor {
  const executions = new Map<string, string>();
  for (const r of slices)
    for (const c of r.crews) if (c.executionId) executions.set(`${r.index}:${c.crew}`, c.executionId);
  return async ({ crew, workflow, slice, inputs }) => {
    const executionId = executions.get(`${slice}:${crew.id}`);
    if (!executionId)
      throw new Orchestr8Error(
        ErrorCode.NOT_FOUND,
        `no recorded execution of crew "${crew.id}" in slice ${slice}: it did not run there when the stream was recorded`,
      );
    return (await runRecorded({ store, executionId, workflow, inputs })).result;
  };
}

/** A crew's `workflow: <id>`: <id>.yaml|.yml|.json next to the stream document, or in ./workflows. */
export function resolverFor(docFile: string) {
  return (id: string): string | undefined => {
    if (!/^[A-Za-z0-9_.-]+$/.test(id) || id.startsWith('.')) return undefined;
    for (const dir of [dirname(resolve(docFile)), resolve('workflows')])
      for (const ext of ['.yaml', '.yml', '.json']) {
        const file = join(dir, `${id}${ext}`);
        if (existsSync(file)) return readFileSync(file, 'utf8');
      }
    return undefined;
  };
}

/** NDJSON lines as values, and the lines that are not JSON (with their line numbers). */
async function readNdjson(file: string): Promise<{ values: unknown[]; bad: string[] }> {
  if (file !== '-' && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const input = file === '-' ? process.stdin : createReadStream(file, 'utf8');
  const values: unknown[] = [];
  const bad: string[] = [];
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    n++;
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch (e) {
      bad.push(`${file === '-' ? 'stdin' : file}:${n}: not JSON: ${(e as Error).message}`);
    }
  }
  return { values, bad };
}

/** Recorded actions or slice records: a line that is not JSON is a usage error. */
async function readRecords<T>(file: string): Promise<T[]> {
  const { values, bad } = await readNdjson(file);
  if (bad.length > 0) throw new UsageError(bad[0]!);
  return values as T[];
}

function errorLine(e: StreamErrorRecord): string {
  const where = [
    e.slice !== undefined ? `slice ${e.slice}` : '',
    e.crew ? `crew ${e.crew}` : '',
    e.eventId ? `event ${e.eventId}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${e.kind}${where ? ` (${where})` : ''}: ${e.error.code} ${e.error.message}\n`;
}

/** A time for --from/--to: ISO-8601 or epoch milliseconds. */
function parseTime(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new UsageError(`${flag} expects an ISO-8601 time or epoch milliseconds, got "${value}"`);
  return ms;
}

async function validateCommand(files: string[], opts: { json?: boolean }): Promise<number> {
  if (files.length === 0) {
    err('error: stream validate needs at least one file\n');
    return ExitCode.usage;
  }
  const results: { file: string; valid: boolean; diagnostics: Diagnostic[] }[] = [];
  for (const file of files) {
    const r = await loadStreamFile(file);
    results.push({ file, valid: r.ok, diagnostics: r.diagnostics });
  }
  if (opts.json) out(`${JSON.stringify(results, null, 2)}\n`);
  else
    for (const r of results) {
      for (const d of r.diagnostics) err(`${formatDiagnostic(d)}\n`);
      if (r.valid) out(`${r.file}: valid\n`);
    }
  if (results.some((r) => r.diagnostics.some((d) => d.code === 'E_READ'))) return ExitCode.usage;
  return results.every((r) => r.valid) ? ExitCode.ok : ExitCode.failed;
}

interface RunOptions extends EngineFlags {
  events?: string;
  nats?: string;
  ackWait?: string;
  heartbeat?: string;
  processorId?: string;
  slicesOut?: string;
}

/** Errors that mean an event was not taken (the others are about crews and slices). */
const REFUSALS = new Set(['invalid-event', 'late-event', 'too-many-events']);

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The store option's help, after a phrase saying what the command records there. */
const storeHelp = (what: string) =>
  `${what}: ${STORE_OPTION_HELP.replace(/^where executions are recorded: /, '')}`;

async function runCommand(file: string, opts: RunOptions): Promise<number> {
  if ((opts.events === undefined) === (opts.nats === undefined))
    throw new UsageError('stream run needs exactly one of --events <file|-> and --nats <url>');
  const stream = await loadOrReport(file);
  if (!stream) return ExitCode.usage;
  const host = await engineFor(opts);
  const { engine } = host;
  const resolveWorkflow = resolverFor(file);
  if (opts.events !== undefined) {
    const { values: events, bad } = await readNdjson(opts.events);
    for (const line of bad) err(`invalid-event (${line})\n`);
    const result = await runEvents({
      stream,
      engine,
      resolveWorkflow,
      events,
      onSlice: (outcome) => {
        for (const a of outcome.actions) out(`${JSON.stringify(a)}\n`);
      },
    });
    for (const e of result.errors) err(errorLine(e));
    if (opts.slicesOut !== undefined)
      writeFileSync(opts.slicesOut, result.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    await host.close();
    const read = events.length + bad.length;
    const refused = bad.length + result.errors.filter((e) => REFUSALS.has(e.kind)).length;
    const crewErrors = result.errors.length + bad.length - refused;
    err(
      `stream ${stream.id}: ${plural(read, 'event')} read, ${read - refused} accepted, ${refused} refused; ${plural(result.records.length, 'slice')}, ${plural(result.actions.length, 'action')}, ${plural(crewErrors, 'crew error')}\n`,
    );
    return ExitCode.ok;
  }
  let ackWaitMs: number | undefined;
  if (opts.ackWait !== undefined) {
    try {
      ackWaitMs = parseDuration(/^\d+$/.test(opts.ackWait) ? Number(opts.ackWait) : opts.ackWait);
    } catch {
      throw new UsageError(`--ack-wait expects a duration like "30s" or milliseconds, got "${opts.ackWait}"`);
    }
  }
  let heartbeatMs: number | undefined;
  if (opts.heartbeat !== undefined) {
    try {
      heartbeatMs = parseDuration(/^\d+$/.test(opts.heartbeat) ? Number(opts.heartbeat) : opts.heartbeat);
    } catch {
      throw new UsageError(
        `--heartbeat expects a duration like "5s" or milliseconds, got "${opts.heartbeat}"`,
      );
    }
  }
  const transport = await createNatsTransport({
    streamId: stream.id,
    servers: opts.nats!,
    ...(ackWaitMs !== undefined ? { ackWaitMs } : {}),
  });
  const processor = createStreamProcessor({
    stream,
    engine,
    transport,
    resolveWorkflow,
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    ...(opts.processorId !== undefined ? { processorId: opts.processorId } : {}),
    onSlice: (outcome) => {
      for (const a of outcome.actions) out(`${JSON.stringify(a)}\n`);
    },
    onError: (e) => err(errorLine(e)),
  });
  await processor.start();
  // One processor holds a stream at a time: say whether this one does, and when that changes.
  const holding = (active: boolean) =>
    active
      ? `stream ${stream.id}: processing events from ${opts.nats} (Ctrl-C to stop)\n`
      : `stream ${stream.id}: standby, another processor holds the stream; this one takes it over when that one stops or its claim runs out (Ctrl-C to stop)\n`;
  let active = processor.status().active;
  err(holding(active));
  const watch = setInterval(() => {
    const now = processor.status().active;
    if (now === active) return;
    active = now;
    err(holding(active));
  }, 500);
  watch.unref();
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  clearInterval(watch);
  await processor.stop();
  await transport.close();
  await host.close();
  const s = processor.status();
  err(
    `stream ${stream.id}: stopped after slice ${s.committedSlice} (${s.eventsIn} events, ${s.actionsOut} actions)\n`,
  );
  return ExitCode.ok;
}

interface ReplayCommandOptions extends EngineFlags {
  events?: string;
  actions?: string;
  slices?: string;
  nats?: string;
  from?: string;
  to?: string;
  json?: boolean;
  recordedOutputs?: boolean;
}

async function replayCommand(file: string, opts: ReplayCommandOptions): Promise<number> {
  const fromFiles = opts.events !== undefined || opts.actions !== undefined;
  if (fromFiles === (opts.nats !== undefined))
    throw new UsageError('stream replay needs --events <file> and --actions <file>, or --nats <url>');
  if (fromFiles && (opts.events === undefined || opts.actions === undefined))
    throw new UsageError('stream replay needs both --events <file> and --actions <file>');
  const from = parseTime(opts.from, '--from');
  const to = parseTime(opts.to, '--to');
  const stream = await loadOrReport(file);
  if (!stream) return ExitCode.usage;
  let events: unknown[];
  let actions: StreamAction[];
  let slices: SliceRecord[] | undefined;
  if (fromFiles) {
    events = (await readNdjson(opts.events!)).values;
    actions = await readRecords<StreamAction>(opts.actions!);
    if (opts.slices !== undefined) slices = await readRecords<SliceRecord>(opts.slices);
  } else {
    const transport: StreamTransport = await createNatsTransport({
      streamId: stream.id,
      servers: opts.nats!,
      consumer: 'replay',
    });
    try {
      [events, actions, slices] = await Promise.all([
        transport.readEvents(),
        transport.readActions(),
        transport.readSlices(),
      ]);
    } finally {
      await transport.close();
    }
  }
  if (opts.recordedOutputs && !slices)
    throw new UsageError(
      '--recorded-outputs needs the slice records (--slices <file>, or --nats): they name each crew execution',
    );
  const host = await engineFor(opts);
  const { engine } = host;
  const report = await replayStream({
    stream,
    engine,
    resolveWorkflow: resolverFor(file),
    ...(opts.recordedOutputs && slices ? { executeCrew: recordedCrews(host.store, slices) } : {}),
    events,
    actions,
    ...(slices ? { slices } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  });
  await host.close();
  if (opts.json)
    out(
      `${JSON.stringify({ ok: report.ok, slicesCompared: report.slicesCompared, actionsCompared: report.actionsCompared, mismatches: report.mismatches, context: report.context }, null, 2)}\n`,
    );
  else {
    for (const m of report.mismatches) out(`slice ${m.slice}: ${m.message}\n`);
    out(
      `${report.ok ? 'replay matches' : 'replay differs'}: ${report.slicesCompared} slices, ${report.actionsCompared} recorded actions, ${report.mismatches.length} mismatches\n`,
    );
  }
  return report.ok ? ExitCode.ok : ExitCode.failed;
}

interface StatusOptions {
  nats?: string;
  server?: string;
  apiKey?: string;
  json?: boolean;
}

async function statusCommand(file: string, opts: StatusOptions): Promise<number> {
  if ((opts.nats === undefined) === (opts.server === undefined))
    throw new UsageError('stream status needs exactly one of --nats <url> and --server <url>');
  const stream = await loadOrReport(file);
  if (!stream) return ExitCode.usage;
  if (opts.server !== undefined) return serverStatus(stream.id, opts);
  const s = await natsStreamStatus({ stream, servers: opts.nats! });
  if (opts.json) {
    out(`${JSON.stringify(s, null, 2)}\n`);
    return s.processors.some((p) => p.stale) ? ExitCode.failed : ExitCode.ok;
  }
  out(
    `stream ${s.stream}: committed slice ${s.committedSlice}, lag ${Math.round(s.lagMs)} ms, backlog ${s.backlog} events\n`,
  );
  out(`log: ${s.events} events, ${s.actions} actions, ${s.errors} errors\n`);
  for (const [id, c] of Object.entries(s.crews))
    out(
      `crew ${id}: ${plural(c.runs, 'run')}, ${c.failures} failed, median ${c.medianMs.toFixed(1)} ms, last ${c.lastMs.toFixed(1)} ms (last ${s.recent} slices)\n`,
    );
  return printProcessors(s.processors);
}

/** A stream hosted by `orchestr8 serve --stream`: its processor's status over HTTP. */
async function serverStatus(id: string, opts: StatusOptions): Promise<number> {
  let s: StreamStatus & { processors: ProcessorView[] };
  try {
    s = (await callServerAt(opts, 'GET', `/streams/${encodeURIComponent(id)}`)) as typeof s;
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e;
    err(`error ${e.code}: ${e.message}\n`);
    return e.status === -1 || e.status === 401 || e.status === 403 ? ExitCode.usage : ExitCode.failed;
  }
  if (opts.json) {
    out(`${JSON.stringify(s, null, 2)}\n`);
    return s.processors.some((p) => p.stale) ? ExitCode.failed : ExitCode.ok;
  }
  out(
    `stream ${s.stream}: committed slice ${s.committedSlice}, lag ${Math.round(s.lagMs)} ms, backlog ${s.backlog} slices\n`,
  );
  out(
    `processed: ${s.eventsIn} events, ${s.actionsOut} actions, ${s.slicesProcessed} slices (${s.slicesMerged} merged, ${s.slicesSkipped} skipped); refused ${s.invalidEvents} invalid, ${s.lateEvents} late\n`,
  );
  for (const [crew, c] of Object.entries(s.crews))
    out(
      `crew ${crew}: ${plural(c.runs, 'run')}, ${c.failures} failed, mean ${(c.runs > 0 ? c.totalMs / c.runs : 0).toFixed(1)} ms, last ${c.lastMs.toFixed(1)} ms\n`,
    );
  return printProcessors(s.processors);
}

/** One line per processor; a stale one fails the command, so a monitoring script can alert on it. */
function printProcessors(processors: readonly ProcessorView[]): number {
  if (processors.length === 0) out('processors: none has written a heartbeat\n');
  for (const p of processors) {
    const state = p.stale
      ? `STALE: no heartbeat for ${formatAge(p.ageMs)} (every ${formatAge(p.intervalMs)} expected)`
      : p.state === 'stopped'
        ? `stopped ${formatAge(p.ageMs)} ago`
        : p.state === 'standby'
          ? `standby (another processor holds the stream), heartbeat ${formatAge(p.ageMs)} ago`
          : `running, heartbeat ${formatAge(p.ageMs)} ago`;
    out(
      `processor ${p.processor} (pid ${p.pid}): ${state}; at slice ${p.committedSlice}, backlog ${p.backlog} slices, lag ${Math.round(p.lagMs)} ms\n`,
    );
  }
  return processors.some((p) => p.stale) ? ExitCode.failed : ExitCode.ok;
}

/**
 * Streams hosted by `orchestr8 serve --stream`: a processor per document on serve's engine
 * (crews as durable executions in its store), on NATS JetStream with `nats`, else in the
 * process's memory; their HTTP routes, and their metrics in serve's registry. A string is
 * a usage error (an invalid document).
 */
export async function hostStreams(options: {
  files: readonly string[];
  engine: Engine;
  nats?: string;
  graceMs?: number;
  registry: Parameters<typeof createStreamMetrics>[0]['registry'];
  bodyLimit: number;
  onError: (line: string) => void;
}): Promise<{ service: StreamService; router: ReturnType<typeof createStreamRouter> } | string> {
  // Every document is checked before any transport opens: a bad one leaves nothing open.
  const documents = new Map<string, { stream: CompiledStream; file: string }>();
  for (const file of options.files) {
    const r = await loadStreamFile(file);
    if (!r.stream) return `--stream ${file}: ${r.diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`;
    // One stream id is one event log and one route.
    const other = documents.get(r.stream.id);
    if (other !== undefined)
      return `--stream ${file}: stream "${r.stream.id}" is given twice (also by ${other.file}); each stream is hosted once`;
    documents.set(r.stream.id, { stream: r.stream, file });
  }
  const hosted = [];
  for (const { stream, file } of documents.values()) {
    const transport = options.nats
      ? await createNatsTransport({ streamId: stream.id, servers: options.nats })
      : createMemoryTransport();
    hosted.push({ stream, transport, resolveWorkflow: resolverFor(file) });
  }
  const service = createStreamService({
    engine: options.engine,
    streams: hosted,
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
    metrics: createStreamMetrics({ registry: options.registry }),
    onError: (e) => options.onError(errorLine(e).trimEnd()),
  });
  await service.start();
  return { service, router: createStreamRouter(service, { bodyLimit: options.bodyLimit }) };
}

function formatAge(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function guarded<A extends unknown[]>(fn: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

export function registerStreamCommand(program: Command): void {
  const stream = program
    .command('stream')
    .description(
      'event streams: time slices processed by crews sharing a context (validate, run, status, replay)',
    );
  stream
    .command('validate')
    .description('check stream documents (schema, crews, dependencies, crew workflows) without running them')
    .argument('[files...]', 'stream documents (.yaml, .yml or .json)')
    .option('--json', 'print [{file, valid, diagnostics}] as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 all valid, 1 any invalid, 2 usage error or unreadable file.')
    .action(guarded(validateCommand));
  const run = stream
    .command('run')
    .description(
      'process a stream: NDJSON events from a file or stdin to NDJSON actions on stdout, or live on NATS JetStream',
    )
    .argument('<file>', 'the stream document')
    .option(
      '--events <file>',
      'NDJSON events, one per line ("-" reads stdin); every slice is processed in order',
    )
    .option('--nats <url>', 'process live from NATS JetStream (events, actions, context in KV) until Ctrl-C')
    .option(
      '--ack-wait <duration>',
      'with --nats: how long an event may stay unacknowledged before NATS delivers it again (default 30s; set when the durable consumer is created)',
    )
    .option(
      '--heartbeat <duration>',
      'with --nats: how often the processor writes its heartbeat (slice position, backlog, lag) for stream status (default 5s; 0: never)',
    )
    .option(
      '--processor-id <id>',
      "with --nats: this processor's name in heartbeats and stream status (default: the host name, so a restarted processor replaces its predecessor's entry; give each processor on one host its own)",
    )
    .option(
      '--slices-out <file>',
      'with --events: also write the slice records (NDJSON), for replay --slices',
    )
    .option('-a, --agents <module>', 'an agent module the crews may use (repeatable)', collect, [])
    .option('--store <url>', storeHelp("where the crews' executions are recorded"))
    .addHelpText(
      'after',
      '\nErrors (invalid events, failed crews) go to stderr, one per line.\nExit codes: 0 processed, 2 invalid document or usage error.',
    )
    .action(guarded(runCommand));
  capabilityOptions(run);
  stream
    .command('status')
    .description(
      'a stream on NATS JetStream or in a running serve: committed slice and lag, backlog, per-crew timings, processors',
    )
    .argument('<file>', 'the stream document')
    .option('--nats <url>', 'the NATS server the stream runs on (this or --server is required)')
    .option(
      '--server <url>',
      'a running `orchestr8 serve --stream` that hosts the stream (this or --nats is required)',
    )
    .option('--api-key <key>', 'with --server (default: $ORCHESTR8_API_KEY)')
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nProcessors: each live processor writes a heartbeat with its slice position; one silent for three\n' +
        'of its intervals is reported STALE.\nExit codes: 0 ok, 1 a processor is stale, 2 usage error.',
    )
    .action(guarded(statusCommand));
  const replay = stream
    .command('replay')
    .description(
      're-process a recorded stream into a fresh context and compare its actions with the recorded ones',
    )
    .argument('<file>', 'the stream document')
    .option('--events <file>', 'the recorded events (NDJSON)')
    .option('--actions <file>', 'the recorded actions (NDJSON)')
    .option(
      '--slices <file>',
      'the recorded slice records (NDJSON), so merged and skipped slices replay the same',
    )
    .option('--nats <url>', 'read the recorded events, actions and slice records from NATS JetStream')
    .option('--from <time>', 'only slices starting at or after this time (ISO-8601 or epoch ms)')
    .option('--to <time>', 'only slices starting before this time (ISO-8601 or epoch ms)')
    .option('--json', 'print the report as JSON')
    .option(
      '--recorded-outputs',
      'run each crew against the step outputs recorded when the stream ran (found in --store through the slice records) instead of calling its agents: exact even with non-deterministic agents',
    )
    .option('-a, --agents <module>', 'an agent module the crews may use (repeatable)', collect, [])
    .option('--store <url>', storeHelp("where the crews' executions are (and the replay's are recorded)"))
    .addHelpText(
      'after',
      '\nExit codes: 0 the actions match, 1 they differ, 2 invalid document or usage error.',
    )
    .action(guarded(replayCommand));
  capabilityOptions(replay);
}
