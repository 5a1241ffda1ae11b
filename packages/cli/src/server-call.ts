/**
 * One JSON call to a running `orchestr8 serve`, for the commands that act on a server
 * (`triggers`, `send-event`, `signal`, `approvals`, `approve`, `reject`): a refusal becomes a
 * RemoteError carrying the HTTP status and the problem's code and detail.
 */

import { DEFAULT_TIMEOUT_MS, networkReason } from '@orchestr8/client';

/** status -1: usage (bad --server); 0: the server could not be reached; else the HTTP status. */
export class RemoteError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What to do about a server that refused the connection (nothing listens there), for the end
 * of its error line: '' for any other error.
 */
export function notRunningHint(e: { code: string; message: string }): string {
  return e.code === 'NETWORK' && e.message.includes('ECONNREFUSED')
    ? ' (is it running? `orchestr8 serve` or `orchestr8 server start` starts one)'
    : '';
}

/**
 * $NAME as a number of seconds above 0 (at most what a timer holds), in ms; `fallbackMs` when
 * unset; a string saying what is wrong with it otherwise.
 */
export function secondsFromEnv(name: string, fallbackMs: number): number | string {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallbackMs;
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds > 0 && seconds <= 2_147_483
    ? Math.max(1, Math.round(seconds * 1000)) // never 0, which the client reads as "no limit"
    : `$${name} must be a number of seconds above 0 and at most 2147483, got "${raw}"`;
}

/**
 * $ORCHESTR8_HTTP_TIMEOUT in ms, else the client's default (30 s): how long one call waits for
 * the server's whole answer, so that a hung server does not hang the command.
 */
export function httpTimeoutFromEnv(): number | string {
  return secondsFromEnv('ORCHESTR8_HTTP_TIMEOUT', DEFAULT_TIMEOUT_MS);
}

export async function callServer(
  base: string,
  apiKey: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  extraHeaders?: Readonly<Record<string, string>>,
  /** Told the response headers of an answer (not of a refusal), e.g. Idempotent-Replayed. */
  onHeaders?: (headers: Headers) => void,
): Promise<unknown> {
  const headers: Record<string, string> = { ...extraHeaders, accept: 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const limitMs = httpTimeoutFromEnv();
  if (typeof limitMs === 'string') throw new RemoteError(-1, 'USAGE', limitMs);
  const timer = AbortSignal.timeout(limitMs);
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers,
      signal: timer,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    text = await res.text();
  } catch (e) {
    if (timer.aborted)
      throw new RemoteError(0, 'TIMEOUT', `no answer from ${base} within ${limitMs / 1000} s`);
    const error = new RemoteError(0, 'NETWORK', `cannot reach ${base}: ${networkReason(e)}`);
    error.message += notRunningHint(error);
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : {};
  } catch {
    parsed = undefined;
  }
  if (res.status >= 400) {
    const p = parsed as { code?: string; detail?: string } | undefined;
    throw new RemoteError(
      res.status,
      p?.code ?? `HTTP_${res.status}`,
      p?.detail ?? (text.slice(0, 200) || res.statusText),
    );
  }
  onHeaders?.(res.headers);
  return parsed;
}

/** $ORCHESTR8_API_KEY, else the first of $ORCHESTR8_API_KEYS: the key every command sends by default. */
export function defaultApiKey(): string | undefined {
  const single = process.env.ORCHESTR8_API_KEY?.trim();
  if (single) return single;
  return (
    process.env.ORCHESTR8_API_KEYS?.split(',')
      .map((k) => k.trim())
      .find((k) => k.length > 0) || undefined
  );
}

/** `--server` as a base URL without trailing slashes; undefined when it is not an http(s) URL. */
export function serverBaseUrl(server: string): string | undefined {
  try {
    const u = new URL(server);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return u.href.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/** One call to the server named by `--server`, with `--api-key` or the default key. */
export function callServerAt(
  opts: { server?: string; apiKey?: string },
  method: string,
  path: string,
  body?: unknown,
  headers?: Readonly<Record<string, string>>,
  onHeaders?: (headers: Headers) => void,
): Promise<unknown> {
  const base = serverBaseUrl(opts.server ?? '');
  if (base === undefined)
    throw new RemoteError(-1, 'USAGE', `--server must be an http(s) URL, got "${opts.server}"`);
  return callServer(base, opts.apiKey || defaultApiKey(), method, path, body, headers, onHeaders);
}
