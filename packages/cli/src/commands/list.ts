import { serializeError } from '@orchestr8/common';
import type { ExecutionQuery, ExecutionRecord, ExecutionStatus, Store } from '@orchestr8/core';
import type { Command } from 'commander';
import { projectStoreFlag } from '../config.js';
import { collect } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { formatDuration, styleFor } from '../term.js';
import {
  EXECUTION_STATUSES,
  exitQuietlyOnClosedStdout,
  formatTime,
  openHistoryStore,
  plural,
  printJson,
  statusColor,
} from './history-shared.js';

interface ListOptions {
  status: string[];
  workflow?: string;
  limit: string;
  json?: boolean;
  store?: string;
  local?: boolean;
  server?: string;
}

const DEFAULT_LIMIT = 20;

export function registerListCommand(program: Command): void {
  program
    .command('list')
    .description('list recorded executions, newest first')
    .option(
      '-s, --status <status>',
      `only executions with this status (${EXECUTION_STATUSES.join(', ')}); repeatable or comma-separated`,
      collect,
      [],
    )
    .option('-w, --workflow <id>', 'only executions of this workflow id')
    .option('-n, --limit <n>', 'at most this many executions', String(DEFAULT_LIMIT))
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--json', 'print the execution records as a JSON array')
    .option('--server <url>', 'list the executions of this orchestr8 server (orchestr8 serve)')
    .option('--local', "read the store in this process even when the project's local server runs")
    .action(async (opts: ListOptions) => {
      process.exitCode = await listCommand(opts);
    });
}

async function listCommand(opts: ListOptions): Promise<number> {
  const statuses = opts.status
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of statuses) {
    if (!EXECUTION_STATUSES.includes(s as ExecutionStatus)) {
      return failUsage(`unknown status "${s}" (expected one of ${EXECUTION_STATUSES.join(', ')})`);
    }
  }
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1)
    return failUsage(`--limit must be a positive integer, got "${opts.limit}"`);

  if (opts.server !== undefined && opts.local) return failUsage('--server and --local exclude each other');

  exitQuietlyOnClosedStdout();
  let store: Store | undefined;
  try {
    const { detectLocalServer } = await import('../local-server.js');
    const server = await detectLocalServer({
      ...opts,
      localFlags: opts.store !== undefined ? ['--store'] : [],
      what: 'reading the store',
    });
    if (server) {
      const { items, more } = await serverPages(server.url, statuses, opts.workflow, limit);
      if (opts.json) printJson(items);
      else
        printTable(
          items,
          more,
          `${statuses.length > 0 || opts.workflow !== undefined ? 'matching ' : ''}executions on ${server.url}`,
        );
      return ExitCode.ok;
    }
    const opened = await openHistoryStore(await projectStoreFlag(opts.store));
    store = opened.store;
    const query: ExecutionQuery = {};
    if (statuses.length > 0) query.status = statuses as ExecutionStatus[];
    if (opts.workflow !== undefined) query.workflowId = opts.workflow;
    const { items, more } = store ? await collectPages(store, query, limit) : { items: [], more: false };
    if (opts.json) {
      printJson(items);
      return ExitCode.ok;
    }
    printTable(
      items,
      more,
      `${statuses.length > 0 || opts.workflow !== undefined ? 'matching ' : ''}executions in ${opened.spec}`,
    );
    return ExitCode.ok;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await store?.close().catch(() => {});
  }
}

/** The same from a server's `GET /executions` (its summaries, with `id` as records have it). */
async function serverPages(
  url: string,
  statuses: string[],
  workflow: string | undefined,
  limit: number,
): Promise<{ items: ExecutionRecord[]; more: boolean }> {
  const { callServer } = await import('../server-call.js');
  const { defaultApiKey } = await import('../local-server.js');
  const items: ExecutionRecord[] = [];
  let cursor: string | undefined;
  do {
    const q = new URLSearchParams({ limit: String(Math.min(1000, limit - items.length + 1)) });
    if (statuses.length > 0) q.set('status', statuses.join(','));
    if (workflow !== undefined) q.set('workflowId', workflow);
    if (cursor) q.set('cursor', cursor);
    const page = (await callServer(url, defaultApiKey(), 'GET', `/executions?${q}`)) as {
      items: ({ executionId: string } & Omit<ExecutionRecord, 'id'>)[];
      nextCursor?: string;
    };
    for (const { executionId, ...rest } of page.items)
      items.push({ id: executionId, ...rest } as ExecutionRecord);
    cursor = page.nextCursor;
  } while (cursor && items.length <= limit);
  return { items: items.slice(0, limit), more: items.length > limit || cursor !== undefined };
}

/** Up to `limit` executions across store pages, and whether more match. */
async function collectPages(
  store: Store,
  query: ExecutionQuery,
  limit: number,
): Promise<{ items: ExecutionRecord[]; more: boolean }> {
  const items: ExecutionRecord[] = [];
  let cursor: string | undefined;
  do {
    // One extra row tells whether more match, without another page.
    const want = Math.min(1000, limit - items.length + 1);
    const page = await store.listExecutions({ ...query, limit: want, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length <= limit);
  const more = items.length > limit || cursor !== undefined;
  return { items: items.slice(0, limit), more };
}

function printTable(items: readonly ExecutionRecord[], more: boolean, what: string): void {
  const out = process.stdout;
  const s = styleFor(out);
  if (items.length === 0) {
    out.write(`no ${what}\n`);
    return;
  }
  const now = Date.now();
  const rows = items.map((e) => [
    e.id,
    e.status,
    `${e.workflowId}@${e.workflowVersion}`,
    formatTime(e.createdAt),
    duration(e, now),
    e.statusReason ?? '',
  ]);
  const header = ['ID', 'STATUS', 'WORKFLOW', 'CREATED', 'DURATION', 'REASON'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const padded = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)));
  out.write(`${s.bold(padded(header).join('  ').trimEnd())}\n`);
  for (const r of rows) {
    const cells = padded(r);
    cells[1] = statusColor(s, r[1]!)(cells[1]!);
    if (r[5]) cells[5] = s.dim(r[5]);
    out.write(`${cells.join('  ').trimEnd()}\n`);
  }
  out.write(s.dim(`${plural(items.length, 'execution')}${more ? ' (more match: raise --limit)' : ''}\n`));
}

function duration(e: ExecutionRecord, now: number): string {
  if (e.startedAt === undefined) return '-';
  if (e.finishedAt !== undefined) return formatDuration(e.finishedAt - e.startedAt);
  return `${formatDuration(now - e.startedAt)}…`;
}
