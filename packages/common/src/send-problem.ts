/**
 * Writing a problem answer (RFC 9457) on a plain Node response, for the HTTP surfaces that
 * answer without express (the streams router, the MCP `/ask` handler, `orchestr8 agent serve`).
 * Node-only; the body itself is problem.ts's.
 */
import type { ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, problemBody, problemInstance } from './problem.js';

/**
 * Answers `status` with the problem `{type, title, status, detail, code, ...extensions,
 * instance?}` (the instance is the request's path, without the query), as
 * `application/problem+json` with its content-length; `headers` are added after those two.
 * Headers set on `res` before stay. Nothing is written when the headers were already sent or
 * the response is destroyed (the client went away).
 */
export function sendProblem(
  res: ServerResponse,
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(problemBody(status, code, detail, extensions, problemInstance(res.req?.url)));
  res.writeHead(status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
