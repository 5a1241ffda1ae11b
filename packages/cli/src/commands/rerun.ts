import type { RerunPlan } from '@orchestr8/core';
import type { Command } from 'commander';
import { collect } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { collectInputs } from '../inputs.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { printJson } from './history-shared.js';
import {
  formatPlan,
  OPERATION_EXIT_HELP,
  type OperationOptions,
  remoteFailure,
  reportResult,
  serverCall,
  waitOnServer,
  withLocalEngine,
} from './operations-shared.js';

interface RerunOptions extends OperationOptions {
  from?: string;
  input: string[];
  dryRun?: boolean;
}

export function registerRerunCommand(program: Command): void {
  program
    .command('rerun')
    .description(
      'start a new execution from a step of a finished one, reusing the outputs of the steps before it',
    )
    .argument('<id>', 'the execution to rerun')
    .requiredOption('--from <step>', 'the step to run again (with every step downstream of it)')
    .option(
      '-i, --input <key=value>',
      'change an input (JSON or string); repeatable, dotted keys nest',
      collect,
      [],
    )
    .option('--dry-run', 'print what would run again and what would be reused; start nothing')
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--server <url>', 'ask a running orchestr8 serve to rerun it instead of running it here')
    .option('--api-key <key>', 'with --server: the API key (default: $ORCHESTR8_API_KEY)')
    .option('-w, --wait', 'with --server: wait until the new execution has finished')
    .option('--json', 'print the plan and result (or the server answer) as JSON')
    .option('-q, --quiet', 'print only the result')
    .addHelpText(
      'after',
      '\nThe original stays as it is; the new execution is linked to it (rerunOf). Steps not downstream of\n' +
        '--from keep their outputs, unless they read an input that --input changes: those run again too, with\n' +
        'what they gate. Steps that failed or were cancelled in the original always run again.\n' +
        OPERATION_EXIT_HELP,
    )
    .action(async (id: string, opts: RerunOptions) => {
      process.exitCode = await rerunCommand(id, opts);
    });
}

function printPlan(id: string, plan: RerunPlan, opts: RerunOptions, dry: boolean): void {
  if (opts.json) return;
  process.stdout.write(
    `${dry ? 'would rerun' : 'rerunning'} execution ${id} from step ${opts.from}:\n${formatPlan(plan)}`,
  );
}

async function rerunCommand(id: string, opts: RerunOptions): Promise<number> {
  if (!opts.from) return failUsage('--from <step> is required');
  let inputs: Record<string, unknown> | undefined;
  try {
    inputs = opts.input.length > 0 ? await collectInputs(undefined, opts.input) : undefined;
  } catch (e) {
    return reportError(e);
  }
  const request = { fromStep: opts.from, ...(inputs !== undefined ? { inputs } : {}) };
  if (opts.server !== undefined) return rerunOnServer(id, opts, request);
  return withLocalEngine(id, opts, async (engine, store) => {
    if (opts.dryRun) {
      const plan = await engine.planRerun(id, request);
      if (opts.json) printJson({ plan });
      else printPlan(id, plan, opts, true);
      return ExitCode.ok;
    }
    const { plan, handle } = await engine.rerun(id, request);
    printPlan(id, plan, opts, false);
    if (!opts.json) process.stdout.write(`new execution ${handle.id}\n`);
    return reportResult(store, await handle.result, opts);
  });
}

async function rerunOnServer(
  id: string,
  opts: RerunOptions,
  request: { fromStep: string; inputs?: Record<string, unknown> },
): Promise<number> {
  try {
    const answer = (await serverCall(opts, 'POST', `/executions/${encodeURIComponent(id)}/rerun`, {
      ...request,
      ...(opts.dryRun ? { dryRun: true } : {}),
    })) as { executionId?: string; plan: RerunPlan };
    printPlan(id, answer.plan, opts, Boolean(opts.dryRun));
    if (opts.dryRun || answer.executionId === undefined) {
      if (opts.json) printJson(answer);
      return ExitCode.ok;
    }
    if (!opts.json) process.stdout.write(`new execution ${answer.executionId}\n`);
    if (opts.wait) return await waitOnServer(opts, answer.executionId);
    if (opts.json) printJson(answer);
    return ExitCode.ok;
  } catch (e) {
    const code = remoteFailure(e, opts);
    if (code !== undefined) return code;
    return reportError(e);
  }
}
