import { networkReason } from './network-reason.js';
import { parseSse, type SseMessage } from './sse.js';
import type {
  ExecuteBody,
  Execution,
  ExecutionEvent,
  ExecutionStatus,
  ExecutionSummary,
  JournalEntry,
  Page,
  Problem,
  WorkflowDefinition,
  WorkflowListItem,
  WorkflowVersion,
} from './types.js';

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:8088`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /**
   * How long one call may wait for the server's whole answer, in ms; a call that waits longer
   * fails with status 0 and code `TIMEOUT` (a server that accepted the connection and hangs,
   * a network that dropped it silently). `execute` with `wait` gets `wait` on top. 0: no limit.
   * Default 30,000.
   */
  timeoutMs?: number;
}

/** The default of `ClientOptions.timeoutMs`. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** The default of `EventsOptions.idleTimeoutMs`: three of the server's keep-alives (every 15 s). */
export const DEFAULT_IDLE_TIMEOUT_MS = 45_000;

/** Any failed call: an HTTP problem (status >= 400), or a network failure (status 0, code NETWORK). */
export class Orchestr8ClientError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    problem?: Problem,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'Orchestr8ClientError';
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

export interface ExecuteOptions {
  /** Sent as `Idempotency-Key`: retrying with it never starts a second execution. */
  idempotencyKey?: string;
  /** Seconds to wait for the result (`Prefer: wait`). */
  wait?: number;
  signal?: AbortSignal;
}

export interface ExecuteResponse {
  execution: Execution;
  /** True when the execution finished within `wait` (HTTP 200). */
  finished: boolean;
  /** True when the Idempotency-Key matched an earlier request. */
  replayed: boolean;
  /** `/executions/<id>`. */
  location: string;
}

export interface EventsOptions {
  /** Resume after this event id. */
  lastEventId?: string;
  signal?: AbortSignal;
  /**
   * The stream fails with status 0 and code `TIMEOUT` when nothing arrives for this long, in ms,
   * not even the server's keep-alive comment (sent every 15 s unless the server was set up
   * otherwise: keep this above its interval). 0: wait for ever. Default 45,000.
   */
  idleTimeoutMs?: number;
}

export interface Orchestr8Client {
  execute(body: ExecuteBody, options?: ExecuteOptions): Promise<ExecuteResponse>;
  getExecution(id: string, options?: { signal?: AbortSignal }): Promise<Execution>;
  listExecutions(query?: {
    status?: ExecutionStatus | ExecutionStatus[];
    workflowId?: string;
    limit?: number;
    cursor?: string;
  }): Promise<Page<ExecutionSummary>>;
  /** One page of the journal; pass `nextCursor` back for the next. */
  journal(
    id: string,
    options?: { cursor?: number; limit?: number },
  ): Promise<{ entries: JournalEntry[]; nextCursor?: number }>;
  cancel(id: string, options?: { reason?: string }): Promise<Execution>;
  /** The events of one execution (journal replay, then live); ends after its terminal event. */
  events(id: string, options?: EventsOptions): AsyncGenerator<SseMessage<ExecutionEvent>>;
  /** The live events of every execution; never ends on its own (abort the signal). */
  allEvents(
    options?: EventsOptions & { workflowId?: string },
  ): AsyncGenerator<SseMessage<ExecutionEvent | { reason: string }>>;
  putWorkflow(
    document: Record<string, unknown>,
    options?: { ifMatch?: string; ifNoneMatch?: '*' },
  ): Promise<{ workflow: WorkflowVersion; etag: string; created: boolean }>;
  getWorkflow(id: string, options?: { version?: string }): Promise<WorkflowDefinition & { etag: string }>;
  listWorkflows(): Promise<WorkflowListItem[]>;
}

const enc = encodeURIComponent;

/**
 * A typed client of the orchestr8 HTTP API.
 *
 * @example
 * const client = createClient({ baseUrl: 'http://127.0.0.1:8088' });
 * const { execution } = await client.execute({ workflowId: 'hello-world', inputs: { name: 'Ada' } }, { wait: 30 });
 * for await (const e of client.events(execution.executionId)) console.log(e.event, e.data.stepId);
 */
export function createClient(options: ClientOptions): Orchestr8Client {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const auth: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  const timeoutMs = checkedMs('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const timedOut = (ms: number, what: string) =>
    new Orchestr8ClientError(0, 'TIMEOUT', `no ${what} from ${base} within ${seconds(ms)}`);

  /**
   * One call. Unless `streamed`, the whole answer is read within the time limit (a server can
   * hang after its headers as well as before them); a streamed call's limit is the caller's.
   */
  async function request(
    method: string,
    path: string,
    init: {
      body?: unknown;
      headers?: Record<string, string>;
      signal?: AbortSignal | undefined;
      extraMs?: number;
      streamed?: boolean;
    } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...auth, ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    // Capped at what a Node timer can hold: past it, a timer fires at once.
    const limit =
      init.streamed || timeoutMs === 0 ? 0 : Math.min(timeoutMs + (init.extraMs ?? 0), MAX_TIMER_MS);
    const timer = limit > 0 ? AbortSignal.timeout(limit) : undefined;
    const signal = timer && init.signal ? AbortSignal.any([init.signal, timer]) : (timer ?? init.signal);
    try {
      const res = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        ...(signal ? { signal } : {}),
      });
      if (res.status >= 400) throw await problemError(res);
      if (init.streamed) return res;
      const body = NO_BODY.has(res.status) ? null : await res.arrayBuffer();
      // No statusText: a reason phrase beyond Latin-1 (which fetch accepts) would make this throw.
      return new Response(body, { status: res.status, headers: res.headers });
    } catch (e) {
      if (timer?.aborted && !init.signal?.aborted) throw timedOut(limit, 'answer');
      if (e instanceof Orchestr8ClientError || (e as { name?: string }).name === 'AbortError') throw e;
      throw new Orchestr8ClientError(0, 'NETWORK', `cannot reach ${base}: ${networkReason(e)}`, undefined, {
        cause: e,
      });
    }
  }

  /** An event stream: its headers within `timeoutMs`, then something at least every `idleTimeoutMs`. */
  async function* stream<T>(path: string, opts: EventsOptions): AsyncGenerator<SseMessage<T>> {
    const idleMs = checkedMs('idleTimeoutMs', opts.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    const abort = new AbortController();
    const onAbort = () => abort.abort(opts.signal?.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let silent: { ms: number; what: string } | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (ms: number, what: string) => {
      clearTimeout(timer);
      if (ms > 0)
        timer = setTimeout(() => {
          silent = { ms, what };
          abort.abort();
        }, ms);
    };
    try {
      arm(timeoutMs, 'answer');
      const res = await request('GET', path, {
        headers: {
          accept: 'text/event-stream',
          ...(opts.lastEventId !== undefined ? { 'last-event-id': opts.lastEventId } : {}),
        },
        signal: abort.signal,
        streamed: true,
      });
      if (!res.body) return;
      const data = () => arm(idleMs, 'data');
      data();
      for await (const m of parseSse<T>(res.body, data)) {
        // The time the caller spends on a message is not the server's silence.
        clearTimeout(timer);
        yield m;
        data();
      }
    } catch (e) {
      if (silent) throw timedOut(silent.ms, silent.what);
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  return {
    async execute(body, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
      if (opts.wait !== undefined && opts.wait > 0) headers.prefer = `wait=${Math.ceil(opts.wait)}`;
      const res = await request('POST', '/workflows/execute', {
        body,
        headers,
        signal: opts.signal,
        extraMs: opts.wait !== undefined && opts.wait > 0 ? Math.ceil(opts.wait) * 1000 : 0,
      });
      return {
        execution: (await res.json()) as Execution,
        finished: res.status === 200,
        replayed: res.headers.get('idempotent-replayed') === 'true',
        location: res.headers.get('location') ?? '',
      };
    },
    async getExecution(id, opts = {}) {
      return (await (
        await request('GET', `/executions/${enc(id)}`, { signal: opts.signal })
      ).json()) as Execution;
    },
    async listExecutions(query = {}) {
      const q = new URLSearchParams();
      if (query.status !== undefined) q.set('status', ([] as string[]).concat(query.status).join(','));
      if (query.workflowId !== undefined) q.set('workflowId', query.workflowId);
      if (query.limit !== undefined) q.set('limit', String(query.limit));
      if (query.cursor !== undefined) q.set('cursor', query.cursor);
      const qs = q.toString();
      return (await (
        await request('GET', `/executions${qs ? `?${qs}` : ''}`)
      ).json()) as Page<ExecutionSummary>;
    },
    async journal(id, opts = {}) {
      const q = new URLSearchParams();
      if (opts.cursor !== undefined) q.set('cursor', String(opts.cursor));
      if (opts.limit !== undefined) q.set('limit', String(opts.limit));
      const qs = q.toString();
      const res = await request('GET', `/executions/${enc(id)}/journal${qs ? `?${qs}` : ''}`, {
        headers: { accept: 'application/x-ndjson' },
      });
      const text = await res.text();
      const entries = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as JournalEntry);
      const next = /[?&]cursor=(\d+)[^>]*>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
      return next ? { entries, nextCursor: Number(next[1]) } : { entries };
    },
    async cancel(id, opts = {}) {
      const res = await request('POST', `/executions/${enc(id)}/cancel`, {
        body: opts.reason !== undefined ? { reason: opts.reason } : {},
      });
      return (await res.json()) as Execution;
    },
    events(id, opts = {}) {
      return stream<ExecutionEvent>(`/executions/${enc(id)}/events`, opts);
    },
    allEvents(opts = {}) {
      const q = opts.workflowId !== undefined ? `?workflowId=${enc(opts.workflowId)}` : '';
      return stream<ExecutionEvent | { reason: string }>(`/events${q}`, opts);
    },
    async putWorkflow(document, opts = {}) {
      const id = (document.metadata as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string') throw new TypeError('putWorkflow: the document has no metadata.id');
      const headers: Record<string, string> = {};
      if (opts.ifMatch !== undefined) headers['if-match'] = opts.ifMatch;
      if (opts.ifNoneMatch !== undefined) headers['if-none-match'] = opts.ifNoneMatch;
      const res = await request('PUT', `/workflows/${enc(id)}`, { body: document, headers });
      return {
        workflow: (await res.json()) as WorkflowVersion,
        etag: res.headers.get('etag') ?? '',
        created: res.status === 201,
      };
    },
    async getWorkflow(id, opts = {}) {
      const q = opts.version !== undefined ? `?version=${enc(opts.version)}` : '';
      const res = await request('GET', `/workflows/${enc(id)}${q}`);
      return { ...((await res.json()) as WorkflowDefinition), etag: res.headers.get('etag') ?? '' };
    },
    async listWorkflows() {
      return ((await (await request('GET', '/workflows')).json()) as { items: WorkflowListItem[] }).items;
    },
  };
}

/** The longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

/** Statuses whose answer has no body (a Response built with one throws). */
const NO_BODY = new Set([101, 204, 205, 304]);

const seconds = (ms: number) => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;

/** A time limit in ms: `fallback` when unset; a negative or non-number one is a caller's mistake. */
function checkedMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0) || value > MAX_TIMER_MS)
    throw new RangeError(`${name} must be a number of milliseconds from 0 to 2147483647, got ${value}`);
  return value;
}

async function problemError(res: Response): Promise<Orchestr8ClientError> {
  let problem: Problem | undefined;
  const text = await res.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as Problem;
    if (parsed && typeof parsed === 'object' && typeof parsed.code === 'string') problem = parsed;
  } catch {
    // not a problem document (a proxy's error page, say)
  }
  const code = problem?.code ?? `HTTP_${res.status}`;
  const message = problem?.detail ?? (text.slice(0, 200) || res.statusText);
  return new Orchestr8ClientError(res.status, code, `${res.status} ${code}: ${message}`, problem);
}
