/**
 * Problem details (RFC 9457). Every error response of the API is `application/problem+json`
 * with a stable `code`; the detail is written for people, and never carries a stack trace.
 */
import {
  ErrorCode,
  isOrchestr8Error,
  PROBLEM_CONTENT_TYPE,
  problemBody,
  problemInstance,
} from '@orchestr8/common';
import type { ErrorRequestHandler, Request, Response } from 'express';

/** Codes of HTTP problems, on top of the engine's `ErrorCode`s. Stable: never renamed. */
export const ProblemCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  INVALID_JSON: 'INVALID_JSON',
  VALIDATION: ErrorCode.VALIDATION,
  /** The document asks for more than the operator grants (403); `problems` lists each ask and how it is granted. */
  CAPABILITY_DENIED: ErrorCode.CAPABILITY_DENIED,
  NOT_FOUND: ErrorCode.NOT_FOUND,
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The request line or headers are over Node's limit (431; 16 KiB unless Node runs with --max-http-header-size). */
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  /** The request line and headers came too slowly (408). */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The `Host` header names this server by a name it does not answer to (see `--allowed-hosts`). */
  HOST_NOT_ALLOWED: 'HOST_NOT_ALLOWED',
  /** A browser request from another site: `Origin` is neither this server's own nor a `--cors-origin`, or is `null`. */
  ORIGIN_NOT_ALLOWED: 'ORIGIN_NOT_ALLOWED',
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  CONFLICT: ErrorCode.CONFLICT,
  EXECUTION_FINISHED: 'EXECUTION_FINISHED',
  /** A retry of an execution that runs, waits or completed (409): only a failed or cancelled one is retried; `executionStatus` says which it is. */
  EXECUTION_NOT_RETRYABLE: 'EXECUTION_NOT_RETRYABLE',
  /** A rerun of an execution that has not finished yet (409): wait for it, or cancel it first. */
  EXECUTION_NOT_FINISHED: 'EXECUTION_NOT_FINISHED',
  IDEMPOTENCY_KEY_INVALID: 'IDEMPOTENCY_KEY_INVALID',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** `POST /ask` (`serve --ask`): the LLM could not be asked (no provider or key, its endpoint failed or timed out), 502; `cause.code` is that error's own code. */
  PLANNER_FAILED: 'PLANNER_FAILED',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  NOT_READY: 'NOT_READY',
  STORE: ErrorCode.STORE,
  INTERNAL: ErrorCode.INTERNAL,
} as const;
export type ProblemCode = (typeof ProblemCode)[keyof typeof ProblemCode];

export { PROBLEM_TYPE_BASE, type Problem, problemBody, problemInstance } from '@orchestr8/common';

/** Thrown (or passed to `next`) by handlers; the error handler turns it into a response. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export function sendProblem(
  res: Response,
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = problemBody(status, code, detail, extensions, problemInstance(res.req?.originalUrl));
  res.status(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Errors from express's body parser (`type` is set by body-parser / raw-body). */
function bodyParserProblem(error: {
  type?: unknown;
  status?: unknown;
  limit?: unknown;
}): HttpProblem | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new HttpProblem(
        413,
        ProblemCode.PAYLOAD_TOO_LARGE,
        `the request body is larger than the limit of ${String(error.limit)} bytes`,
      );
    case 'entity.parse.failed':
      return new HttpProblem(
        400,
        ProblemCode.INVALID_JSON,
        'the request body is not valid JSON (an object or an array is expected)',
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpProblem(
        415,
        ProblemCode.UNSUPPORTED_MEDIA_TYPE,
        'unsupported request body encoding or charset',
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new HttpProblem(400, ProblemCode.BAD_REQUEST, 'the request body was incomplete');
    default:
      return undefined;
  }
}

/** Maps anything thrown by a handler to a problem. Unknown errors are 500 with a generic detail. */
export function toProblem(error: unknown): { problem: HttpProblem; internal: boolean } {
  if (error instanceof HttpProblem) return { problem: error, internal: false };
  if (typeof error === 'object' && error !== null && 'type' in error) {
    const p = bodyParserProblem(error as { type?: unknown });
    if (p) return { problem: p, internal: false };
  }
  // http-errors from express itself (a malformed percent-encoding in the path, say).
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500 && !isOrchestr8Error(error)) {
    // The router's decoding of a path parameter: "Failed to decode param '<raw>'".
    const param = error instanceof URIError ? /^Failed to decode param '(.*)'$/s.exec(error.message) : null;
    const detail = param
      ? `the path has a malformed percent-encoding in ${JSON.stringify(param[1]!.slice(0, 200))}: a % must be followed by two hex digits, and the bytes must be UTF-8`
      : 'malformed request';
    return { problem: new HttpProblem(400, ProblemCode.BAD_REQUEST, detail), internal: false };
  }
  if (isOrchestr8Error(error)) {
    switch (error.code) {
      case ErrorCode.VALIDATION:
        return {
          problem: new HttpProblem(
            422,
            ProblemCode.VALIDATION,
            error.message,
            Array.isArray(error.details) ? { errors: error.details } : {},
          ),
          internal: false,
        };
      case ErrorCode.CAPABILITY_DENIED: {
        // The document asks for more than the operator grants: say what, and how it is granted.
        const problems = (error.details as { problems?: unknown } | undefined)?.problems;
        return {
          problem: new HttpProblem(
            403,
            ProblemCode.CAPABILITY_DENIED,
            error.message,
            Array.isArray(problems) ? { problems } : {},
          ),
          internal: false,
        };
      }
      case ErrorCode.NOT_FOUND:
        return { problem: new HttpProblem(404, ProblemCode.NOT_FOUND, error.message), internal: false };
      case ErrorCode.CONFLICT:
        return { problem: new HttpProblem(409, ProblemCode.CONFLICT, error.message), internal: false };
      case ErrorCode.STORE:
        return {
          problem: new HttpProblem(
            503,
            ProblemCode.STORE,
            'the store is unavailable; try again later',
            {},
            { 'Retry-After': '1' },
          ),
          internal: true,
        };
      default:
        break;
    }
  }
  return { problem: new HttpProblem(500, ProblemCode.INTERNAL, 'internal server error'), internal: true };
}

export interface ServerLogger {
  /** `data`: structured fields (request logs carry method, path, status, durationMs, requestId...). */
  info(message: string, data?: Record<string, unknown>): void;
  /** Whether `info` lines are written now; when false, request lines are not even built. */
  infoEnabled?(): boolean;
  error(message: string, error?: unknown, data?: Record<string, unknown>): void;
}

export const silentLogger: ServerLogger = { info: () => {}, error: () => {} };

/** The last middleware: every error becomes a problem response; internal ones are logged, not shown. */
export function errorHandler(logger: ServerLogger): ErrorRequestHandler {
  return (error: unknown, req: Request, res: Response, _next) => {
    const { problem, internal } = toProblem(error);
    if (internal)
      logger.error(`${req.method} ${req.originalUrl.split('?')[0]} failed`, error, {
        requestId: res.locals.requestId,
      });
    for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
    sendProblem(res, problem.status, problem.code, problem.message, problem.extensions);
  };
}
