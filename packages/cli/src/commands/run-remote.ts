/**
 * `orchestr8 run <file> --server <url>`: runs the document on an orchestr8 server instead of
 * in this process. The document is checked here first (diagnostics with line:col, exit 2),
 * sent as text (so the server's own diagnostics, e.g. unknown agents, have positions too),
 * and followed over the execution's event stream with the same live view as a local run.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createClient, type Execution, type JournalEntry, Orchestr8ClientError } from '@orchestr8/client';
import type { EngineEvent, ExecutionResult } from '@orchestr8/core';
import { type Diagnostic, formatDiagnostic, loadWorkflowFile } from '@orchestr8/schema';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { collectInputs } from '../inputs.js';
import { ProgressView } from '../progress.js';
import { printResult } from '../report.js';
import { defaultApiKey } from '../server-call.js';

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
    const client = createClient({ baseUrl, ...(apiKey ? { apiKey } : {}) });

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
    try {
      result = await follow(client, id, view, abort.signal);
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
      process.stderr.write(`error ${e.code}: ${e.problem?.detail ?? e.message}\n`);
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
 * then falls back to polling.
 */
async function follow(
  client: ReturnType<typeof createClient>,
  id: string,
  view: ProgressView | undefined,
  signal: AbortSignal,
): Promise<Execution> {
  let lastEventId: string | undefined;
  let terminal = false;
  let failures = 0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  while (!terminal && !signal.aborted && failures < 5) {
    try {
      for await (const m of client.events(id, {
        signal,
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
      await sleep(250 * failures);
    }
  }
  for (;;) {
    try {
      const current = await client.getExecution(id);
      if (TERMINAL.has(current.status) || signal.aborted) return current;
    } catch (e) {
      const transient =
        e instanceof Orchestr8ClientError && (e.status === 0 || e.status >= 500 || e.status === 429);
      if (!transient || signal.aborted) throw e;
    }
    await sleep(500);
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
