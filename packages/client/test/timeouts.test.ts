import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createClient,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  Orchestr8ClientError,
} from '../src/index.js';

// Servers that misbehave the ways real ones do: accept and never answer, answer the headers and
// stall, fall silent in the middle of an event stream. Real sockets over loopback.
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** An HTTP server whose handler decides what to send, and when. */
const http = (handler: (url: string, res: ServerResponse) => void) =>
  listen(createHttpServer((req, res) => handler(req.url ?? '', res)));

async function failure(p: Promise<unknown>): Promise<Orchestr8ClientError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Orchestr8ClientError);
  return e as Orchestr8ClientError;
}

const execution = { executionId: 'e1', workflowId: 'w', workflowVersion: '1.0.0', status: 'running' };

describe('client time limits', () => {
  it('default to the 30 s and 45 s the README and `orchestr8 run --help` state', () => {
    expect(DEFAULT_TIMEOUT_MS).toBe(30_000);
    expect(DEFAULT_IDLE_TIMEOUT_MS).toBe(45_000);
  });

  it('a server that accepts the connection and never answers fails the call with TIMEOUT', async () => {
    const base = await listen(createTcpServer(() => {}));
    const client = createClient({ baseUrl: base, timeoutMs: 300 });
    const e = await failure(client.getExecution('e1'));
    expect(e.status).toBe(0);
    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toBe(`no answer from ${base} within 0.3 s`);
  });

  it('a server that sends its headers and stalls the body fails the call with TIMEOUT', async () => {
    const base = await http((_url, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"executionId":');
    });
    const e = await failure(createClient({ baseUrl: base, timeoutMs: 300 }).getExecution('e1'));
    expect(e.code).toBe('TIMEOUT');
  });

  it('an answer within the limit is read whole, headers and status included', async () => {
    const base = await http((_url, res) => {
      res.writeHead(202, { 'content-type': 'application/json', location: '/executions/e1' });
      setTimeout(() => res.end(JSON.stringify(execution)), 100);
    });
    const r = await createClient({ baseUrl: base, timeoutMs: 2_000 }).execute({ workflowId: 'w' });
    expect(r).toEqual({ execution, finished: false, replayed: false, location: '/executions/e1' });
  });

  it('execute with `wait` gets the wait on top of the limit', async () => {
    const base = await http((_url, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...execution, status: 'completed' }));
      }, 600);
    });
    const client = createClient({ baseUrl: base, timeoutMs: 300 });
    expect((await failure(client.execute({ workflowId: 'w' }))).code).toBe('TIMEOUT');
    const waited = await client.execute({ workflowId: 'w' }, { wait: 1 });
    expect(waited.finished).toBe(true);
  });

  it('a long limit plus a long wait is still a limit, not an immediate TIMEOUT', async () => {
    const base = await http((_url, res) => {
      setTimeout(() => res.end(JSON.stringify(execution)), 200);
    });
    const client = createClient({ baseUrl: base, timeoutMs: 2_147_483_647 });
    const r = await client.execute({ workflowId: 'w' }, { wait: 5 });
    expect(r.execution.executionId).toBe('e1');
  });

  it('an answer whose reason phrase is beyond Latin-1 is read, not reported as a network failure', async () => {
    const base = await listen(
      createTcpServer((socket) => {
        socket.once('data', () => {
          const body = JSON.stringify(execution);
          socket.end(
            Buffer.concat([
              Buffer.from('HTTP/1.1 200 '),
              Buffer.from('Très bien ✓', 'utf8'),
              Buffer.from(
                `\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
              ),
            ]),
          );
        });
      }),
    );
    const got = await createClient({ baseUrl: base }).getExecution('e1');
    expect(got.executionId).toBe('e1');
  });

  it('timeoutMs 0 waits as long as the server takes', async () => {
    const base = await http((_url, res) => {
      setTimeout(() => res.end(JSON.stringify(execution)), 400);
    });
    const got = await createClient({ baseUrl: base, timeoutMs: 0 }).getExecution('e1');
    expect(got.executionId).toBe('e1');
  });

  it('the caller aborting is an AbortError, not a TIMEOUT', async () => {
    const base = await listen(createTcpServer(() => {}));
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const e = await createClient({ baseUrl: base, timeoutMs: 5_000 })
      .getExecution('e1', { signal: abort.signal })
      .then(
        () => undefined,
        (err: unknown) => err as Error,
      );
    expect(e?.name).toBe('AbortError');
  });

  it('refuses a limit that is not a number of milliseconds', () => {
    expect(() => createClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: -1 })).toThrow(
      'timeoutMs must be a number of milliseconds from 0 to 2147483647, got -1',
    );
  });
});

describe('event stream time limits', () => {
  const sse = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
  };
  const frame = (id: number) =>
    `id: ${id}\nevent: step.completed\ndata: ${JSON.stringify({ stepId: `s${id}` })}\n\n`;

  it('a stream that falls silent fails with TIMEOUT after idleTimeoutMs, having given what came', async () => {
    const base = await http((_url, res) => {
      sse(res);
      res.write(frame(1));
    });
    const client = createClient({ baseUrl: base, timeoutMs: 1_000 });
    const got: string[] = [];
    const e = await failure(
      (async () => {
        for await (const m of client.events('e1', { idleTimeoutMs: 300 })) got.push(m.id ?? '');
      })(),
    );
    expect(got).toEqual(['1']);
    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toBe(`no data from ${base} within 0.3 s`);
  });

  it('keep-alive comments keep a quiet stream open past idleTimeoutMs', async () => {
    const base = await http((_url, res) => {
      sse(res);
      const beat = setInterval(() => res.write(': keep-alive\n\n'), 50);
      setTimeout(() => {
        clearInterval(beat);
        res.end(frame(1));
      }, 900);
    });
    const client = createClient({ baseUrl: base });
    const got: string[] = [];
    for await (const m of client.events('e1', { idleTimeoutMs: 300 })) got.push(m.id ?? '');
    expect(got).toEqual(['1']);
  });

  it('the time the caller spends on a message is not counted as silence', async () => {
    const base = await http((_url, res) => {
      sse(res);
      res.write(frame(1));
      setTimeout(() => res.end(frame(2)), 150);
    });
    const client = createClient({ baseUrl: base });
    const got: string[] = [];
    for await (const m of client.events('e1', { idleTimeoutMs: 300 })) {
      got.push(m.id ?? '');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(got).toEqual(['1', '2']);
  });

  it('a stream whose headers never come fails with TIMEOUT after timeoutMs', async () => {
    const base = await listen(createTcpServer(() => {}));
    const client = createClient({ baseUrl: base, timeoutMs: 300 });
    const e = await failure(
      (async () => {
        for await (const _ of client.allEvents({ idleTimeoutMs: 0 })) break;
      })(),
    );
    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toBe(`no answer from ${base} within 0.3 s`);
  });

  it('idleTimeoutMs 0 waits for ever; the caller ends it with its signal', async () => {
    const base = await http((_url, res) => {
      sse(res);
      setTimeout(() => res.write(frame(1)), 400);
    });
    const abort = new AbortController();
    const client = createClient({ baseUrl: base });
    const got: string[] = [];
    for await (const m of client.events('e1', { idleTimeoutMs: 0, signal: abort.signal })) {
      got.push(m.id ?? '');
      abort.abort();
      break;
    }
    expect(got).toEqual(['1']);
  });
});
