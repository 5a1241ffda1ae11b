/**
 * A client that goes away while it sends its request is the client's business: one request
 * line at `info`, no error and no stack trace in the server's log.
 */
import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { startServer } from './helpers.js';

interface Line {
  level: 'info' | 'error';
  message: string;
  data?: Record<string, unknown>;
  error?: unknown;
}

it('logs a client that disconnects while sending its body once, at info, without a stack trace', async () => {
  const lines: Line[] = [];
  const t = await startServer({
    logger: {
      info: (message, data) => lines.push({ level: 'info', message, data }),
      error: (message, error, data) => lines.push({ level: 'error', message, error, data }),
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(t.listener.port, t.listener.host, () => {
        socket.write(
          'POST /workflows/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
            'Content-Length: 100000\r\nX-Request-Id: gone-midway\r\n\r\n{"workflow":',
        );
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    const requestLines = () => lines.filter((l) => l.message === 'request');
    for (let i = 0; i < 500 && requestLines().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    // A later request's line means the server is done with the first one.
    expect((await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'after' } })).status).toBe(200);
    for (let i = 0; i < 500 && requestLines().length < 2; i++) await new Promise((r) => setTimeout(r, 10));

    const gone = lines.filter((l) => l.data?.requestId === 'gone-midway');
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatchObject({
      level: 'info',
      message: 'request',
      data: { method: 'POST', path: '/workflows/execute', aborted: true },
    });
    // No response was sent, so none is logged.
    expect(gone[0]!.data).not.toHaveProperty('status');
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(JSON.stringify(lines)).not.toMatch(/\n\s+at |stack/);
  } finally {
    await t.stop();
  }
});
