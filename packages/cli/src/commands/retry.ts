import type { Command } from 'commander';
import { collect } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { printJson } from './history-shared.js';
import {
  OPERATION_EXIT_HELP,
  type OperationOptions,
  remoteFailure,
  reportResult,
  serverCall,
  waitOnServer,
  withLocalEngine,
} from './operations-shared.js';

interface RetryOptions extends OperationOptions {
  reason?: string;
}

export function registerRetryCommand(program: Command): void {
  program
    .command('retry')
    .description(
      'run a failed or cancelled execution again, in place: its failed, cancelled and unrun steps and what they gate',
    )
    .argument('<id>', 'execution id')
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option('-r, --reason <text>', 'why (recorded in the journal)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--server <url>', 'ask a running orchestr8 serve to retry it instead of running it here')
    .option('--api-key <key>', 'with --server: the API key (default: $ORCHESTR8_API_KEY)')
    .option('-w, --wait', 'with --server: wait until the execution has finished')
    .option('--json', 'print the result (or the server answer) as JSON')
    .option('-q, --quiet', 'print only the result')
    .addHelpText(
      'after',
      '\nThe steps that run again start with a fresh retry budget; completed steps keep their outputs and do\n' +
        'not run. The same execution id goes on (its journal records `execution.retried`). A completed\n' +
        'execution cannot be retried: rerun it from a step (orchestr8 rerun). See docs: concepts/operations.\n' +
        OPERATION_EXIT_HELP,
    )
    .action(async (id: string, opts: RetryOptions) => {
      process.exitCode = await retryCommand(id, opts);
    });
}

async function retryCommand(id: string, opts: RetryOptions): Promise<number> {
  if (opts.server !== undefined) return retryOnServer(id, opts);
  return withLocalEngine(id, opts, async (engine, store) => {
    const handle = await engine.retry(id, opts.reason !== undefined ? { reason: opts.reason } : {});
    if (!opts.json)
      process.stderr.write(`retrying execution ${id}: ${handle.retried.join(', ') || 'its outputs'}\n`);
    return reportResult(store, await handle.result, opts);
  });
}

async function retryOnServer(id: string, opts: RetryOptions): Promise<number> {
  try {
    const answer = (await serverCall(
      opts,
      'POST',
      `/executions/${encodeURIComponent(id)}/retry`,
      opts.reason !== undefined ? { reason: opts.reason } : {},
    )) as { executionId: string; status: string; retried: string[] };
    if (opts.wait) {
      if (!opts.json) process.stderr.write(`retrying execution ${id}: ${answer.retried.join(', ')}\n`);
      return await waitOnServer(opts, id);
    }
    if (opts.json) printJson(answer);
    else process.stdout.write(`retrying execution ${id}: ${answer.retried.join(', ')} (${answer.status})\n`);
    return ExitCode.ok;
  } catch (e) {
    const code = remoteFailure(e, opts);
    if (code !== undefined) return code;
    return reportError(e);
  }
}
