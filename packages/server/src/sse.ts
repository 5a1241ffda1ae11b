/**
 * A Server-Sent Events response: `id`/`event`/`data` frames, keep-alive comments, and
 * back-pressure (`send` resolves once the socket has room again).
 */
import { safeJsonStringify } from '@orchestr8/common';
import type { Request, Response } from 'express';
import type { Lifecycle } from './context.js';
import { singleHeader } from './http.js';

export interface SseStream {
  /** Resolves when the frame is written or buffered below the high-water mark. */
  send(id: string | undefined, event: string, data: unknown): Promise<void>;
  comment(text: string): void;
  end(): void;
  readonly closed: boolean;
  /** Resolves when the client goes away or the stream is ended. */
  readonly done: Promise<void>;
}

/** Single-line fields: SSE frames end at a newline, so ids and event names may not hold one. */
const oneLine = (s: string) => s.replace(/[\r\n]/g, ' ');

export function openSse(req: Request, res: Response, lifecycle: Lifecycle, keepAliveMs: number): SseStream {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Connection', 'keep-alive');
  // Proxies (nginx) must not buffer the stream.
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  req.socket.setNoDelay(true);
  // Reconnect hint for EventSource clients.
  res.write('retry: 2000\n\n');

  let closed = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  let drainWaiters: (() => void)[] = [];
  const keepAlive = setInterval(() => {
    if (!closed) res.write(': keep-alive\n\n');
  }, keepAliveMs);
  keepAlive.unref();

  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    lifecycle.streams.delete(end);
    for (const w of drainWaiters) w();
    drainWaiters = [];
    resolveDone();
  };
  const end = () => {
    if (!closed && !res.writableEnded) res.end();
    finish();
  };
  lifecycle.streams.add(end);
  res.on('close', finish);
  res.on('drain', () => {
    const ws = drainWaiters;
    drainWaiters = [];
    for (const w of ws) w();
  });

  return {
    send(id, event, data) {
      if (closed) return Promise.resolve();
      // No id line at all when there is none: an empty `id:` would reset the client's Last-Event-ID.
      const head = id === undefined ? '' : `id: ${oneLine(id)}\n`;
      const ok = res.write(`${head}event: ${oneLine(event)}\ndata: ${safeJsonStringify(data)}\n\n`);
      if (ok) return Promise.resolve();
      return new Promise<void>((r) => drainWaiters.push(r));
    },
    comment(text) {
      if (!closed) res.write(`: ${oneLine(text)}\n\n`);
    },
    end,
    get closed() {
      return closed;
    },
    done,
  };
}

/** `Last-Event-ID` header, or `?lastEventId=` for clients that cannot set headers. */
export function lastEventId(req: Request): string | undefined {
  const h = singleHeader(req, 'last-event-id', 'Last-Event-ID');
  if (typeof h === 'string' && h.trim() !== '') return h.trim();
  const q = req.query.lastEventId;
  return typeof q === 'string' && q.trim() !== '' ? q.trim() : undefined;
}
