/** What the `stream` commands share: output, reading documents and NDJSON, the crews' engine. */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createEngine, type Engine, type Store } from '@orchestr8/core';
import { type Diagnostic, formatDiagnostic, loadWorkflowFile, parseDuration } from '@orchestr8/schema';
import {
  type CompiledStream,
  loadStreamFile,
  type StreamErrorRecord,
  type StreamLoadResult,
} from '@orchestr8/streams';
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

/**
 * Loads a stream document, printing its problems. `crews: false` for commands that never run
 * its crews (status): their workflows need not be found from here.
 */
export async function loadOrReport(
  file: string,
  options: { crews?: boolean } = {},
): Promise<CompiledStream | undefined> {
  const r = options.crews === false ? await loadStreamFile(file) : await loadWithCrews(file);
  for (const d of r.diagnostics) err(`${formatDiagnostic(d)}\n`);
  return r.stream;
}

/**
 * A stream document with the crews' workflows as run finds them: one not found, or a file
 * with errors, makes it not ok (validate, run, replay and serve --stream load it so).
 */
export async function loadWithCrews(file: string): Promise<StreamLoadResult> {
  // The ids the loader looked up, in crew order: their files are checked even when the
  // stream document has problems of its own, so every problem shows in one run.
  const named: string[] = [];
  const exists = workflowsOf(file);
  const r = await loadStreamFile(file, {
    workflowExists: (id) => {
      named.push(id);
      return exists(id);
    },
  });
  const more = await crewWorkflowProblems(named, file);
  return more.length === 0 ? r : { ok: false, diagnostics: [...r.diagnostics, ...more] };
}

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
  // Idempotent: run and replay close in a finally, and some paths close earlier.
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      try {
        await engine.close();
      } finally {
        await store.close();
      }
    })());
  return { engine, store, close };
}

/** A crew workflow id the CLI looks up as a file name (no path, not hidden). */
const WORKFLOW_ID = /^[A-Za-z0-9_.-]+$/;

/** The file of a crew's `workflow: <id>`: <id>.yaml|.yml|.json next to the stream document, or in ./workflows. */
function workflowFile(docFile: string, id: string): string | undefined {
  if (!WORKFLOW_ID.test(id) || id.startsWith('.')) return undefined;
  for (const dir of [dirname(resolve(docFile)), resolve('workflows')])
    for (const ext of ['.yaml', '.yml', '.json']) {
      const file = join(dir, `${id}${ext}`);
      try {
        if (statSync(file).isFile()) return file;
      } catch {
        // not there
      }
    }
  return undefined;
}

/** A crew's workflow, read from its file (see workflowFile). */
export function resolverFor(docFile: string) {
  return (id: string): string | undefined => {
    const file = workflowFile(docFile, id);
    return file === undefined ? undefined : readFileSync(file, 'utf8');
  };
}

/**
 * The errors of the workflow files the crews name by id (`ids`), each with its own file, line
 * and column (crews' steps and inline workflows are checked with the stream document): a
 * broken one is reported as the document loads, not when the stream starts on it.
 */
async function crewWorkflowProblems(ids: readonly string[], docFile: string): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    const file = workflowFile(docFile, id);
    if (file === undefined || seen.has(file)) continue;
    seen.add(file);
    try {
      out.push(...(await loadWorkflowFile(file)).diagnostics.filter((d) => d.severity === 'error'));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      out.push({
        code: 'E_READ',
        severity: 'error',
        message: `cannot read ${file}: ${message}`,
        pointer: '',
        file,
      });
    }
  }
  return out;
}

/** Whether a crew's `workflow: <id>` has a file for the stream document `docFile` (see workflowFile). */
function workflowsOf(docFile: string): (id: string) => boolean {
  return (id) => workflowFile(docFile, id) !== undefined;
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
