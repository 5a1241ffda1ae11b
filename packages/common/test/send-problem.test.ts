import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBLEM_CONTENT_TYPE, sendProblem } from '../src/index.js';

let server: Server | undefined;

/** A real HTTP server on loopback answering every request with `handle`; resolves with its URL. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handle);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('sendProblem', () => {
  it('answers the problem as application/problem+json with its length, the path as instance', async () => {
    const url = await serve((_req, res) => {
      sendProblem(res, 422, 'VALIDATION', 'café is not an event', { errors: [{ pointer: '/ts' }] });
    });
    const res = await fetch(`${url}/streams/s%201/events?x=1`, { method: 'POST', body: '{}' });
    const text = await res.text();
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    // The length in bytes, not characters (the detail has a non-ASCII letter).
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(Buffer.byteLength(text)).toBe(text.length + 1);
    expect(text).toBe(
      '{"type":"https://orchestr8.dev/problems/validation","title":"Unprocessable Content","status":422,' +
        '"detail":"café is not an event","code":"VALIDATION","errors":[{"pointer":"/ts"}],' +
        '"instance":"/streams/s%201/events"}',
    );
  });

  it('adds the given headers and keeps those set on the response before', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('x-request-id', 'r1');
      sendProblem(res, 503, 'RETRYABLE', 'busy', { retryable: true }, { 'Retry-After': '1' });
    });
    const res = await fetch(`${url}/x`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('x-request-id')).toBe('r1');
    expect(await res.json()).toEqual({
      type: 'https://orchestr8.dev/problems/retryable',
      title: 'Service Unavailable',
      status: 503,
      detail: 'busy',
      code: 'RETRYABLE',
      retryable: true,
      instance: '/x',
    });
  });

  it('writes nothing once the headers were sent: the answer begun stays as it is', async () => {
    let thrown: unknown;
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('begun');
      try {
        sendProblem(res, 500, 'INTERNAL', 'too late');
      } catch (e) {
        thrown = e;
      }
      res.end(' and ended');
    });
    const res = await fetch(`${url}/late`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('begun and ended');
    expect(thrown).toBeUndefined();
  });

  it('writes nothing on a destroyed response (the client went away)', async () => {
    const seen: { headersSent: boolean; writableEnded: boolean }[] = [];
    const url = await serve((_req, res) => {
      res.destroy();
      sendProblem(res, 500, 'INTERNAL', 'nobody listens');
      seen.push({ headersSent: res.headersSent, writableEnded: res.writableEnded });
    });
    await expect(fetch(`${url}/gone`)).rejects.toThrow();
    expect(seen).toEqual([{ headersSent: false, writableEnded: false }]);
  });
});
