/**
 * The HTTP transport of hosted streams, for the server to mount behind its Host/Origin
 * guard, API keys and rate limit (`createServer({ routers: [createStreamRouter(service)] })`):
 * - `POST /streams/:id/events`: NDJSON (`application/x-ndjson`) or JSON (one event or an
 *   array); every event is checked before any is logged (422 names each fault), 202 with
 *   the number accepted; an event id accepted before counts as a duplicate, not again; an
 *   event for a slice already closed is late: left out and counted;
 * - `GET /streams/:id/actions`: the actions as Server-Sent Events (`id` is the action id),
 *   resuming after `Last-Event-ID` from the recent actions kept;
 * - `GET /streams` and `GET /streams/:id`: the processors' status and heartbeats.
 * It reads its own bodies (the server's JSON parser comes after routers) and needs no
 * web framework: plain Node request handlers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendProblem } from '@orchestr8/common';
import type { EventProblem } from './records.js';
import { checkEvent, type StreamAction, type StreamEvent, sliceIndex } from './records.js';
import { EventPublishError, type HostedStream, type StreamService } from './stream-service.js';

export interface StreamRouterOptions {
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Most events in one request (default 1,000). */
  maxEventsPerRequest?: number;
  /** Keep-alive comment interval of action streams (default 15 s). */
  keepAliveMs?: number;
  /** A reader further behind than this many bytes is disconnected; it resumes with Last-Event-ID (default 1 MiB). */
  maxBufferedBytes?: number;
}

type Next = (error?: unknown) => void;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else if (!over) chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface BodyProblem extends EventProblem {
  /** The event's position in the request (0-based). */
  index?: number;
  /** Its line, for NDJSON bodies (1-based). */
  line?: number;
}

/** The request's events as values, or why the body cannot be read. */
function parseEvents(
  body: string,
  type: string,
): { values: { value: unknown; line?: number }[] } | { problems: BodyProblem[] } | 'unsupported' {
  if (type === 'application/x-ndjson' || type === 'application/jsonl' || type === 'application/ndjson') {
    const values: { value: unknown; line?: number }[] = [];
    const problems: BodyProblem[] = [];
    const lines = body.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!.trim();
      if (text === '') continue;
      try {
        values.push({ value: JSON.parse(text), line: i + 1 });
      } catch (e) {
        problems.push({ line: i + 1, pointer: '', message: `not JSON: ${(e as Error).message}` });
      }
    }
    return problems.length > 0 ? { problems } : { values };
  }
  if (type === 'application/json' || type.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      return { problems: [{ pointer: '', message: `the body is not JSON: ${(e as Error).message}` }] };
    }
    return { values: (Array.isArray(parsed) ? parsed : [parsed]).map((value) => ({ value })) };
  }
  return 'unsupported';
}

export function createStreamRouter(
  service: StreamService,
  options: StreamRouterOptions = {},
): { handler: (req: IncomingMessage, res: ServerResponse, next: Next) => void } {
  const limit = options.bodyLimit ?? 1024 * 1024;
  const maxEvents = options.maxEventsPerRequest ?? 1000;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;

  async function postEvents(host: HostedStream, req: IncomingMessage, res: ServerResponse) {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const body = await readBody(req, limit);
    if (body === 'too_large')
      return sendProblem(res, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`);
    const parsed = parseEvents(body.toString('utf8'), type);
    if (parsed === 'unsupported')
      return sendProblem(
        res,
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `send events as application/x-ndjson (one per line) or application/json (an event or an array), not "${type || 'no Content-Type'}"`,
      );
    if ('problems' in parsed) {
      const ndjson = parsed.problems[0]?.line !== undefined;
      const detail = ndjson
        ? `${plural(parsed.problems.length, 'line of the body is', 'lines of the body are')} not JSON; nothing was accepted`
        : `${parsed.problems[0]!.message}; nothing was accepted`;
      return sendProblem(res, 422, 'VALIDATION', detail, { errors: parsed.problems });
    }
    if (parsed.values.length === 0)
      return sendProblem(res, 422, 'VALIDATION', 'the body holds no event; nothing was accepted', {
        errors: [],
      });
    if (parsed.values.length > maxEvents)
      return sendProblem(
        res,
        413,
        'PAYLOAD_TOO_LARGE',
        `${parsed.values.length} events in one request; the limit is ${maxEvents}`,
      );
    const { stream } = host;
    // Slices up to this one are closed: an event for them is late. Lateness is timing, not a
    // fault of the request: late events are left out and counted, the others are logged.
    const closed = host.processor.status().closedSlice;
    // An event far ahead of the clock would wait in an open slice until then: refused.
    const now = host.now();
    const events: StreamEvent[] = [];
    const errors: BodyProblem[] = [];
    const late: string[] = [];
    parsed.values.forEach(({ value, line }, index) => {
      // The stream is the one in the path; an event may leave it out.
      const v =
        typeof value === 'object' && value !== null && !Array.isArray(value) && !('stream' in value)
          ? { ...value, stream: stream.id }
          : value;
      const at = { index, ...(line === undefined ? {} : { line }) };
      const checked = checkEvent(v, stream);
      if (!checked.event) {
        for (const p of checked.problems) errors.push({ ...at, ...p });
        return;
      }
      if (checked.event.ts > now + host.maxFutureSkewMs) {
        errors.push({
          ...at,
          pointer: '/ts',
          message: `ts is more than ${host.maxFutureSkewMs} ms ahead of the server's clock (${new Date(now).toISOString()})`,
        });
        return;
      }
      if (sliceIndex(checked.event.ts, stream) <= closed) late.push(checked.event.id);
      else events.push(checked.event);
    });
    if (errors.length > 0) {
      const invalid = new Set(errors.map((e) => e.index)).size;
      host.refuseInvalid(invalid);
      return sendProblem(
        res,
        422,
        'VALIDATION',
        `${invalid} of ${plural(parsed.values.length, 'event', 'events')} ${invalid === 1 ? 'is' : 'are'} invalid; nothing was accepted`,
        { errors },
      );
    }
    let result: { accepted: number; duplicates: number };
    try {
      result = await host.accept(events);
    } catch (e) {
      if (!(e instanceof EventPublishError)) throw e;
      // Nothing from the failed event on was logged or remembered: the whole request may be retried.
      return sendProblem(
        res,
        503,
        'RETRYABLE',
        `${e.message}; ${plural(e.accepted, 'event was', 'events were')} logged before the failure, the others were not: retry the request`,
        { retryable: true, accepted: e.accepted, duplicates: e.duplicates },
        { 'Retry-After': '1' },
      );
    }
    const { accepted, duplicates } = result;
    if (late.length > 0) host.refuseLate(late, closed);
    json(res, 202, {
      accepted,
      duplicates,
      late: late.length,
      ...(late.length > 0 ? { lateIds: late } : {}),
    });
  }

  function streamActions(host: HostedStream, req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const header = req.headers['last-event-id'];
    const lastId =
      (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('lastEventId') ?? undefined;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    req.socket.setNoDelay(true);
    res.write('retry: 2000\n\n');
    let closed = false;
    const send = (a: StreamAction) => {
      if (closed) return;
      // Ids and kinds are patterned (no newlines); the data is one line of JSON.
      res.write(`id: ${a.id}\nevent: action\ndata: ${JSON.stringify(a)}\n\n`);
      // A reader that does not keep up is let go: it resumes from its last id.
      if (res.writableLength > maxBuffered) end();
    };
    const keepAlive = setInterval(() => {
      if (!closed) res.write(': keep-alive\n\n');
    }, keepAliveMs);
    keepAlive.unref();
    const unsubscribe = host.onAction(send);
    const end = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      unsubscribe();
      service.closing.delete(end);
      if (!res.writableEnded) res.end();
    };
    service.closing.add(end);
    res.on('close', end);
    for (const a of host.actionsAfter(lastId)) send(a);
  }

  async function route(req: IncomingMessage, res: ServerResponse, next: Next): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/streams') {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return sendProblem(
          res,
          405,
          'METHOD_NOT_ALLOWED',
          `${req.method} is not allowed here`,
          {},
          { Allow: 'GET' },
        );
      const items = await Promise.all(service.list().map((h) => h.status()));
      return json(res, 200, { items });
    }
    const m = /^\/streams\/([^/]+)(?:\/(events|actions))?\/?$/.exec(path);
    if (!m) return next();
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return sendProblem(res, 400, 'BAD_REQUEST', 'malformed stream id in the path');
    }
    const allowed = m[2] === 'events' ? 'POST' : 'GET';
    if (req.method !== allowed && !(allowed === 'GET' && req.method === 'HEAD'))
      return sendProblem(
        res,
        405,
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed here`,
        {},
        { Allow: allowed },
      );
    const host = service.get(id);
    if (!host) return sendProblem(res, 404, 'NOT_FOUND', `no stream "${id}" is served here`);
    if (m[2] === 'events') return postEvents(host, req, res);
    if (m[2] === 'actions') return streamActions(host, req, res);
    json(res, 200, await host.status());
  }

  return {
    handler(req, res, next) {
      route(req, res, next).catch(next);
    },
  };
}
