/**
 * `orchestr8 run --server <url>` when the server stops while the execution is followed:
 * `runRemote` against a real server on loopback that is closed mid-run (and, in one test,
 * listens again on the same port). The reconnect bound is an option here, so no test waits
 * for the 60 s default; messages and exit codes are asserted, never durations.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { type Agent, createEngine, type Engine } from '@orchestr8/core';
import { createServer, type Listener } from '@orchestr8/server';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runRemote } from '../src/commands/run-remote.js';
import { callServerAt, httpTimeoutFromEnv } from '../src/server-call.js';

const API_KEY = 'lost-key';
let dir: string;
let engine: Engine;
let registry: ReturnType<typeof createAgentRegistry>;
/** The step running on the server: resolved when it starts; `release` lets it finish. */
let stepStarted: Promise<void>;
let onStepStart: () => void;
const releases: (() => void)[] = [];

const block: Agent = {
  id: '@test/block',
  execute(_input, ctx) {
    onStepStart();
    return new Promise((resolve, reject) => {
      releases.push(() => resolve({ done: true }));
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
    });
  },
};

function expectStep(): void {
  stepStarted = new Promise((r) => {
    onStepStart = r;
  });
}

const listeners: Listener[] = [];
const serve = async (port = 0) => {
  const l = await createServer({ engine, registry, apiKeys: [API_KEY] }).listen(port);
  listeners.push(l);
  return l;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'o8-run-remote-lost-'));
  registry = createAgentRegistry([...builtinAgents, block]);
  engine = createEngine({ registry });
});
afterAll(async () => {
  for (const r of releases) r();
  await Promise.all(listeners.map((l) => l.close({ graceMs: 0 }).catch(() => {})));
  await engine.shutdown({ graceMs: 100 });
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

function capture() {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  return { out: () => out, err: () => err };
}

function workflow(): string {
  const path = join(dir, 'hold.yaml');
  writeFileSync(
    path,
    [
      'version: "1.0.0"',
      'metadata:',
      '  id: remote-hold',
      'steps:',
      '  - id: hold',
      '    agent: "@test/block"',
      '',
    ].join('\n'),
  );
  return path;
}

/** Resolves once `check` holds, polling every 20 ms (bounded by the test's timeout). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

describe('runRemote when the server stops', () => {
  it('says once that it cannot reach the server, then exits 1 naming the execution when it does not come back', async () => {
    expectStep();
    const listener = await serve();
    const url = listener.url.replace(/\/+$/, '');
    let id = '';
    const io = capture();
    const code = await runRemote(workflow(), {
      server: url,
      apiKey: API_KEY,
      quiet: true,
      reconnectTimeoutMs: 300,
      onStarted: async (executionId) => {
        id = executionId;
        // Mid-run: once the step runs on the server, the server goes away for good.
        void stepStarted.then(() => listener.close({ graceMs: 0 }));
      },
    });
    vi.restoreAllMocks();
    const err = io.err();
    expect(code, err).toBe(1);
    expect(id).not.toBe('');
    expect(err.match(/cannot reach the server/g), err).toHaveLength(1);
    expect(err).toMatch(
      new RegExp(`cannot reach the server at ${url} \\(.+\\); retrying for up to 0\\.3 s\\n`),
    );
    expect(err).toContain(`error: no answer from the server at ${url} for 0.3 s (`);
    expect(err).toContain(`stopped following execution ${id}\n`);
    expect(err).toContain(`orchestr8 console ${id} --url ${url}`);
    expect(err).toContain(`GET ${url}/executions/${id}`);
    expect(io.out()).toBe('');
  }, 30_000);

  it('follows on when the server answers again within the bound, and the run completes (exit 0)', async () => {
    expectStep();
    const first = await serve();
    const url = first.url.replace(/\/+$/, '');
    const io = capture();
    const running = runRemote(workflow(), {
      server: url,
      apiKey: API_KEY,
      quiet: true,
      // Generous: the server is back long before; nothing here depends on how long it takes.
      reconnectTimeoutMs: 120_000,
      onStarted: async () => {
        void stepStarted.then(() => first.close({ graceMs: 0 }));
      },
    });
    await until(() => io.err().includes('cannot reach the server'));
    await serve(first.port);
    await until(() => io.err().includes('answers again'));
    for (const r of releases.splice(0)) r();
    const code = await running;
    vi.restoreAllMocks();
    const err = io.err();
    expect(code, err).toBe(0);
    expect(err.match(/cannot reach the server/g), err).toHaveLength(1);
    expect(err).toContain(`the server at ${url} answers again; following on\n`);
    expect(err).not.toContain('error:');
    expect(io.out()).toContain('completed');
  }, 30_000);

  it('waits 30 s for an answer unless $ORCHESTR8_HTTP_TIMEOUT says otherwise', () => {
    vi.stubEnv('ORCHESTR8_HTTP_TIMEOUT', '');
    expect(httpTimeoutFromEnv()).toBe(30_000);
    vi.stubEnv('ORCHESTR8_HTTP_TIMEOUT', '2.5');
    expect(httpTimeoutFromEnv()).toBe(2_500);
  });

  it.each([
    ['ORCHESTR8_RECONNECT_TIMEOUT', 'soon'],
    ['ORCHESTR8_HTTP_TIMEOUT', '-1'],
    ['ORCHESTR8_HTTP_TIMEOUT', '3000000'],
  ])('refuses an $%s that is not a number of seconds (exit 2)', async (name, value) => {
    vi.stubEnv(name, value);
    const io = capture();
    // Refused before the file is read or the server called.
    const code = await runRemote(join(tmpdir(), 'never-read.yaml'), {
      server: 'http://127.0.0.1:9',
      quiet: true,
    });
    vi.restoreAllMocks();
    expect(code).toBe(2);
    expect(io.err()).toContain(
      `$${name} must be a number of seconds above 0 and at most 2147483, got "${value}"`,
    );
  });

  it('a server that hangs (connections open, nothing sent) is lost like one that went away: exit 1, naming the execution', async () => {
    expectStep();
    const listener = await serve();
    const proxy = await freezingProxy(listener.port);
    vi.stubEnv('ORCHESTR8_HTTP_TIMEOUT', '0.3');
    let id = '';
    const io = capture();
    const code = await runRemote(workflow(), {
      server: proxy.url,
      apiKey: API_KEY,
      quiet: true,
      reconnectTimeoutMs: 300,
      idleTimeoutMs: 300,
      onStarted: async (executionId) => {
        id = executionId;
        // Mid-run the server stops answering without closing anything (a stopped process, a
        // network that drops packets): only a time limit tells.
        void stepStarted.then(() => proxy.freeze());
      },
    });
    vi.restoreAllMocks();
    await proxy.close();
    const err = io.err();
    expect(code, err).toBe(1);
    expect(err.match(/cannot reach the server/g), err).toHaveLength(1);
    expect(err).toMatch(
      new RegExp(`cannot reach the server at ${proxy.url} \\(no (data|answer) within 0\\.3 s\\); retrying`),
    );
    expect(err).toContain(
      `error: no answer from the server at ${proxy.url} for 0.3 s (no answer within 0.3 s)`,
    );
    expect(err).toContain(`stopped following execution ${id}\n`);
  }, 30_000);

  it("a command's call to a server that never answers fails with TIMEOUT after $ORCHESTR8_HTTP_TIMEOUT", async () => {
    const proxy = await freezingProxy(9);
    proxy.freeze();
    vi.stubEnv('ORCHESTR8_HTTP_TIMEOUT', '0.3');
    const e = await callServerAt({ server: proxy.url }, 'GET', '/triggers').then(
      () => undefined,
      (err: unknown) => err as { status: number; code: string; message: string },
    );
    await proxy.close();
    expect(e).toMatchObject({
      status: 0,
      code: 'TIMEOUT',
      message: `no answer from ${proxy.url} within 0.3 s`,
    });
  });
});

describe('a server nothing listens on', () => {
  /** A loopback port that was free a moment ago (listened on, then closed). */
  const closedPort = () =>
    new Promise<number>((resolve) => {
      const s = createTcpServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });

  it('run --server says the connection was refused (not "fetch failed") and how to start one; so does a command', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const io = capture();
    const code = await runRemote(workflow(), { server: url, apiKey: API_KEY, quiet: true });
    vi.restoreAllMocks();
    expect(code).toBe(1);
    const hint = '(is it running? `orchestr8 serve` or `orchestr8 server start` starts one)';
    expect(io.err()).toBe(
      `error NETWORK: cannot reach ${url}: connect ECONNREFUSED ${url.slice(7)} ${hint}\n`,
    );
    const e = await callServerAt({ server: url }, 'GET', '/triggers').then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    );
    expect(e).toMatchObject({
      code: 'NETWORK',
      message: `cannot reach ${url}: connect ECONNREFUSED ${url.slice(7)} ${hint}`,
    });
  });
});

/**
 * A TCP proxy to the server on `port` that can freeze: from then on it forwards nothing either
 * way and accepts new connections without answering, while every connection stays open.
 */
async function freezingProxy(port: number) {
  let frozen = false;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const server = createTcpServer((client) => {
    track(client);
    if (frozen) return;
    const upstream = connect(port, '127.0.0.1');
    track(upstream);
    client.on('data', (d) => {
      if (!frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!frozen) client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    freeze: () => {
      frozen = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
