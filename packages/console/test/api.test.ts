import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ApiError, createApi, REQUEST_TIMEOUT_MS } from '../app/lib/api.js';

const keys = { get: () => undefined, set: () => {} };

/** A fetch that never answers; it fails as a browser's does when its signal aborts. */
const silent: typeof fetch = (_input, init) =>
  new Promise((_, reject) => {
    init?.signal?.addEventListener('abort', () =>
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
    );
  });

afterEach(() => {
  vi.useRealTimers();
});

describe('console api', () => {
  it('fails a read with no answer after 30 s with TIMEOUT, naming the server', async () => {
    vi.useFakeTimers();
    const api = createApi(keys, { fetch: silent, origin: 'http://127.0.0.1:8080' });
    const read = api.get('/executions').catch((e: ApiError) => e);
    await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS - 1);
    let settled = false;
    void read.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const e = (await read) as ApiError;
    expect(e).toMatchObject({ status: 0, code: 'TIMEOUT' });
    expect(e.message).toBe('the orchestr8 server at http://127.0.0.1:8080 did not answer within 30 s');
  });

  it('fails an action with no answer after 30 s with TIMEOUT, saying it may have been done', async () => {
    vi.useFakeTimers();
    const api = createApi(keys, { fetch: silent, origin: 'http://127.0.0.1:8080' });
    const act = api.post('/executions/x/cancel', {}).catch((e: ApiError) => e);
    await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS);
    const e = (await act) as ApiError;
    expect(e).toMatchObject({ status: 0, code: 'TIMEOUT' });
    expect(e.message).toContain('did not answer within 30 s');
    expect(e.message).toContain('may have been done all the same');
  });

  it('fails a request that changes nothing (a validation, a dry run) after 30 s without saying it may have been done', async () => {
    vi.useFakeTimers();
    const api = createApi(keys, { fetch: silent, origin: 'http://127.0.0.1:8080' });
    const check = api
      .post('/workflows/validate', { document: {} }, {}, { changesNothing: true })
      .catch((e: ApiError) => e);
    await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS);
    const e = (await check) as ApiError;
    expect(e).toMatchObject({ status: 0, code: 'TIMEOUT' });
    expect(e.message).toBe('the orchestr8 server at http://127.0.0.1:8080 did not answer within 30 s');
  });

  it('sends an action with its headers and returns its answer; a caller abort of a read is not a TIMEOUT', async () => {
    const seen: RequestInit[] = [];
    const answering: typeof fetch = async (_input, init) => {
      seen.push(init ?? {});
      return new Response(JSON.stringify({ executionId: 'e1' }), { status: 202 });
    };
    const api = createApi(keys, { fetch: answering, origin: 'http://h' });
    expect(await api.post('/workflows/execute', { a: 1 }, { 'idempotency-key': 'k1' })).toEqual({
      executionId: 'e1',
    });
    const sent = seen[0]!;
    expect(sent.method).toBe('POST');
    expect((sent.headers as Record<string, string>)['idempotency-key']).toBe('k1');
    expect(sent.body).toBe('{"a":1}');

    const abort = new AbortController();
    const read = createApi(keys, { fetch: silent }).get('/x', { signal: abort.signal });
    abort.abort();
    await expect(read).rejects.toMatchObject({ name: 'AbortError' });
  });
});
