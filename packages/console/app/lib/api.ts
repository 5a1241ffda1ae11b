/**
 * Calls to the server this page came from. With API keys on, the key entered once is kept in
 * this browser's localStorage and sent as `Authorization: Bearer`; a 401 asks for it again.
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

export interface Api {
  get<T>(path: string): Promise<T>;
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

export function createApi(
  keys: KeyStore,
  options: { fetch?: typeof fetch; onUnauthorized?: () => void } = {},
): Api {
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const raw = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const res = await doFetch(path, {
      ...init,
      headers: {
        accept: 'application/json',
        ...authHeaders(keys),
        ...(init.headers as Record<string, string>),
      },
    });
    if (res.status === 401) options.onUnauthorized?.();
    if (res.status >= 400) throw await problemOf(res);
    return res;
  };
  return {
    fetch: raw,
    async get<T>(path: string) {
      return (await (await raw(path)).json()) as T;
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
