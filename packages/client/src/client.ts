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
}

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

  async function request(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...auth, ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (e) {
      if ((e as { name?: string }).name === 'AbortError') throw e;
      throw new Orchestr8ClientError(
        0,
        'NETWORK',
        `cannot reach ${base}: ${(e as Error).message}`,
        undefined,
        { cause: e },
      );
    }
    if (res.status >= 400) throw await problemError(res);
    return res;
  }

  async function* stream<T>(path: string, opts: EventsOptions): AsyncGenerator<SseMessage<T>> {
    const res = await request('GET', path, {
      headers: {
        accept: 'text/event-stream',
        ...(opts.lastEventId !== undefined ? { 'last-event-id': opts.lastEventId } : {}),
      },
      signal: opts.signal,
    });
    if (!res.body) return;
    yield* parseSse<T>(res.body);
  }

  return {
    async execute(body, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
      if (opts.wait !== undefined && opts.wait > 0) headers.prefer = `wait=${Math.ceil(opts.wait)}`;
      const res = await request('POST', '/workflows/execute', { body, headers, signal: opts.signal });
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
