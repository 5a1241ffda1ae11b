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

export function localKeyStore(storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>): KeyStore {
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

/** How long a GET may take before it fails with TIMEOUT: a lost request must not stop a page. */
export const GET_TIMEOUT_MS = 30_000;

export interface Api {
  /** Fails with status 0 and code TIMEOUT after `timeoutMs` (default 30 s) without the whole answer. */
  get<T>(path: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<T>;
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
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
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const origin = options.origin ?? globalThis.location?.origin;
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
  return {
    fetch: raw,
    async get<T>(path: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}) {
      // A timer of the page's own (not AbortSignal.timeout), so that tests can move it on.
      const limit = opts.timeoutMs ?? GET_TIMEOUT_MS;
      const abort = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, limit);
      const onAbort = () => abort.abort();
      if (opts.signal?.aborted) abort.abort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return (await (await raw(path, { signal: abort.signal })).json()) as T;
      } catch (e) {
        if (!timedOut) throw e;
        throw new ApiError(
          0,
          'TIMEOUT',
          `the orchestr8 server ${origin ? `at ${origin} ` : ''}did not answer within ${limit / 1000} s`,
        );
      } finally {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      }
    },
    async post<T>(path: string, body?: unknown, headers: Record<string, string> = {}) {
      const res = await raw(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body ?? {}),
      });
      const text = await res.text();
      return (text ? JSON.parse(text) : {}) as T;
    },
  };
}

export const enc = encodeURIComponent;
