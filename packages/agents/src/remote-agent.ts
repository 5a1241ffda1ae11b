import { context, propagation } from '@opentelemetry/api';
import { ErrorCode, Orchestr8Error, RetryableError, TerminalError } from '@orchestr8/common';
import type { Agent } from '@orchestr8/core';
import { egressDispatcher } from './egress.js';
import {
  excerpt,
  fetchFailure,
  isJsonContentType,
  isRecord,
  linkDeadline,
  readCapped,
  retryAfterOf,
  safeUrl,
} from './http-util.js';

export interface RemoteAgentOptions {
  /** Extra request headers, e.g. `{authorization: 'Bearer ...'}` for a service that wants one. */
  headers?: Record<string, string>;
  /** Default 10 MiB; a larger response fails the step. */
  maxResponseBytes?: number;
}

/** The request body of `POST <baseUrl>/agents/<id>/execute`. */
export interface RemoteExecuteRequest {
  input: unknown;
  context: {
    executionId: string;
    stepId: string;
    attempt: number;
    idempotencyKey: string;
    config: Readonly<Record<string, unknown>>;
    /** Inside a forEach step only. */
    item?: unknown;
    index?: number;
  };
}

/** The 200 response body. */
export interface RemoteExecuteResponse {
  output: unknown;
}

/** The error response body (`application/problem+json`, RFC 9457 plus orchestr8's fields). */
export interface RemoteProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  retryable: boolean;
  retryAfterMs?: number;
  details?: unknown;
}

const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/**
 * A proxy for an agent served by `orchestr8 agent serve` (or anything speaking the same
 * protocol, see the package README): each call is `POST <baseUrl>/agents/<id>/execute`.
 * The service's problem responses come back as the same error codes, retryability and
 * Retry-After; an unreachable service is a retryable NETWORK error. The circuit-breaker
 * target is the service's host. The service must be at a public address unless the
 * operator's egress policy (`capabilities.egress.allow`) admits it: EGRESS_DENIED otherwise.
 */
export function createRemoteAgent(baseUrl: string, agentId: string, options: RemoteAgentOptions = {}): Agent {
  const base = new URL(baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`createRemoteAgent: baseUrl must be an http(s) URL, got "${baseUrl}"`);
  }
  const endpoint = `${base.href.replace(/\/+$/, '')}/agents/${encodeURIComponent(agentId)}/execute`;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const where = `remote agent "${agentId}" at ${safeUrl(endpoint)}`;
  return {
    id: agentId,
    description: `Remote agent ${agentId} at ${safeUrl(base)}`,
    target: () => base.host,
    async execute(input, ctx) {
      const context: RemoteExecuteRequest['context'] = {
        executionId: ctx.executionId,
        stepId: ctx.stepId,
        attempt: ctx.attempt,
        idempotencyKey: ctx.idempotencyKey,
        config: ctx.config,
      };
      if (ctx.index !== undefined) {
        context.item = ctx.item;
        context.index = ctx.index;
      }
      const body: RemoteExecuteRequest = { input, context };
      const deadline = linkDeadline(ctx.signal, undefined, where);
      try {
        let res: Response;
        let text: string;
        try {
          res = await fetch(endpoint, {
            method: 'POST',
            headers: withTraceContext({
              ...options.headers,
              'content-type': 'application/json',
              accept: 'application/json, application/problem+json',
              'idempotency-key': ctx.idempotencyKey,
            }),
            body: JSON.stringify(body),
            signal: deadline.signal,
            // A document names the service URL (`agent.url`): same egress policy as the http agent.
            dispatcher: egressDispatcher(ctx.capabilities.egress.allow),
          });
          const read = await readCapped(res, maxBytes);
          if (read.truncated) {
            throw new TerminalError(`${where}: the response is larger than ${maxBytes} bytes`, {
              code: 'RESPONSE_TOO_LARGE',
            });
          }
          text = read.text;
        } catch (e) {
          throw fetchFailure(e, deadline.signal, where);
        }
        if (res.status === 200 || res.status === 201) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            throw new RetryableError(`${where} answered ${res.status} with a body that is not JSON`, {
              code: ErrorCode.HTTP_5XX,
              details: { status: res.status, body: excerpt(text, 500) },
            });
          }
          if (!isRecord(parsed) || !('output' in parsed)) {
            throw new TerminalError(`${where} answered ${res.status} without an "output" field`, {
              code: ErrorCode.AGENT_FAILED,
            });
          }
          return parsed.output;
        }
        throw remoteError(res, text, where);
      } finally {
        deadline.dispose();
      }
    },
  };
}

/**
 * A problem body is trusted for `code`, `retryable`, `retryAfterMs` and `details`; without
 * one (a proxy's error page, say) the status decides: 429 and 5xx retryable, 4xx terminal.
 */
function remoteError(res: Response, text: string, where: string): Orchestr8Error {
  const status = res.status;
  let problem: Record<string, unknown> | undefined;
  if (isJsonContentType(res.headers.get('content-type'))) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isRecord(parsed)) problem = parsed;
    } catch {
      // Fall back on the status.
    }
  }
  const headerRetry = retryAfterOf(res.headers);
  if (problem && typeof problem.code === 'string') {
    const detail =
      typeof problem.detail === 'string'
        ? problem.detail
        : typeof problem.title === 'string'
          ? problem.title
          : `status ${status}`;
    const retryAfterMs =
      typeof problem.retryAfterMs === 'number' && problem.retryAfterMs >= 0
        ? problem.retryAfterMs
        : headerRetry;
    return new Orchestr8Error(problem.code, detail, {
      ...(typeof problem.retryable === 'boolean' ? { retryable: problem.retryable } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      details: problem.details === undefined ? { remote: where, status } : problem.details,
    });
  }
  const message = `${where} answered ${status}: ${excerpt(text.trim(), 300)}`;
  const details = { status };
  const after = headerRetry === undefined ? {} : { retryAfterMs: headerRetry };
  if (status === 429) return new RetryableError(message, { code: ErrorCode.HTTP_429, details, ...after });
  if (status >= 500) return new RetryableError(message, { code: ErrorCode.HTTP_5XX, details, ...after });
  if (status === 404) return new TerminalError(message, { code: ErrorCode.AGENT_NOT_FOUND, details });
  return new TerminalError(message, { code: ErrorCode.HTTP_4XX, details });
}

/** Adds the W3C trace context of the active span (the step's attempt) when the host exports traces. */
function withTraceContext(headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}
