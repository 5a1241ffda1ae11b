/** What the `stream` commands share: output, reading documents and NDJSON, the crews' engine. */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createEngine, type Engine, type Store } from '@orchestr8/core';
import { formatDiagnostic, parseDuration } from '@orchestr8/schema';
import { type CompiledStream, loadStreamFile, type StreamErrorRecord } from '@orchestr8/streams';
import { type CapabilityFlags, capabilitiesFor } from '../capabilities.js';
import { configuredStore, loadProjectConfig } from '../config.js';
import { buildRegistry } from '../context.js';
import { UsageError } from '../inputs.js';
import { openStore } from '../open-store.js';

export interface EngineFlags extends CapabilityFlags {
  agents: string[];
  store?: string;
}

export function out(s: string): void {
  process.stdout.write(s);
}
export function err(s: string): void {
  process.stderr.write(s);
}

export async function loadOrReport(file: string): Promise<CompiledStream | undefined> {
  const r = await loadStreamFile(file, { workflowExists: workflowsOf(file) });
  for (const d of r.diagnostics) err(`${formatDiagnostic(d)}\n`);
  return r.stream;
}

/** The close() of each engineFor host not closed yet (see closeOpenEngines). */
const openEngines = new Set<() => Promise<void>>();

/**
 * The crews' engine on the project's store (SQLite by default, like `run`): each slice's
 * crews are durable executions, listed by `orchestr8 list` and the console.
 */
export async function engineFor(
  flags: EngineFlags,
): Promise<{ engine: Engine; store: Store; close(): Promise<void> }> {
  const config = await loadProjectConfig();
  const registry = await buildRegistry(flags.agents, config);
  const store = await openStore(configuredStore(flags.store, config));
  let engine: Engine;
  try {
    engine = createEngine({ registry, store, capabilities: capabilitiesFor(config, flags) });
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  const close = async () => {
    openEngines.delete(close);
    await engine.close();
    await store.close();
  };
  openEngines.add(close);
  return { engine, store, close };
}

/**
 * Closes the engines (and their stores) a command opened and left open because it failed
 * early (a missing --events file, NATS unreachable, ...): an open PostgreSQL pool or the
 * engine's timers would keep the process from exiting. A command that succeeds has closed
 * its engine itself. Errors while closing are ignored: the command's own error is reported.
 */
export async function closeOpenEngines(): Promise<void> {
  for (const close of [...openEngines]) await close().catch(() => {});
}

/** A crew's `workflow: <id>`: <id>.yaml|.yml|.json next to the stream document, or in ./workflows. */
export function resolverFor(docFile: string) {
  return (id: string): string | undefined => {
    if (!/^[A-Za-z0-9_.-]+$/.test(id) || id.startsWith('.')) return undefined;
    for (const dir of [dirname(resolve(docFile)), resolve('workflows')])
      for (const ext of ['.yaml', '.yml', '.json']) {
        const file = join(dir, `${id}${ext}`);
        if (existsSync(file)) return readFileSync(file, 'utf8');
      }
    return undefined;
  };
}

/** Whether a crew's `workflow: <id>` resolves for the stream document `docFile` (see resolverFor). */
export function workflowsOf(docFile: string): (id: string) => boolean {
  const resolve = resolverFor(docFile);
  return (id) => resolve(id) !== undefined;
}

/** NDJSON lines as values, and the lines that are not JSON (with their line numbers). */
export async function readNdjson(file: string): Promise<{ values: unknown[]; bad: string[] }> {
  if (file !== '-' && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const input = file === '-' ? process.stdin : createReadStream(file, 'utf8');
  const values: unknown[] = [];
  const bad: string[] = [];
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    n++;
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch (e) {
      bad.push(`${file === '-' ? 'stdin' : file}:${n}: not JSON: ${(e as Error).message}`);
    }
  }
  return { values, bad };
}

/** Recorded actions or slice records: a line that is not JSON is a usage error. */
export async function readRecords<T>(file: string): Promise<T[]> {
  const { values, bad } = await readNdjson(file);
  if (bad.length > 0) throw new UsageError(bad[0]!);
  return values as T[];
}

export function errorLine(e: StreamErrorRecord): string {
  const where = [
    e.slice !== undefined ? `slice ${e.slice}` : '',
    e.crew ? `crew ${e.crew}` : '',
    e.eventId ? `event ${e.eventId}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${e.kind}${where ? ` (${where})` : ''}: ${e.error.code} ${e.error.message}\n`;
}

/** A time for --from/--to: ISO-8601 or epoch milliseconds. */
export function parseTime(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new UsageError(`${flag} expects an ISO-8601 time or epoch milliseconds, got "${value}"`);
  return ms;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A duration flag: "30s" or milliseconds. */
export function durationFlag(value: string, flag: string, example: string): number {
  try {
    return parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  } catch {
    throw new UsageError(`${flag} expects a duration like "${example}" or milliseconds, got "${value}"`);
  }
}
