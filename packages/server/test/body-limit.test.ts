/**
 * A body over the limit gets its 413 problem, and the client can read it: the server reads
 * and drops the rest of the body before it closes the connection, instead of closing at
 * once (the kernel would then reset the connection under a client still sending).
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers.js';

const LIMIT = 64 * 1024;
/** 256 times the limit, and more than loopback socket buffers hold: the server must read it. */
const BODY_BYTES = 16 * 1024 * 1024;

function bigBody(bytes = BODY_BYTES): Buffer {
  const body = Buffer.alloc(bytes, 'a');
  body.write('{"workflow":"');
  body.write('"}', bytes - 2);
  return body;
}

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, any>;
}

function parse(response: string): RawAnswer {
  const [head = '', ...rest] = response.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(rest.join('\r\n\r\n')) };
}

/**
 * A client that sends the whole request before reading anything, as Python's http.client and
 * many others do. Rejects with the socket error (EPIPE, ECONNRESET) if the server resets it.
 */
function sendAllThenRead(t: TestServer, head: string, body: Buffer, chunked: boolean): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(t.listener.port, t.listener.host);
    socket.pause();
    let data = '';
    socket.on('error', reject);
    socket.on('connect', async () => {
      const write = (chunk: string | Buffer) =>
        new Promise<void>((ok, fail) => socket.write(chunk, (e) => (e ? fail(e) : ok())));
      try {
        await write(head);
        for (let i = 0; i < body.length; i += 64 * 1024) {
          const part = body.subarray(i, i + 64 * 1024);
          await write(
            chunked
              ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')])
              : part,
          );
        }
        if (chunked) await write('0\r\n\r\n');
      } catch (e) {
        return reject(e);
      }
      socket.setEncoding('utf8');
      socket.on('data', (d) => {
        data += d;
      });
      socket.on('end', () => resolve(parse(data)));
      socket.resume();
    });
  });
}

const headOf = (length: string) =>
  `POST /workflows/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${length}\r\n`;

function expectTooLarge(a: RawAnswer): void {
  expect(a.status).toBe(413);
  expect(a.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(a.headers.connection).toBe('close');
  expect(a.body).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  expect(a.body.detail).toContain(`limit of ${LIMIT} bytes`);
}

describe('a body over the limit', () => {
  it('gets a 413 problem that a client sending the whole body before reading still reads, and starts nothing', async () => {
    const t = await startServer({ bodyLimit: LIMIT });
    try {
      expectTooLarge(await sendAllThenRead(t, headOf(`Content-Length: ${BODY_BYTES}\r\n`), bigBody(), false));
      expect((await t.store.listExecutions({ limit: 1 })).items).toHaveLength(0);
    } finally {
      await t.stop();
    }
  });

  it('gets the same 413 when it is sent chunked, without a declared length', async () => {
    const t = await startServer({ bodyLimit: LIMIT });
    try {
      expectTooLarge(await sendAllThenRead(t, headOf('Transfer-Encoding: chunked\r\n'), bigBody(), true));
      expect((await t.store.listExecutions({ limit: 1 })).items).toHaveLength(0);
    } finally {
      await t.stop();
    }
  });

  it('gets its 413 in Node fetch, in another process', async () => {
    const t = await startServer({ bodyLimit: LIMIT });
    try {
      const script = `
        const body = '{"workflow":"' + 'a'.repeat(${BODY_BYTES}) + '"}';
        const res = await fetch(process.argv[1], { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        console.log(JSON.stringify({ status: res.status, type: res.headers.get('content-type'), body: await res.json() }));`;
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--input-type=module', '-e', script, `${t.url}/workflows/execute`],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => {
          stdout += d;
        });
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0 ? resolve(stdout) : reject(new Error(`fetch failed: ${stderr}`)),
        );
      });
      const answer = JSON.parse(out);
      expect(answer.status).toBe(413);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    } finally {
      await t.stop();
    }
  });

  it('declared more than 64 MiB past the limit is refused unread: 413, and the connection closes', async () => {
    const t = await startServer({ bodyLimit: LIMIT });
    try {
      // This client reads while it sends (as curl and fetch do), so it sees the answer at once.
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect(t.listener.port, t.listener.host, () =>
          socket.write(headOf(`Content-Length: ${LIMIT + 65 * 1024 * 1024}\r\n`)),
        );
        let data = '';
        socket.setEncoding('utf8');
        socket.on('data', (d) => {
          data += d;
        });
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      expectTooLarge(parse(response));
    } finally {
      await t.stop();
    }
  });
});
