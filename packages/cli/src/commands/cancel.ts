import { ErrorCode, Orchestr8Error, serializeError } from '@orchestr8/common';
import type { ExecutionStatus, Store } from '@orchestr8/core';
import type { Command } from 'commander';
import { projectStoreFlag } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { styleFor } from '../term.js';
import {
  isTerminal,
  openHistoryStore,
  parseAge,
  printJson,
  requireExecution,
  sleep,
  statusColor,
} from './history-shared.js';

interface CancelOptions {
  reason?: string;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
  store?: string;
  local?: boolean;
  server?: string;
}

const WAIT_POLL_MS = 200;
/** With --wait and nothing happening, when to explain who is expected to act. */
const HINT_AFTER_MS = 10_000;
const DEFAULT_REASON = 'cancelled with orchestr8 cancel';

export function registerCancelCommand(program: Command): void {
  program
    .command('cancel')
    .description('ask for an execution to be cancelled, whichever process is running it')
    .argument('<id>', 'execution id')
    .option('-r, --reason <text>', 'why (recorded as the status reason)', DEFAULT_REASON)
    .option('-w, --wait', 'wait until the execution has stopped')
    .option('--timeout <duration>', 'with --wait: give up after this long (e.g. 30s, 5m); exit 1')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--json', 'print the outcome as JSON')
    .option('--server <url>', 'ask this orchestr8 server (orchestr8 serve), which stops it at once')
    .option(
      '--local',
      "record the request in the store from this process even when the project's local server runs",
    )
    .addHelpText(
      'after',
      '\nThe request is recorded in the store; the process running the execution stops it within about a\n' +
        'second, gracefully. An execution no process is running is cancelled by the next `orchestr8 resume`.\n' +
        'Exit codes: 0 requested (or already finished; with --wait, once stopped), 1 not found or --timeout.',
    )
    .action(async (id: string, opts: CancelOptions) => {
      process.exitCode = await cancelCommand(id, opts);
    });
}

async function cancelCommand(id: string, opts: CancelOptions): Promise<number> {
  let timeoutMs: number | undefined;
  if (opts.timeout !== undefined) {
    timeoutMs = parseAge(opts.timeout);
    if (timeoutMs === undefined)
      return failUsage(`--timeout expects a duration like 30s or 5m, got "${opts.timeout}"`);
    if (!opts.wait) return failUsage('--timeout only applies with --wait');
  }
  if (opts.server !== undefined && opts.local) return failUsage('--server and --local exclude each other');
  let store: Store | undefined;
  try {
    const { detectLocalServer } = await import('../local-server.js');
    const server = await detectLocalServer({
      ...opts,
      localFlags: opts.store !== undefined ? ['--store'] : [],
      what: 'recording the request in the store',
    });
    if (server) return await cancelOnServer(server.url, id, opts, timeoutMs);
    const opened = await openHistoryStore(await projectStoreFlag(opts.store));
    store = opened.store;
    const reason = opts.reason?.trim() || DEFAULT_REASON;
    const outcome = store ? await store.requestCancel(id, reason, Date.now()) : 'not_found';
    if (outcome === 'not_found')
      throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${id}" in store ${opened.spec}`);
    const s = styleFor(process.stdout);
    let status = (await requireExecution(store, id, opened.spec)).status;
    if (outcome === 'finished') {
      if (opts.json) printJson({ executionId: id, outcome, status });
      else
        process.stdout.write(
          `execution ${id} ${statusColor(s, status)(`already ${status}`)}; nothing to cancel\n`,
        );
      return ExitCode.ok;
    }
    if (!opts.json) {
      // The store cannot tell whether a live process holds the execution: say both outcomes.
      process.stdout.write(
        `cancellation requested for execution ${id} (recorded in the store)\n` +
          '  if a process is running it, that process stops it within about a second;\n' +
          `  if none is (it was stopped or crashed), it is cancelled when resumed: orchestr8 resume ${id}\n`,
      );
    }
    if (!opts.wait) {
      if (opts.json) printJson({ executionId: id, outcome, status });
      return ExitCode.ok;
    }
    const started = Date.now();
    let hinted = false;
    while (!isTerminal(status)) {
      const waited = Date.now() - started;
      if (timeoutMs !== undefined && waited >= timeoutMs) {
        const message = `execution ${id} is still ${status} after ${opts.timeout}; the request stays recorded`;
        if (opts.json) printJson({ executionId: id, outcome, status, stopped: false });
        process.stderr.write(`error: ${message}\n`);
        return ExitCode.failed;
      }
      if (!hinted && waited >= HINT_AFTER_MS && !opts.json) {
        hinted = true;
        process.stderr.write(
          `still ${status}… if no process is running it, \`orchestr8 resume ${id}\` will cancel it\n`,
        );
      }
      await sleep(WAIT_POLL_MS);
      status = (await requireExecution(store, id, opened.spec)).status;
    }
    if (opts.json) printJson({ executionId: id, outcome, status, stopped: true });
    else process.stdout.write(`${describeEnd(id, status, s)}\n`);
    return ExitCode.ok;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await store?.close().catch(() => {});
  }
}

/** `POST /executions/:id/cancel` on a server: the process running it is told at once. */
async function cancelOnServer(
  url: string,
  id: string,
  opts: CancelOptions,
  timeoutMs: number | undefined,
): Promise<number> {
  const { callServer, RemoteError } = await import('../server-call.js');
  const { defaultApiKey } = await import('../local-server.js');
  const key = defaultApiKey();
  const path = `/executions/${encodeURIComponent(id)}`;
  const s = styleFor(process.stdout);
  let status: ExecutionStatus;
  let outcome: 'requested' | 'finished' = 'requested';
  try {
    status = (
      (await callServer(url, key, 'POST', `${path}/cancel`, {
        reason: opts.reason?.trim() || DEFAULT_REASON,
      })) as {
        status: ExecutionStatus;
      }
    ).status;
  } catch (e) {
    if (e instanceof RemoteError && e.status === 404)
      throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${id}" on ${url}`);
    if (!(e instanceof RemoteError) || e.code !== 'EXECUTION_FINISHED') throw e;
    outcome = 'finished';
    status = ((await callServer(url, key, 'GET', path)) as { status: ExecutionStatus }).status;
  }
  if (outcome === 'finished') {
    if (opts.json) printJson({ executionId: id, outcome, status });
    else
      process.stdout.write(
        `execution ${id} ${statusColor(s, status)(`already ${status}`)}; nothing to cancel\n`,
      );
    return ExitCode.ok;
  }
  if (!opts.json)
    process.stdout.write(`cancellation requested for execution ${id} (on the server at ${url})\n`);
  if (!opts.wait) {
    if (opts.json) printJson({ executionId: id, outcome, status });
    return ExitCode.ok;
  }
  const started = Date.now();
  while (!isTerminal(status)) {
    if (timeoutMs !== undefined && Date.now() - started >= timeoutMs) {
      if (opts.json) printJson({ executionId: id, outcome, status, stopped: false });
      process.stderr.write(`error: execution ${id} is still ${status} after ${opts.timeout}\n`);
      return ExitCode.failed;
    }
    await sleep(WAIT_POLL_MS);
    status = ((await callServer(url, key, 'GET', path)) as { status: ExecutionStatus }).status;
  }
  if (opts.json) printJson({ executionId: id, outcome, status, stopped: true });
  else process.stdout.write(`${describeEnd(id, status, s)}\n`);
  return ExitCode.ok;
}

function describeEnd(id: string, status: ExecutionStatus, s: ReturnType<typeof styleFor>): string {
  const text = statusColor(s, status)(status);
  if (status === 'cancelled') return `execution ${id} ${text}`;
  return `execution ${id} ${text} before the cancellation took effect`;
}
