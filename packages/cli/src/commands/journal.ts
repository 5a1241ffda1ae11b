import { serializeError } from '@orchestr8/common';
import { type JournalEntry, redactorForDefinition, type Store } from '@orchestr8/core';
import type { Command } from 'commander';
import { projectStoreFlag } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { formatDuration, type Style, styleFor } from '../term.js';
import {
  exitQuietlyOnClosedStdout,
  formatTime,
  isTerminal,
  openHistoryStore,
  preview,
  requireExecution,
  sleep,
  statusColor,
} from './history-shared.js';

interface JournalOptions {
  follow?: boolean;
  json?: boolean;
  ndjson?: boolean;
  after?: string;
  store?: string;
}

const PAGE = 1000;
/** How often --follow looks for new entries (another process writes them). */
const FOLLOW_POLL_MS = 150;

export function registerJournalCommand(program: Command): void {
  program
    .command('journal')
    .description("print an execution's journal: every event in order")
    .argument('<id>', 'execution id')
    .option('-f, --follow', 'keep printing new entries until the execution finishes')
    .option('--json', 'print the entries as one JSON array (with --follow: once the execution finishes)')
    .option('--ndjson', 'print one JSON entry per line (streams with --follow)')
    .option('--after <seq>', 'only entries after this sequence number')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (id: string, opts: JournalOptions) => {
      process.exitCode = await journalCommand(id, opts);
    });
}

async function journalCommand(id: string, opts: JournalOptions): Promise<number> {
  if (opts.json && opts.ndjson) return failUsage('--json and --ndjson are exclusive');
  let after = 0;
  if (opts.after !== undefined) {
    after = Number(opts.after);
    if (!Number.isInteger(after) || after < 0)
      return failUsage(`--after must be a non-negative integer, got "${opts.after}"`);
  }
  exitQuietlyOnClosedStdout();
  let store: Store | undefined;
  let stopped = false;
  const onSigint = () => {
    stopped = true;
  };
  try {
    const opened = await openHistoryStore(await projectStoreFlag(opts.store));
    store = opened.store;
    const execution = await requireExecution(store, id, opened.spec);
    // Entries are redacted when written; again here, for rows written by older versions.
    const definition = await store!.getDefinitionByHash(execution.definitionHash);
    const redactor = redactorForDefinition(definition?.document, process.env);
    const print = printer(opts);
    if (opts.follow) process.on('SIGINT', onSigint);
    for (;;) {
      // Status first, then entries: a terminal status read before the entries means the
      // read below sees everything (the final entry and status commit together).
      const status = opts.follow ? (await requireExecution(store, id, opened.spec)).status : undefined;
      for (;;) {
        const page = await store!.readJournal(id, { afterSeq: after, limit: PAGE });
        for (const entry of page) print.entry(redactor.redact(entry) as JournalEntry);
        if (page.length > 0) after = page[page.length - 1]!.seq;
        if (page.length < PAGE) break;
      }
      if (!opts.follow || stopped || (status !== undefined && isTerminal(status))) break;
      await sleep(FOLLOW_POLL_MS);
      if (stopped) break;
    }
    print.end();
    return stopped ? ExitCode.interrupted : ExitCode.ok;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    process.off('SIGINT', onSigint);
    await store?.close().catch(() => {});
  }
}

function printer(opts: JournalOptions): { entry(e: JournalEntry): void; end(): void } {
  const out = process.stdout;
  if (opts.ndjson) return { entry: (e) => out.write(`${JSON.stringify(e)}\n`), end: () => {} };
  if (opts.json) {
    const all: JournalEntry[] = [];
    return { entry: (e) => all.push(e), end: () => out.write(`${JSON.stringify(all, null, 2)}\n`) };
  }
  const s = styleFor(out);
  let count = 0;
  return {
    entry: (e) => {
      count++;
      out.write(`${formatEntry(e, s)}\n`);
    },
    end: () => {
      if (count === 0) out.write(s.dim('no journal entries\n'));
    },
  };
}

/** `#12  10:11:12.351  +49ms  step.completed  greet  #1  output={"result":"hi"}` */
export function formatEntry(e: JournalEntry, s: Style): string {
  const parts = [
    s.dim(`#${e.seq}`.padStart(5)),
    s.dim(formatTime(e.ts, { date: false, ms: true })),
    s.dim(`+${formatDuration(e.elapsedMs)}`.padStart(8)),
    typeColor(s, e.type)(e.type.padEnd(20)),
  ];
  if (e.stepId !== undefined) parts.push(e.stepId);
  if (e.attempt !== undefined) parts.push(s.dim(`attempt ${e.attempt}`));
  const data = summarize(e.data);
  if (data) parts.push(s.dim(data));
  return parts.join('  ');
}

function typeColor(s: Style, type: string): (t: string) => string {
  const outcome = type.slice(type.indexOf('.') + 1);
  if (type === 'execution.cancelling' || type === 'step.retrying' || type === 'circuit.opened')
    return s.yellow;
  return statusColor(s, outcome === 'started' || outcome === 'resumed' ? 'running' : outcome);
}

/** The data fields worth a glance, compact; `--json` has them whole. */
function summarize(data: unknown): string {
  if (data === null || typeof data !== 'object') return data === undefined ? '' : preview(data, 120);
  const fields: string[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (key === 'error' && value && typeof value === 'object') {
      const err = value as { code?: string; message?: string };
      fields.push(`error=${err.code ?? ''}: ${err.message ?? ''}`);
    } else fields.push(`${key}=${preview(value, 80)}`);
  }
  const text = fields.join(' ');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
