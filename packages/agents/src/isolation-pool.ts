import { availableParallelism } from 'node:os';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { Tinypool } from 'tinypool';
import { abortError } from './http-util.js';

/**
 * The pool that runs CPU-bound work (JSONata transforms, `runIsolated`) off the main event
 * loop, so a runaway step cannot stop the process from answering. Its workers are child
 * processes rather than threads: a thread's heap limit is best effort, and one large
 * allocation past it aborts the whole process (nodejs/node#47224), whereas a child process
 * that runs out of memory dies alone. A worker that passes its deadline is killed; the pool
 * starts another when needed.
 */
export interface IsolationOptions {
  /** Worker processes at most. Default: `ORCHESTR8_ISOLATION_WORKERS`, else one less than the cores, 2 to 8. */
  maxWorkers?: number;
  /**
   * Heap limit of each worker in MB (V8's old generation); past it the task fails with
   * RESOURCE_EXHAUSTED. Default: `ORCHESTR8_ISOLATION_MEMORY_MB`, else 256.
   */
  maxMemoryMb?: number;
  /** An idle worker exits after this long. Default 30 s. */
  idleTimeoutMs?: number;
}

export const ISOLATION_MEMORY_ENV = 'ORCHESTR8_ISOLATION_MEMORY_MB';
export const ISOLATION_WORKERS_ENV = 'ORCHESTR8_ISOLATION_WORKERS';
const DEFAULT_MEMORY_MB = 256;
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** The message a worker sends as it starts a task (STARTED in isolation-worker.js). */
const STARTED = 'orchestr8.isolation.started';
const SCRIPTS = {
  isolation: new URL('./isolation-worker.js', import.meta.url),
  transform: new URL('./transform-worker.js', import.meta.url),
} as const;

export interface PoolRunOptions {
  /** The step's signal: aborting it kills the worker and fails with its reason. */
  signal?: AbortSignal;
  /** Wall-clock limit, counted from when a worker starts the task (not while it is queued). */
  timeoutMs: number;
  /** The error for a task that passed `timeoutMs`. */
  timeoutError: () => Orchestr8Error;
}

interface Pool {
  tinypool: Tinypool;
  maxMemoryMb: number;
  /** How each worker process that died ended, by pid (read when its task fails). */
  exits: Map<number, { code: number | null; signal: NodeJS.Signals | null }>;
  watched: WeakSet<object>;
}

let options: IsolationOptions = {};
let pool: Pool | undefined;
let nextId = 1;

async function configure(next: IsolationOptions = {}): Promise<void> {
  options = { ...next };
  await close();
}

async function close(): Promise<void> {
  const current = pool;
  pool = undefined;
  if (current) await current.tinypool.destroy();
}

function positiveInt(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Created on first use, so a process that never transforms starts no worker. */
function getPool(): Pool {
  if (pool) return pool;
  const maxMemoryMb =
    positiveInt(options.maxMemoryMb) ?? positiveInt(process.env[ISOLATION_MEMORY_ENV]) ?? DEFAULT_MEMORY_MB;
  const maxWorkers =
    positiveInt(options.maxWorkers) ??
    positiveInt(process.env[ISOLATION_WORKERS_ENV]) ??
    // Leave a core to the event loop, but keep a second worker so that one runaway task does
    // not hold up every other transform until its deadline.
    Math.min(8, Math.max(2, availableParallelism() - 1));
  const tinypool = new Tinypool({
    runtime: 'child_process',
    serialization: 'advanced',
    minThreads: 0,
    maxThreads: maxWorkers,
    // Idle workers are unref'ed (and their idle timer too), so they never keep a process alive.
    idleTimeout: positiveInt(options.idleTimeoutMs) ?? DEFAULT_IDLE_TIMEOUT_MS,
    execArgv: [
      ...process.execArgv.filter((a) => !/^--(inspect|max-old-space-size)/.test(a)),
      `--max-old-space-size=${maxMemoryMb}`,
    ],
    env: { ...process.env } as Record<string, string>,
  });
  // A worker that dies with no task has no one to tell; one with a task fails that task.
  tinypool.on('error', () => {});
  pool = { tinypool, maxMemoryMb, exits: new Map(), watched: new WeakSet() };
  return pool;
}

/** Remembers how the worker process `pid` ends, to tell running out of memory from other deaths. */
function watchExit(p: Pool, pid: number): void {
  const worker = p.tinypool.threads.find((t) => t.threadId === pid);
  if (!worker || p.watched.has(worker)) return;
  p.watched.add(worker);
  worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
    if (p.exits.size >= 64) p.exits.delete(p.exits.keys().next().value!);
    p.exits.set(pid, { code, signal });
  });
}

async function run<T>(
  script: keyof typeof SCRIPTS,
  handler: string,
  task: Record<string, unknown>,
  opts: PoolRunOptions,
): Promise<T> {
  if (opts.signal?.aborted) throw abortError(opts.signal);
  const p = getPool();
  const id = nextId++;
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let pid: number | undefined;
  const channel = {
    postMessage(message: unknown) {
      const m = message as Record<string, unknown> | null;
      if (m?.[STARTED] !== id || timer !== undefined) return;
      pid = typeof m.pid === 'number' ? m.pid : undefined;
      if (pid !== undefined) watchExit(p, pid);
      timer = setTimeout(() => deadline.abort(), opts.timeoutMs);
    },
  };
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
  try {
    return (await p.tinypool.run(
      { ...task, id },
      { filename: SCRIPTS[script], name: handler, signal, channel },
    )) as T;
  } catch (e) {
    if (deadline.signal.aborted) throw opts.timeoutError();
    if (opts.signal?.aborted) throw abortError(opts.signal);
    throw workerFailure(e, pid === undefined ? undefined : p.exits.get(pid), p.maxMemoryMb);
  } finally {
    clearTimeout(timer);
  }
}

function workerFailure(
  e: unknown,
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined,
  maxMemoryMb: number,
): Orchestr8Error {
  // A full V8 heap aborts the process (SIGABRT); JSONata has no other way to, user code only
  // through process.abort().
  if (exit?.signal === 'SIGABRT' || exit?.code === 134) {
    return new Orchestr8Error(
      ErrorCode.RESOURCE_EXHAUSTED,
      `the step used more than its memory limit (${maxMemoryMb} MB); its worker process was stopped`,
      { retryable: false, cause: e },
    );
  }
  const how = exit ? ` (its worker process exited with ${exit.signal ?? `code ${exit.code}`})` : '';
  const message = e instanceof Error ? e.message : String(e);
  return new Orchestr8Error(ErrorCode.AGENT_FAILED, `isolated step failed: ${message}${how}`, {
    retryable: false,
    cause: e,
  });
}

interface SharedPool {
  run: typeof run;
  configure: typeof configure;
  close: typeof close;
}

/**
 * One pool per process, even when this module is loaded twice: a package installed twice, or
 * an agent module loaded by the CLI through tsx, whose imports are copies of their own (and in
 * which tinypool cannot locate its worker entry). The first copy loaded serves every copy.
 */
const SHARED = Symbol.for('orchestr8.isolation-pool.v1');
const registry = globalThis as Record<symbol, SharedPool | undefined>;
registry[SHARED] ??= { run, configure, close };
const shared = registry[SHARED];

/** Runs `handler` of a worker script in a pool worker, with `task` (structured-cloned) plus an id. */
export const runInPool: typeof run = (script, handler, task, opts) => shared.run(script, handler, task, opts);

/**
 * Changes the pool settings: the current workers are stopped (tasks still running fail), and
 * the next task starts the pool with these settings (unset fields fall back to the defaults).
 */
export const configureIsolation = (next: IsolationOptions = {}): Promise<void> => shared.configure(next);

/** Stops the workers (tasks still running fail). The next task starts a new pool. */
export const closeIsolation = (): Promise<void> => shared.close();
