import { ErrorCode, Orchestr8Error, TimeoutError, ValidationError } from '@orchestr8/common';
import { runInPool } from './isolation-pool.js';

export interface RunIsolatedOptions {
  /** Pass the step's `ctx.signal`: cancelling the step (or its timeout policy) kills the worker. */
  signal?: AbortSignal;
  /**
   * Wall-clock limit from when a worker starts the call; past it the worker is killed and the
   * call fails with TIMEOUT (retryable, like any timeout). Default 30 s.
   */
  timeoutMs?: number;
}

export const RUN_ISOLATED_DEFAULT_TIMEOUT_MS = 30_000;

type Reply = { ok: true; value: unknown } | { ok: false; error: Record<string, unknown> };

/**
 * Calls `exportName(input)` of the module at `moduleUrl` in a worker process of the isolation
 * pool (the one `@orchestr8/transform` uses), off the main event loop, and resolves with what
 * it returns. For agents that run CPU-bound code: a runaway call fails with TIMEOUT and one
 * that exhausts the worker's memory with RESOURCE_EXHAUSTED, while the host keeps answering.
 * `input` and the result cross by structured clone; an orchestr8 error thrown by the function
 * keeps its `code`, `retryable` and `details`. The module is imported in the worker (once per
 * worker): keep its top level free of side effects. TypeScript modules load through tsx.
 *
 * @example
 * // agents.ts
 * export function score(input: { text: string }) { return { score: expensive(input.text) }; }
 * export const scorer = defineAgent({
 *   id: '@acme/scorer',
 *   execute: (input, ctx) => runIsolated(import.meta.url, 'score', input, { signal: ctx.signal }),
 * });
 */
export async function runIsolated<O = unknown>(
  moduleUrl: string | URL,
  exportName: string,
  input: unknown,
  options: RunIsolatedOptions = {},
): Promise<O> {
  let url: URL;
  try {
    url = new URL(moduleUrl);
  } catch {
    throw new ValidationError(`runIsolated: ${String(moduleUrl)} is not a URL (pass import.meta.url)`);
  }
  if (url.protocol !== 'file:') throw new ValidationError(`runIsolated: ${url.href} is not a file: URL`);
  const timeoutMs = options.timeoutMs ?? RUN_ISOLATED_DEFAULT_TIMEOUT_MS;
  const reply = await runInPool<Reply>(
    'isolation',
    'runExport',
    { module: url.href, export: exportName, input },
    {
      ...(options.signal ? { signal: options.signal } : {}),
      timeoutMs,
      timeoutError: () => new TimeoutError(`runIsolated: ${exportName} took longer than ${timeoutMs} ms`),
    },
  );
  if (reply.ok) return reply.value as O;
  throw rebuild(reply.error);
}

/** The error the function threw, as isolation-worker.js sent it back. */
function rebuild(data: Record<string, unknown>): Orchestr8Error {
  const code = typeof data.code === 'string' ? data.code : undefined;
  const retryable = typeof data.retryable === 'boolean' ? data.retryable : undefined;
  // An orchestr8 error keeps its code; anything else thrown is AGENT_FAILED, as in-process.
  const known = code !== undefined && (retryable !== undefined || code in ErrorCode);
  const e = new Orchestr8Error(known ? code : ErrorCode.AGENT_FAILED, String(data.message ?? 'failed'), {
    ...(retryable !== undefined ? { retryable } : {}),
    ...(typeof data.retryAfterMs === 'number' ? { retryAfterMs: data.retryAfterMs } : {}),
    ...(data.details !== undefined ? { details: data.details } : {}),
  });
  if (known && typeof data.name === 'string') e.name = data.name;
  return e;
}
