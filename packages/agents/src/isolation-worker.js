// @ts-check
/**
 * Runs inside the isolation pool's worker processes (see isolation-pool.ts). Plain JavaScript
 * on purpose: a worker has no TypeScript loader, and this same file must load from `src/`
 * (under vitest) and from `dist/` (built, packed, installed), where the build copies it.
 * It imports nothing from other orchestr8 packages, so it never reads a stale `dist/` of theirs.
 */
import { Worker } from 'node:worker_threads';

// A worker must not outlive its host: a task stuck in one native call (a catastrophic regular
// expression) would keep a core busy after the host crashed. The check runs on a thread of its
// own, so it works while the task holds this process's event loop.
if (process.send) {
  new Worker(
    `const { workerData } = require('node:worker_threads');
    setInterval(() => { if (process.ppid !== workerData.ppid) process.kill(workerData.pid, 'SIGKILL'); }, 500);`,
    { eval: true, execArgv: [], workerData: { ppid: process.ppid, pid: process.pid } },
  ).unref();
}

/**
 * Sent when a task starts, so that its deadline counts from now and not from when it was
 * queued; the pid lets the pool tell how the process ended if it dies.
 */
export const STARTED = 'orchestr8.isolation.started';

/** @param {number} id */
export function started(id) {
  process.send?.({ [STARTED]: id, pid: process.pid });
}

/**
 * What crosses back for a failure: the fields of an orchestr8 error, kept as plain data
 * (structured clone drops an Error's own properties such as `code` and `retryable`).
 * @param {unknown} e
 */
export function failure(e) {
  const err = /** @type {Record<string, unknown>} */ (typeof e === 'object' && e !== null ? e : {});
  return {
    name: typeof err.name === 'string' ? err.name : 'Error',
    message: typeof err.message === 'string' ? err.message : String(e),
    ...(typeof err.code === 'string' ? { code: err.code } : {}),
    ...(typeof err.retryable === 'boolean' ? { retryable: err.retryable } : {}),
    ...(typeof err.retryAfterMs === 'number' ? { retryAfterMs: err.retryAfterMs } : {}),
    ...(err.details !== undefined ? { details: plain(err.details) } : {}),
  };
}

/** @param {unknown} value */
function plain(value) {
  try {
    return JSON.parse(JSON.stringify(value) ?? 'null');
  } catch {
    return undefined;
  }
}

/**
 * `runIsolated`: imports `task.module` and calls its export `task.export` with `task.input`.
 * @param {{ id: number, module: string, export: string, input: unknown }} task
 */
export async function runExport(task) {
  started(task.id);
  try {
    const mod = await load(task.module);
    const fn = mod[task.export];
    if (typeof fn !== 'function') {
      return {
        ok: false,
        error: {
          name: 'ValidationError',
          code: 'VALIDATION',
          retryable: false,
          message: `isolate: ${task.module} has no exported function "${task.export}"`,
        },
      };
    }
    return { ok: true, value: await fn(task.input) };
  } catch (e) {
    return { ok: false, error: failure(e) };
  }
}

/**
 * Imports a module by file URL. A TypeScript module goes through tsx when the worker has no
 * loader of its own (the CLI loads agent modules with tsx's `tsImport`, which is not inherited).
 * @param {string} url
 * @returns {Promise<Record<string, unknown>>}
 */
async function load(url) {
  // tsImport marks the URLs it loads with a query; the file is what matters here.
  const clean = new URL(url);
  clean.search = '';
  clean.hash = '';
  const href = clean.href;
  try {
    return await import(href);
  } catch (e) {
    const code = /** @type {{ code?: unknown } | undefined} */ (e)?.code;
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[cm]?tsx?$/.test(clean.pathname)) throw e;
    const { tsImport } = await import('tsx/esm/api');
    return await tsImport(href, import.meta.url);
  }
}
