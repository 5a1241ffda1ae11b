/**
 * Problem details (RFC 9457): the body of every error answer of orchestr8's HTTP surfaces
 * (the server, and the streams and triggers routers it mounts), built here so that they
 * all answer alike without depending on one another. Writing the answer on a plain Node
 * response is send-problem.ts's `sendProblem`; the express surfaces write their own.
 */

/** Where problem types live: `type` is this plus the code in kebab case. */
export const PROBLEM_TYPE_BASE = 'https://orchestr8.dev/problems/';

/** The media type of a problem answer. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  [extension: string]: unknown;
}

/** `https://orchestr8.dev/problems/idempotency-key-reused` for `IDEMPOTENCY_KEY_REUSED`. */
export function problemType(code: string): string {
  return `${PROBLEM_TYPE_BASE}${code.toLowerCase().replace(/_/g, '-')}`;
}

/** The HTTP reason phrase of a status (RFC 9110), or `Error` for one not listed. */
export function problemTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

/** The `instance` of a request's problem: its path without the query; undefined without one. */
export function problemInstance(url: string | undefined): string | undefined {
  const path = url?.split('?')[0];
  return path ? path : undefined;
}

/**
 * A problem body: `{type, title, status, detail, code, ...extensions, instance?}`, in that
 * order. `detail` is for people and never carries a stack trace.
 */
export function problemBody(
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
  instance?: string,
): Problem {
  const body: Problem = {
    type: problemType(code),
    title: problemTitle(status),
    status,
    detail,
    code,
    ...extensions,
  };
  if (instance !== undefined) body.instance = instance;
  return body;
}
