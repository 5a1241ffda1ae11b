import { context, propagation } from '@opentelemetry/api';
import { defineAgent } from '@orchestr8/agent-base';
import { ErrorCode, RetryableError, TerminalError, ValidationError } from '@orchestr8/common';
import { GrantDenied } from '@orchestr8/core';
import { literalString } from './agent-grants.js';
import { EGRESS_GRANT, egressDispatcher, literalAddressRefusal } from './egress.js';
import {
  discardBody,
  excerpt,
  fetchFailure,
  isJsonContentType,
  isRecord,
  linkDeadline,
  readCapped,
  retryAfterOf,
  safeUrl,
} from './http-util.js';

type Scalar = string | number | boolean;

export interface HttpInput {
  url: string;
  method?: string;
  headers?: Record<string, Scalar>;
  query?: Record<string, Scalar | null | Scalar[]>;
  /** A string is sent as is (text/plain unless a content-type header says otherwise); any other value as JSON. */
  body?: unknown;
  /** Always sent as JSON, even a string. */
  json?: unknown;
  /** Statuses that count as success: one, a list, or "2xx"-style classes. Default: 2xx. */
  expectStatus?: number | string | (number | string)[];
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** "auto" (default): parse JSON when the content-type is JSON; "json": always (fails if not JSON); "text": never. */
  responseType?: 'auto' | 'json' | 'text';
  /** Send `Idempotency-Key: <ctx.idempotencyKey>`. Default: true for POST and PATCH, false otherwise. */
  sendIdempotencyKey?: boolean;
  /** Default true; false returns 3xx responses as they are. */
  followRedirects?: boolean;
}

export interface HttpOutput {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export const HTTP_DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
const ERROR_BODY_BYTES = 16 * 1024;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * Header and field names journalled as `[redacted]` wherever they appear in the input
 * (redaction matches field names exactly, so the common spellings are all listed).
 */
export const HTTP_SECRET_FIELDS: readonly string[] = [
  'authorization',
  'Authorization',
  'AUTHORIZATION',
  'proxy-authorization',
  'Proxy-Authorization',
  'cookie',
  'Cookie',
  'x-api-key',
  'X-Api-Key',
  'X-API-Key',
  'X-API-KEY',
  'api-key',
  'Api-Key',
  'apiKey',
  'token',
  'accessToken',
  'password',
  'secret',
  'clientSecret',
];

const scalar = { type: ['string', 'number', 'boolean'] };
const statusSpec = {
  anyOf: [
    { type: 'integer', minimum: 100, maximum: 599 },
    { type: 'string', pattern: '^[1-5]xx$' },
  ],
};

const inputSchema = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: {
      type: 'string',
      minLength: 1,
      description:
        'An absolute http(s) URL. Only public addresses are reachable (redirects included) unless the operator allows more in capabilities.egress.allow; anything else fails with EGRESS_DENIED.',
    },
    method: { type: 'string', description: 'GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.' },
    headers: { type: 'object', additionalProperties: scalar },
    query: {
      type: 'object',
      additionalProperties: { anyOf: [scalar, { type: 'null' }, { type: 'array', items: scalar }] },
    },
    body: { description: 'A string is sent as text; anything else as JSON.' },
    json: { description: 'Sent as JSON.' },
    expectStatus: { anyOf: [statusSpec, { type: 'array', items: statusSpec, minItems: 1 }] },
    timeoutMs: { type: 'number', exclusiveMinimum: 0 },
    maxResponseBytes: { type: 'integer', minimum: 0 },
    responseType: { enum: ['auto', 'json', 'text'] },
    sendIdempotencyKey: { type: 'boolean' },
    followRedirects: { type: 'boolean' },
  },
} as const;

const outputSchema = {
  type: 'object',
  required: ['status', 'headers', 'body'],
  properties: {
    status: { type: 'integer' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    body: {},
  },
} as const;

/**
 * Calls an HTTP endpoint with the global `fetch`. Unexpected statuses become errors the
 * retry policy understands: 5xx and 429 are retryable (honouring Retry-After), other 4xx
 * are terminal. The circuit-breaker target is the URL's host. Connections, redirect hops
 * included, go only where the operator's egress policy allows (see egress.ts).
 */
export const httpAgent = defineAgent<HttpInput, HttpOutput>({
  id: '@orchestr8/http',
  version: '1.0.0',
  description: 'Calls an HTTP endpoint; maps 5xx/429/network failures to retryable errors.',
  inputSchema,
  outputSchema,
  secretFields: HTTP_SECRET_FIELDS,
  // A literal URL to a private or loopback address is refused before the execution is recorded.
  grantInput(input, _config, capabilities) {
    const url = literalString(isRecord(input) ? input.url : undefined);
    const refused = url === undefined ? undefined : literalAddressRefusal(capabilities.egress.allow, url);
    if (refused !== undefined) throw new GrantDenied('egress', refused, EGRESS_GRANT);
  },
  target(input) {
    try {
      return new URL(input.url).host;
    } catch {
      return undefined;
    }
  },
  async execute(input, ctx) {
    const config = ctx.config;
    const url = buildUrl(input);
    const method = (input.method ?? 'GET').toUpperCase();
    if (!METHODS.includes(method)) throw new ValidationError(`http: unsupported method "${input.method}"`);
    const headers = new Headers();
    for (const source of [config.headers, input.headers]) {
      if (!isRecord(source)) continue;
      for (const [name, value] of Object.entries(source)) headers.set(name, String(value));
    }
    if (!headers.has('user-agent')) headers.set('user-agent', 'orchestr8-http/1.0');
    const body = encodeBody(input, method, headers);
    const sendKey = input.sendIdempotencyKey ?? (method === 'POST' || method === 'PATCH');
    if (sendKey && !headers.has('idempotency-key')) headers.set('idempotency-key', ctx.idempotencyKey);
    // W3C trace context of the step's attempt span (a no-op unless the host exports traces).
    if (!headers.has('traceparent')) propagation.inject(context.active(), headers, headerSetter);

    const timeoutMs = input.timeoutMs ?? numberOr(config.timeoutMs, undefined);
    const maxBytes =
      input.maxResponseBytes ?? numberOr(config.maxResponseBytes, HTTP_DEFAULT_MAX_RESPONSE_BYTES);
    const where = `${method} ${safeUrl(url)}`;
    const deadline = linkDeadline(ctx.signal, timeoutMs, `http: ${where}`);
    try {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers,
          body,
          signal: deadline.signal,
          redirect: input.followRedirects === false ? 'manual' : 'follow',
          // Checks every connection, redirect hops included, against the operator's egress policy.
          dispatcher: egressDispatcher(ctx.capabilities.egress.allow),
        });
      } catch (e) {
        throw fetchFailure(e, deadline.signal, `http: ${where}`);
      }
      try {
        if (!statusExpected(res.status, input.expectStatus)) throw await statusError(res, where);
        const declared = Number(res.headers.get('content-length'));
        if (Number.isFinite(declared) && declared > maxBytes) {
          await discardBody(res);
          throw tooLarge(where, maxBytes, declared);
        }
        const read = method === 'HEAD' ? { text: '', truncated: false } : await readCapped(res, maxBytes);
        if (read.truncated) throw tooLarge(where, maxBytes);
        return {
          status: res.status,
          headers: headersOf(res.headers),
          body: decodeBody(read.text, res.headers.get('content-type'), input.responseType ?? 'auto', where),
        };
      } catch (e) {
        if (deadline.signal.aborted) throw fetchFailure(e, deadline.signal, `http: ${where}`);
        throw e;
      }
    } finally {
      deadline.dispose();
    }
  },
});

const headerSetter = { set: (h: Headers, key: string, value: string) => h.set(key, value) };

function numberOr<T>(value: unknown, fallback: T): number | T {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function buildUrl(input: HttpInput): URL {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new ValidationError(`http: "${input.url}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(`http: only http and https URLs are supported, got "${url.protocol}"`);
  }
  for (const [name, value] of Object.entries(input.query ?? {})) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) url.searchParams.append(name, String(v));
    else url.searchParams.append(name, String(value));
  }
  return url;
}

function encodeBody(input: HttpInput, method: string, headers: Headers): string | undefined {
  const hasBody = input.body !== undefined;
  const hasJson = input.json !== undefined;
  if (hasBody && hasJson) throw new ValidationError('http: give either body or json, not both');
  if (!hasBody && !hasJson) return undefined;
  if (method === 'GET' || method === 'HEAD') {
    throw new ValidationError(`http: a ${method} request cannot have a body`);
  }
  if (hasBody && typeof input.body === 'string') {
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain; charset=utf-8');
    return input.body;
  }
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return JSON.stringify(hasJson ? input.json : input.body);
}

function statusExpected(status: number, spec: HttpInput['expectStatus']): boolean {
  if (spec === undefined) return status >= 200 && status < 300;
  const list = Array.isArray(spec) ? spec : [spec];
  return list.some((s) =>
    typeof s === 'number' ? s === status : /^[1-5]xx$/i.test(s) && Math.floor(status / 100) === Number(s[0]),
  );
}

async function statusError(res: Response, where: string): Promise<Error> {
  let bodyExcerpt = '';
  try {
    bodyExcerpt = excerpt((await readCapped(res, ERROR_BODY_BYTES)).text, 1000);
  } catch {
    // The status is what matters; an unreadable error body is not worth failing differently.
  }
  const status = res.status;
  const details = { status, url: where, body: bodyExcerpt };
  const message = `http: ${where} answered ${status}${res.statusText ? ` ${res.statusText}` : ''}`;
  const retryAfterMs = retryAfterOf(res.headers);
  const after = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (status === 429) return new RetryableError(message, { code: ErrorCode.HTTP_429, details, ...after });
  if (status >= 500) return new RetryableError(message, { code: ErrorCode.HTTP_5XX, details, ...after });
  if (status === 408) return new RetryableError(message, { code: ErrorCode.TIMEOUT, details, ...after });
  if (status >= 400) return new TerminalError(message, { code: ErrorCode.HTTP_4XX, details });
  return new TerminalError(`${message}, which is not an expected status`, { code: 'HTTP_STATUS', details });
}

function tooLarge(where: string, max: number, declared?: number): TerminalError {
  return new TerminalError(
    `http: the response of ${where} is larger than maxResponseBytes (${max} bytes${
      declared === undefined ? '' : `; content-length ${declared}`
    })`,
    { code: 'RESPONSE_TOO_LARGE', details: { maxResponseBytes: max } },
  );
}

function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name === '__proto__') return;
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  });
  return out;
}

function decodeBody(text: string, contentType: string | null, mode: 'auto' | 'json' | 'text', where: string) {
  if (mode === 'text') return text;
  const json = mode === 'json' || isJsonContentType(contentType);
  if (!json) return text;
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    if (mode === 'auto') return text;
    throw new TerminalError(`http: the response of ${where} is not valid JSON`, {
      code: ErrorCode.VALIDATION,
      cause: e,
      details: { body: excerpt(text, 1000) },
    });
  }
}
