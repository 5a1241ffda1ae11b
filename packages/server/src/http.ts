/**
 * Small HTTP helpers: entity tags, `Prefer: wait`, request-shape errors. Query parameters
 * and bodies are parsed by the routes' contracts (contracts/validate.ts).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { HttpProblem, ProblemCode } from './problem.js';

/** A request-shape problem, reported like a diagnostic so every 4xx `errors` list looks alike. */
export interface RequestError {
  code: 'E_REQUEST';
  severity: 'error';
  message: string;
  pointer: string;
}

export function badRequest(detail: string, errors: { pointer: string; message: string }[] = []): HttpProblem {
  return new HttpProblem(400, ProblemCode.BAD_REQUEST, detail, {
    errors: errors.map(
      (e): RequestError => ({ code: 'E_REQUEST', severity: 'error', message: e.message, pointer: e.pointer }),
    ),
  });
}

/** How many times the request carries the header `name` (lower case), as sent. */
export function headerCount(req: IncomingMessage, name: string): number {
  let n = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) n++;
  return n;
}

/**
 * A single-valued header: Node joins repeats of most headers with ", " (and keeps only the
 * first `Host`), which would make two values one. Given more than once, a 400 naming it.
 */
export function singleHeader(
  req: IncomingMessage,
  name: string,
  shownAs: string,
  code: string = ProblemCode.BAD_REQUEST,
): string | undefined {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value) || headerCount(req, name) > 1)
    throw new HttpProblem(400, code, `${shownAs} must be given once`);
  return value;
}

/** A weak validator for a JSON representation: equal bodies, equal tags. */
export function weakEtag(body: string): string {
  return `W/"${createHash('sha1').update(body).digest('base64url')}"`;
}

const opaque = (tag: string) => tag.replace(/^W\//, '');

/** `If-None-Match` (weak comparison, RFC 9110 13.1.2). */
export function noneMatch(req: Request, etag: string): boolean {
  const h = req.headers['if-none-match'];
  if (typeof h !== 'string' || h === '') return false;
  if (h.trim() === '*') return true;
  return h.split(',').some((t) => opaque(t.trim()) === opaque(etag));
}

/**
 * Sends a JSON response, as `res.status(status).json(value)` does, without express's generic
 * send path (content negotiation of the type, freshness, entity tags): for the hot routes.
 * A client that already left gets nothing (no body is built for it).
 */
export function sendJson(res: Response, status: number, value: unknown): void {
  if (res.destroyed) return;
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Sends JSON with an ETag, or 304 when the client's copy is current. */
export function sendTagged(req: Request, res: Response, value: unknown, etag?: string): void {
  const body = JSON.stringify(value);
  const tag = etag ?? weakEtag(body);
  res.setHeader('ETag', tag);
  if (noneMatch(req, tag)) {
    res.status(304).end();
    return;
  }
  res.type('application/json').send(body);
}

/**
 * How long to wait for a result, in ms: `?wait=<seconds>` (`query`, checked by the route's
 * contract) or `Prefer: wait=<seconds>` (RFC 7240: a malformed preference is ignored).
 * Capped at `max`. Zero when neither is given.
 */
export function waitMs(req: Request, maxSeconds: number, query: number | undefined): number {
  let seconds = query;
  if (seconds === undefined) {
    const raw = req.headers.prefer;
    const prefer = Array.isArray(raw) ? raw.join(', ') : raw;
    if (prefer) {
      const m = /(?:^|[,;\s])wait\s*=\s*"?(\d+(?:\.\d+)?)"?\s*(?:$|[,;])/i.exec(prefer);
      if (m) seconds = Number(m[1]);
    }
  }
  if (seconds === undefined) return 0;
  return Math.round(Math.min(seconds, maxSeconds) * 1000);
}

/** Rejects bodies nested deeper than `max`: later recursive walks (fingerprints, validation) stay safe. */
export function checkDepth(value: unknown, max: number): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d >= max) {
      const at = pointerTo(value, v);
      throw badRequest(`the request body is nested deeper than ${max} levels (at "${at}")`, [
        { pointer: at, message: `is nested deeper than ${max} levels` },
      ]);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
    }
  }
}

/** The JSON pointer of `target` in `root` (found again only on the error path: the walk above keeps no paths). */
function pointerTo(root: unknown, target: unknown): string {
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (v === target) return at;
    if (typeof v !== 'object' || v === null) continue;
    for (const [k, child] of Object.entries(v)) {
      if (typeof child === 'object' && child !== null)
        stack.push([child, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`]);
    }
  }
  return '';
}
