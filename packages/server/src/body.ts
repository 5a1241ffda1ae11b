/**
 * Request bodies: UTF-8 JSON only, at most `limit` bytes. A lean reader instead of
 * body-parser: it is on the path of every execution, and it refuses early (415 before
 * reading, 413 from the declared length) so that a refused body is never kept in memory.
 */

import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { Request, RequestHandler } from 'express';
import { LINGER_MAX_BYTES, lingerAfterResponse } from './lingering-close.js';
import { HttpProblem, ProblemCode } from './problem.js';

const JSON_TYPES = ['application/json', 'application/*+json'];
/** A workflow document may be sent as YAML text (PUT /workflows/:id): the body is kept as text. */
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** `1mb`, `512kb`, `1048576` -> bytes (binary multiples). */
export function parseByteSize(value: number | string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(String(value));
  if (!m)
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      `invalid body limit "${value}": use bytes or e.g. "512kb", "1mb"`,
    );
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(m[1]) * unit);
}

function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

export function jsonBody(limit: number): RequestHandler {
  return (req, _res, next) => {
    if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') return next();
    if (!hasBody(req)) return next();
    const type = req.headers['content-type'];
    // The usual header is taken as is; anything else goes through content-type parsing.
    const plainJson = type === 'application/json' || type === 'application/json; charset=utf-8';
    const yaml = !plainJson && req.method === 'PUT' && Boolean(req.is(YAML_TYPES));
    if (!plainJson) {
      if (!yaml && !req.is(JSON_TYPES)) {
        return next(
          new HttpProblem(
            415,
            ProblemCode.UNSUPPORTED_MEDIA_TYPE,
            `request bodies must be application/json${req.method === 'PUT' ? ' or application/yaml' : ''}, not ${req.headers['content-type'] ?? 'untyped'}`,
          ),
        );
      }
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i
        .exec(req.headers['content-type'] ?? '')?.[1]
        ?.toLowerCase();
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
        return next(
          new HttpProblem(
            415,
            ProblemCode.UNSUPPORTED_MEDIA_TYPE,
            `request bodies must be UTF-8, not ${charset}`,
          ),
        );
      }
    }
    if (req.destroyed) return next(disconnected());
    const tooLarge = (received: number) => {
      // The rest of the body is read and dropped before the connection closes, so the client gets the 413.
      lingerAfterResponse(req, received, limit + LINGER_MAX_BYTES);
      return new HttpProblem(
        413,
        ProblemCode.PAYLOAD_TOO_LARGE,
        `the request body is larger than the limit of ${limit} bytes`,
        {},
        { Connection: 'close' },
      );
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) return next(tooLarge(0));
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      next(error);
    };
    // The client went away mid-body: no one is left to answer, and it is no fault of the server's.
    const onError = () => finish(disconnected());
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish(tooLarge(size));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (done) return;
      let text =
        chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (yaml) {
        // Parsed by the workflow loader, which reports problems with line:col.
        req.body = text;
        return finish();
      }
      const first = /\S/.exec(text)?.[0];
      // Like body-parser's strict mode: a top-level object or array only.
      if (first !== '{' && first !== '[') return finish(invalidJson());
      try {
        req.body = JSON.parse(text);
      } catch {
        return finish(invalidJson());
      }
      finish();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };
}

function disconnected(): HttpProblem {
  return new HttpProblem(
    400,
    ProblemCode.BAD_REQUEST,
    'the client disconnected before sending the whole request body',
  );
}

function invalidJson(): HttpProblem {
  return new HttpProblem(
    400,
    ProblemCode.INVALID_JSON,
    'the request body is not valid JSON (an object or an array is expected)',
  );
}
