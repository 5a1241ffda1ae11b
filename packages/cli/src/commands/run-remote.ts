/**
 * `orchestr8 run <file> --server <url>`: runs the document on an orchestr8 server instead of
 * in this process. The document is checked here first (diagnostics with line:col, exit 2),
 * sent as text (so the server's own diagnostics, e.g. unknown agents, have positions too),
 * and followed over the execution's event stream with the same live view as a local run.
 */
import { readFile, writeFile } from 'node:fs/promises';
import {
  createClient,
  type Execution,
  type JournalEntry,
  networkReason,
  Orchestr8ClientError,
} from '@orchestr8/client';
import type { EngineEvent, ExecutionResult } from '@orchestr8/core';
import { type Diagnostic, formatDiagnostic, loadWorkflowFile } from '@orchestr8/schema';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { collectInputs } from '../inputs.js';
import { ProgressView } from '../progress.js';
import { printResult } from '../report.js';
import { defaultApiKey, httpTimeoutFromEnv, notRunningHint, secondsFromEnv } from '../server-call.js';

export interface RunRemoteOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8088. */
  server: string;
  input?: string[];
  inputs?: string;
  concurrency?: string;
  json?: boolean;
  journal?: string;
  quiet?: boolean;
  verbose?: boolean;
  /** Default: $ORCHESTR8_API_KEY, else the first of $ORCHESTR8_API_KEYS. */
  apiKey?: string;
  /** Sent as Idempotency-Key: re-running with the same key follows the same execution. */
  idempotencyKey?: string;
  /** Local-only options of `run`: with --server the server's agents and store are used (a warning says so). */
  agents?: string[];
  store?: string;
  /** Told the execution's id once the server has started it (`run --open` opens its console page). */
  onStarted?: (executionId: string) => Promise<void>;
  /**
   * How long to keep trying a server that stopped answering while the execution is followed,
   * in ms. Default: $ORCHESTR8_RECONNECT_TIMEOUT (seconds), else 60 s.
   */
  reconnectTimeoutMs?: number;
  /** How long the event stream may stay silent, in ms (default 45 s: three of the server's keep-alives). */
  idleTimeoutMs?: number;
}

/** How long `run` keeps trying a server it lost before it gives up (overridden by $ORCHESTR8_RECONNECT_TIMEOUT). */
export const DEFAULT_RECONNECT_TIMEOUT_MS = 60_000;
const MAX_BACKOFF_MS = 5_000;

/** $ORCHESTR8_RECONNECT_TIMEOUT in ms, else 60 s; a string saying what is wrong with it. */
const reconnectTimeoutFromEnv = () =>
  secondsFromEnv('ORCHESTR8_RECONNECT_TIMEOUT', DEFAULT_RECONNECT_TIMEOUT_MS);

/** The server stayed unreachable for the whole reconnect timeout. */
class ServerLost extends Error {}

/**
 * An outage of the server while an execution is followed: said once on stderr when it begins
 * (and once when the server answers again); after `boundMs` without an answer, ServerLost.
 */
class Outage {
  private since: number | undefined;
  private tries = 0;

  constructor(
    private readonly url: string,
    private readonly boundMs: number,
    private readonly say: (text: string) => void,
  ) {}

  /** The server answered. */
  answered(): void {
    if (this.since !== undefined) this.say(`the server at ${this.url} answers again; following on\n`);
    this.since = undefined;
    this.tries = 0;
  }

  /** A call did not reach the server: how long to wait before the next one (growing, up to 5 s). */
  failed(e: unknown): number {
    const now = Date.now();
    // A time limit's message names the server, which the sentences below already do.
    const reason =
      e instanceof Orchestr8ClientError && e.code === 'TIMEOUT'
        ? e.message.replace(` from ${this.url}`, '')
        : networkReason(e);
    if (this.since === undefined) {
      this.since = now;
      this.say(
        `cannot reach the server at ${this.url} (${reason}); retrying for up to ${seconds(this.boundMs)}\n`,
      );
    } else if (now - this.since >= this.boundMs) {
      throw new ServerLost(
        `no answer from the server at ${this.url} for ${seconds(this.boundMs)} (${reason})`,
      );
    }
    this.tries++;
    const left = this.since + this.boundMs - now;
    return Math.max(0, Math.min(250 * 2 ** (this.tries - 1), MAX_BACKOFF_MS, left));
  }
}

const seconds = (ms: number) => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;

/** A server that could not be reached or could not answer now: worth trying again. */
function transient(e: unknown): boolean {
  return e instanceof Orchestr8ClientError && (e.status === 0 || e.status >= 500 || e.status === 429);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const TERMINAL_EVENTS = new Set(['execution.completed', 'execution.failed', 'execution.cancelled']);

/** Runs `file` on the server at `opts.server`; resolves to the process exit code (as `orchestr8 run`). */
export async function runRemote(file: string, opts: RunRemoteOptions): Promise<number> {
  let concurrency: number | undefined;
  if (opts.concurrency !== undefined) {
    concurrency = Number(opts.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return failUsage(`--concurrency must be a positive integer, got "${opts.concurrency}"`);
    }
  }
  const reconnectTimeoutMs = opts.reconnectTimeoutMs ?? reconnectTimeoutFromEnv();
  if (typeof reconnectTimeoutMs === 'string') return failUsage(reconnectTimeoutMs);
  const timeoutMs = httpTimeoutFromEnv();
  if (typeof timeoutMs === 'string') return failUsage(timeoutMs);
  let baseUrl: string;
  try {
    const u = new URL(opts.server);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    baseUrl = u.href.replace(/\/+$/, '');
  } catch {
    return failUsage(`--server must be an http(s) URL, got "${opts.server}"`);
  }
  const ignored = [opts.agents?.length ? '--agents' : '', opts.store !== undefined ? '--store' : ''].filter(
    Boolean,
  );
  if (ignored.length > 0) {
    process.stderr.write(
      `warning: ${ignored.join(' and ')} ignored with --server: the server's agents and store are used\n`,
    );
  }
  try {
    // Agents live on the server: check everything else here, with positions.
    const loaded = await loadWorkflowFile(file);
    if (!loaded.ok || !loaded.workflow) return printDiagnostics(file, loaded.diagnostics);
    const workflow = loaded.workflow;
    const text = await readFile(file, 'utf8');
    const inputs = await collectInputs(opts.inputs, opts.input ?? []);
    const apiKey = opts.apiKey || defaultApiKey();
    // A server that stops answering (hung, or the network dropped the connection silently) fails
    // a call after $ORCHESTR8_HTTP_TIMEOUT and a stream after three missed keep-alives.
    const client = createClient({ baseUrl, timeoutMs, ...(apiKey ? { apiKey } : {}) });

    let started: Awaited<ReturnType<typeof client.execute>>;
    try {
      started = await client.execute(
        {
          workflow: text,
          inputs,
          ...(concurrency !== undefined ? { options: { maxConcurrentSteps: concurrency } } : {}),
        },
        opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {},
      );
    } catch (e) {
      if (e instanceof Orchestr8ClientError && e.problem?.errors && e.status === 422) {
        return printDiagnostics(file, e.problem.errors);
      }
      throw e;
    }
    const id = started.execution.executionId;
    await opts.onStarted?.(id);
    if (!opts.json) {
      process.stderr.write(
        `execution ${id} · ${workflow.id}@${started.execution.workflowVersion} · server ${baseUrl}${started.replayed ? ' (idempotent replay)' : ''}\n`,
      );
    }

    const live = !opts.json && !opts.quiet;
    const view = live ? new ProgressView(workflow, process.stderr, opts.verbose) : undefined;
    view?.start();
    const abort = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts === 1) {
        process.stderr.write('\ncancelling (Ctrl-C again to stop following)…\n');
        client.cancel(id, { reason: 'interrupted (Ctrl-C)' }).catch(() => {});
      } else abort.abort();
    };
    process.on('SIGINT', onSigint);
    let result: Execution;
    const say = (text: string) => (view ? view.print(text) : process.stderr.write(text));
    try {
      result = await follow(
        client,
        id,
        view,
        abort.signal,
        new Outage(baseUrl, reconnectTimeoutMs, say),
        opts.idleTimeoutMs,
      );
    } catch (e) {
      if (!(e instanceof ServerLost)) throw e;
      view?.stop();
      process.stderr.write(
        `error: ${e.message}; stopped following execution ${id}\n` +
          `  it may still be running there: once the server is back, see it with \`orchestr8 console ${id} --url ${baseUrl}\`, ` +
          `\`orchestr8 list --server ${baseUrl}\` or GET ${baseUrl}/executions/${id}\n`,
      );
      return ExitCode.failed;
    } finally {
      process.off('SIGINT', onSigint);
      view?.stop();
    }
    if (interrupts > 1 && !TERMINAL.has(result.status)) {
      process.stderr.write(`stopped following execution ${id} (${result.status} on the server)\n`);
      return ExitCode.interrupted;
    }
    if (opts.journal) await writeFile(opts.journal, await exportRemoteJournal(client, id, opts.journal));
    const asResult = result as unknown as ExecutionResult;
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else printResult(asResult, workflow, process.stdout, { quiet: Boolean(opts.quiet) });
    if (result.status === 'completed') return ExitCode.ok;
    if (result.status === 'cancelled' && interrupts > 0) return ExitCode.interrupted;
    return ExitCode.failed;
  } catch (e) {
    if (e instanceof Orchestr8ClientError) {
      process.stderr.write(`error ${e.code}: ${e.problem?.detail ?? e.message}${notRunningHint(e)}\n`);
      return e.status === 400 || e.status === 401 || e.status === 413 || e.status === 415 || e.status === 422
        ? ExitCode.usage
        : ExitCode.failed;
    }
    return reportError(e);
  }
}

function printDiagnostics(file: string, diagnostics: readonly Diagnostic[]): number {
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic({ ...d, file: d.file ?? file })}\n`);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  process.stderr.write(`${file}: ${errors} error${errors === 1 ? '' : 's'}; nothing was run\n`);
  return ExitCode.usage;
}

/**
 * Follows the event stream until the terminal event, then reads the final state. When the
 * stream breaks (server restart, network), it reconnects with Last-Event-ID a few times,
 * then falls back to polling. While the server cannot be reached, `outage` says so once and
 * spaces the tries out, and gives up (ServerLost) after its bound.
 */
async function follow(
  client: ReturnType<typeof createClient>,
  id: string,
  view: ProgressView | undefined,
  signal: AbortSignal,
  outage: Outage,
  idleTimeoutMs: number | undefined,
): Promise<Execution> {
  let lastEventId: string | undefined;
  let terminal = false;
  let failures = 0;
  /** Until the server answers GET /executions/:id again (the stream cannot tell it connected). */
  const reachAgain = async (cause: unknown): Promise<void> => {
    let last = cause;
    while (!signal.aborted) {
      await sleep(outage.failed(last), signal);
      try {
        await client.getExecution(id, { signal });
        outage.answered();
        return;
      } catch (e) {
        if (signal.aborted) return;
        if (!transient(e)) throw e;
        last = e;
      }
    }
  };
  while (!terminal && !signal.aborted && failures < 5) {
    try {
      for await (const m of client.events(id, {
        signal,
        ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
        ...(lastEventId !== undefined ? { lastEventId } : {}),
      })) {
        lastEventId = m.id;
        view?.onEvent(m.data as unknown as EngineEvent);
        if (TERMINAL_EVENTS.has(m.event)) terminal = true;
      }
      if (!terminal) failures++; // the server ended the stream early (shutting down): reconnect
    } catch (e) {
      if (signal.aborted) break;
      if (e instanceof Orchestr8ClientError && e.status >= 400 && e.status < 500 && e.status !== 429) throw e;
      failures++;
      // Not reached at all: wait for it to answer; a stream that broke off is reconnected.
      if (transient(e)) await reachAgain(e);
      else await sleep(250 * failures, signal);
    }
  }
  for (;;) {
    try {
      const current = await client.getExecution(id);
      outage.answered();
      if (TERMINAL.has(current.status) || signal.aborted) return current;
      await sleep(500, signal);
    } catch (e) {
      if (!transient(e) || signal.aborted) throw e;
      await sleep(outage.failed(e), signal);
    }
  }
}

async function exportRemoteJournal(
  client: ReturnType<typeof createClient>,
  id: string,
  fileOrFormat: string,
): Promise<string> {
  const entries: JournalEntry[] = [];
  let cursor: number | undefined;
  do {
    const page = await client.journal(id, { limit: 1000, ...(cursor !== undefined ? { cursor } : {}) });
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  if (fileOrFormat === 'ndjson' || fileOrFormat.endsWith('.ndjson') || fileOrFormat.endsWith('.jsonl')) {
    return entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : '');
  }
  return `${JSON.stringify(entries, null, 2)}\n`;
}
