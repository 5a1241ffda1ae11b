/**
 * `orchestr8 workers`: the live workers of a PostgreSQL store, with their heartbeats and the
 * steps they hold leases on, and how many steps wait in each queue.
 */
import { serializeError } from '@orchestr8/common';
import type { PostgresStore } from '@orchestr8/store-postgres';
import { parseStoreUrl } from '@orchestr8/store-sqlite';
import { listWorkers, type WorkersView } from '@orchestr8/worker';
import type { Command } from 'commander';
import { configuredStore, loadProjectConfig } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { openStore } from '../open-store.js';
import { formatDuration, styleFor, tableLines } from '../term.js';
import { formatTime, plural, printJson } from './history-shared.js';

interface WorkersOptions {
  store?: string;
  json?: boolean;
  stale: string;
}

export function registerWorkersCommand(program: Command): void {
  program
    .command('workers')
    .description('list the live workers of a PostgreSQL store, their heartbeats and current steps')
    .option(
      '--store <url>',
      'the shared store: postgres://user@host/db (default: $ORCHESTR8_STORE, then the config store)',
    )
    .option('--stale <seconds>', 'hide workers whose last heartbeat is older than this', '60')
    .option('--json', 'print the workers and queue depths as JSON')
    .action(async (opts: WorkersOptions) => {
      process.exitCode = await workersCommand(opts);
    });
}

async function workersCommand(opts: WorkersOptions): Promise<number> {
  const stale = /^\d+$/.test(opts.stale) ? Number(opts.stale) : Number.NaN;
  if (!Number.isSafeInteger(stale) || stale < 1)
    return failUsage(`--stale must be a positive number of seconds`);
  let store: PostgresStore | undefined;
  try {
    const spec = configuredStore(opts.store, await loadProjectConfig());
    if (parseStoreUrl(spec).kind !== 'postgres') {
      return failUsage(
        `workers exist only with a PostgreSQL store: pass --store postgres://... (got "${spec}")`,
      );
    }
    store = (await openStore(spec)) as PostgresStore;
    const view = await listWorkers(store, stale * 1000);
    if (opts.json) printJson(view);
    else printView(view, store.where);
    return ExitCode.ok;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await store?.close().catch(() => {});
  }
}

function printView(view: WorkersView, where: string): void {
  const out = process.stdout;
  const s = styleFor(out);
  if (view.workers.length === 0) out.write(`no live workers on ${where}\n`);
  else {
    const header = ['ID', 'HOST', 'PID', 'QUEUES', 'RUNNING', 'HEARTBEAT', 'STEPS', 'STARTED'];
    const rows = view.workers.map((w) => [
      w.id,
      w.host,
      String(w.pid),
      w.queues.join(','),
      `${w.running.length}/${w.concurrency}`,
      `${formatDuration(w.heartbeatAgeMs)} ago`,
      String(w.stepsDone),
      formatTime(w.startedAt),
    ]);
    const lines = tableLines(header, rows);
    out.write(`${s.bold(lines[0]!)}\n`);
    view.workers.forEach((w, i) => {
      out.write(`${lines[i + 1]!}\n`);
      for (const r of w.running) {
        const left = Math.max(0, r.leaseExpiresAt - Date.now());
        out.write(
          s.dim(
            `  ${r.executionId} ${r.stepId} (lease ${formatDuration(left)} left${r.claims > 1 ? `, claim ${r.claims}` : ''})\n`,
          ),
        );
      }
    });
    out.write(s.dim(`${plural(view.workers.length, 'worker')} on ${where}\n`));
  }
  for (const q of view.queues) out.write(`queue ${q.queue}: ${q.ready} ready, ${q.leased} running\n`);
}
