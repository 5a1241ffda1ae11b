/**
 * What the history commands (list, inspect, journal, resume, cancel, prune) share: opening
 * the store without creating one, and how times, statuses and values are shown.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { ExecutionRecord, ExecutionStatus, Store } from '@orchestr8/core';
import { parseStoreUrl } from '@orchestr8/store-sqlite';
import { openStore, storeSpec } from '../open-store.js';
import type { Style } from '../term.js';

export const EXECUTION_STATUSES: readonly ExecutionStatus[] = [
  'queued',
  'running',
  'waiting',
  'completed',
  'failed',
  'cancelled',
];

/**
 * Opens the store named by `--store` (or the environment) for a history command. A SQLite
 * file that does not exist yet is not created: nothing was ever recorded there, so the
 * command gets `undefined` and answers accordingly ("no executions", "not found").
 */
export async function openHistoryStore(
  flag: string | undefined,
): Promise<{ store: Store | undefined; spec: string }> {
  const spec = storeSpec(flag);
  const parsed = parseStoreUrl(spec);
  if (parsed.kind === 'sqlite' && parsed.path !== ':memory:' && !existsSync(resolve(parsed.path))) {
    return { store: undefined, spec };
  }
  return { store: await openStore(spec), spec };
}

/** The execution, or a NOT_FOUND error that names the store it looked in. */
export async function requireExecution(
  store: Store | undefined,
  id: string,
  spec: string,
): Promise<ExecutionRecord> {
  const record = await store?.getExecution(id);
  if (!record) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${id}" in store ${spec}`);
  return record;
}

export function isTerminal(status: ExecutionStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

export function statusColor(s: Style, status: string): (text: string) => string {
  switch (status) {
    case 'completed':
      return s.green;
    case 'failed':
      return s.red;
    case 'cancelled':
    case 'retrying':
    case 'waiting':
      return s.yellow;
    case 'running':
      return s.cyan;
    default:
      return s.dim;
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Local wall-clock time, `2025-03-04 10:11:12` (with `.345` when `ms`). */
export function formatTime(
  epochMs: number | undefined,
  options: { ms?: boolean; date?: boolean } = {},
): string {
  if (epochMs === undefined || !Number.isFinite(epochMs)) return '-';
  const d = new Date(epochMs);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${options.date === false ? '' : date}${time}${options.ms ? `.${pad(d.getMilliseconds(), 3)}` : ''}`;
}

/** Compact single-line JSON, cut to `max` characters with a note of the full size. */
export function preview(value: unknown, max = 200): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length} chars; --json shows all)`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/**
 * A reader that stops early (`orchestr8 journal <id> | head`) closes the pipe: that is not
 * an error worth a stack trace, so leave quietly.
 */
export function exitQuietlyOnClosedStdout(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const AGE_UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `7d`, `12h`, `30m`, `45s`, `2w`, `1.5h`, `500ms` in milliseconds; undefined when malformed. */
export function parseAge(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/i.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * AGE_UNIT_MS[m[2]!.toLowerCase()]!;
}
