/**
 * Calls to the server this page came from. With API keys on, the key entered once is kept in
 * this browser's localStorage and sent as `Authorization: Bearer`; a 401 asks for it again.
 * When the server does not answer at all, the error says so and names its address.
 */
export const API_KEY_STORAGE = 'orchestr8.apiKey';

export interface KeyStore {
  get(): string | undefined;
  set(key: string | undefined): void;
}

/** The part of the browser's Storage the key needs (written out: tests compile without the DOM's types). */
interface KeyStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function localKeyStore(storage: KeyStorage): KeyStore {
  return {
    get: () => storage.getItem(API_KEY_STORAGE) ?? undefined,
    set: (key) => (key ? storage.setItem(API_KEY_STORAGE, key) : storage.removeItem(API_KEY_STORAGE)),
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problem?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * How long a request may take before it fails with TIMEOUT: a lost request must not stop a
 * page, nor leave an action's button busy for good.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface Api {
  /** Fails with status 0 and code TIMEOUT after `timeoutMs` (default 30 s) without the whole answer. */
  get<T>(path: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<T>;
  /**
   * Fails like `get` after `timeoutMs` (default 30 s); the error then says the action may have
   * been done all the same (the server may have acted and its answer been lost), unless
   * `changesNothing` (a validation, a dry run).
   */
  post<T>(
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    options?: { timeoutMs?: number; changesNothing?: boolean },
  ): Promise<T>;
  /** The raw response (journal pages are NDJSON; streams are read by sse.ts). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export function authHeaders(keys: KeyStore): Record<string, string> {
  const key = keys.get();
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function problemOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let p: Record<string, unknown> | undefined;
  try {
    p = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not a problem document
  }
  const code = typeof p?.code === 'string' ? p.code : `HTTP_${res.status}`;
  const detail = typeof p?.detail === 'string' ? p.detail : text.slice(0, 300) || res.statusText;
  return new ApiError(res.status, code, detail, p);
}

/** The error of a request no server answered (refused, reset, no network): code UNREACHABLE, status 0. */
export function unreachable(origin: string | undefined): ApiError {
  // The browser's own message ("Failed to fetch") says nothing more, so it is not repeated.
  return new ApiError(
    0,
    'UNREACHABLE',
    `the orchestr8 server ${origin ? `at ${origin} ` : ''}does not answer (is it running?)`,
  );
}

export function createApi(
  keys: KeyStore,
  options: {
    fetch?: typeof fetch;
    /** Called on a 401; `sentKey` says whether a key was sent (and so refused) or none was. */
    onUnauthorized?: (info: { sentKey: boolean }) => void;
    /** The server's address, named when it does not answer (the page's origin by default). */
    origin?: string;
  } = {},
): Api {
  const doFetch =
    options.fetch ?? ((input: string | URL | Request, init?: RequestInit) => fetch(input, init));
  const origin = options.origin ?? (globalThis as { location?: { origin: string } }).location?.origin;
  const raw = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const auth = authHeaders(keys);
    let res: Response;
    try {
      res = await doFetch(path, {
        ...init,
        headers: {
          accept: 'application/json',
          ...auth,
          ...(init.headers as Record<string, string>),
        },
      });
    } catch (e) {
      // An abort is the caller's own doing; anything else means no answer from the server.
      if ((e as Error)?.name === 'AbortError') throw e;
      throw unreachable(origin);
    }
    if (res.status === 401) options.onUnauthorized?.({ sentKey: auth.authorization !== undefined });
    if (res.status >= 400) throw await problemOf(res);
    return res;
  };
  /**
   * `call` with a signal that aborts after `limit` ms (a timer of the page's own, not
   * AbortSignal.timeout, so that tests can move it on) or when `signal` does; a call cut off
   * by the limit fails with TIMEOUT, `afterwards` added to its message.
   */
  const limited = async <T>(
    limit: number,
    signal: AbortSignal | undefined,
    afterwards: string,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> => {
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, limit);
    const onAbort = () => abort.abort();
    if (signal?.aborted) abort.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await call(abort.signal);
    } catch (e) {
      if (!timedOut) throw e;
      throw new ApiError(
        0,
        'TIMEOUT',
        `the orchestr8 server ${origin ? `at ${origin} ` : ''}did not answer within ${limit / 1000} s${afterwards}`,
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  };
  return {
    fetch: raw,
    get<T>(path: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}) {
      return limited(opts.timeoutMs ?? REQUEST_TIMEOUT_MS, opts.signal, '', async (signal) => {
        return (await (await raw(path, { signal })).json()) as T;
      });
    },
    post<T>(
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
      opts: { timeoutMs?: number; changesNothing?: boolean } = {},
    ) {
      const afterwards = opts.changesNothing
        ? ''
        : ': it may have been done all the same; look before trying again';
      return limited(opts.timeoutMs ?? REQUEST_TIMEOUT_MS, undefined, afterwards, async (signal) => {
        const res = await raw(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body ?? {}),
          signal,
        });
        const text = await res.text();
        return (text ? JSON.parse(text) : {}) as T;
      });
    },
  };
}

export const enc = encodeURIComponent;
