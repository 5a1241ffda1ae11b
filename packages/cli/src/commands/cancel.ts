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
  let store: Store | undefined;
  try {
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

function describeEnd(id: string, status: ExecutionStatus, s: ReturnType<typeof styleFor>): string {
  const text = statusColor(s, status)(status);
  if (status === 'cancelled') return `execution ${id} ${text}`;
  return `execution ${id} ${text} before the cancellation took effect`;
}
