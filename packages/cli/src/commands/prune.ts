import { serializeError } from '@orchestr8/common';
import type { Store } from '@orchestr8/core';
import type { Command } from 'commander';
import { projectStoreFlag } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { formatTime, openHistoryStore, parseAge, plural, printJson } from './history-shared.js';

interface PruneOptions {
  olderThan: string;
  json?: boolean;
  store?: string;
}

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('delete finished executions (with their steps and journals) and expired idempotency keys')
    .requiredOption('--older-than <duration>', 'finished longer ago than this: e.g. 7d, 12h, 30m')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--json', 'print the counts as JSON')
    .addHelpText('after', '\nQueued and running executions are never pruned, whatever their age.')
    .action(async (opts: PruneOptions) => {
      process.exitCode = await pruneCommand(opts);
    });
}

async function pruneCommand(opts: PruneOptions): Promise<number> {
  const age = parseAge(opts.olderThan);
  if (age === undefined) {
    return failUsage(`--older-than expects a duration like 7d, 12h or 30m, got "${opts.olderThan}"`);
  }
  let store: Store | undefined;
  try {
    const opened = await openHistoryStore(await projectStoreFlag(opts.store));
    store = opened.store;
    const now = Date.now();
    const finishedBefore = now - age;
    const counts = store ? await store.prune({ finishedBefore, now }) : { executions: 0, idempotencyKeys: 0 };
    if (opts.json) printJson({ ...counts, finishedBefore });
    else {
      process.stdout.write(
        `pruned ${plural(counts.executions, 'execution')} finished before ${formatTime(finishedBefore)}` +
          ` and ${plural(counts.idempotencyKeys, 'expired idempotency key')}\n`,
      );
    }
    return ExitCode.ok;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await store?.close().catch(() => {});
  }
}
