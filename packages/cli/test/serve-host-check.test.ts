/**
 * `orchestr8 serve` as a real process (the built binary): which Host names it answers to
 * (`--allowed-hosts`, `ORCHESTR8_ALLOWED_HOSTS`), and how it logs a client that goes away
 * mid-request. The rules themselves are tested in packages/server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

interface Served {
  child: ChildProcess;
  url: URL;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}): Promise<Served> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build)`);
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--store', 'memory', ...args], {
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '', ORCHESTR8_ALLOWED_HOSTS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
      if (m)
        resolve({
          child,
          url: new URL(m[1]!),
          stderr: () => err,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
}

/** GET /executions with the given Host: the status and the problem code, if any. */
function get(s: Served, host: string): Promise<{ status: number; code?: string; detail?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: s.url.hostname, port: s.url.port, path: '/executions', headers: { host } },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          const body = JSON.parse(text) as { code?: string; detail?: string };
          resolve({ status: res.statusCode!, code: body.code, detail: body.detail });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('orchestr8 serve: Host check', () => {
  it('answers localhost and IP addresses by default, and refuses other Hosts with 403 HOST_NOT_ALLOWED', async () => {
    const s = await start([]);
    try {
      expect((await get(s, `localhost:${s.url.port}`)).status).toBe(200);
      expect((await get(s, `127.0.0.1:${s.url.port}`)).status).toBe(200);
      const refused = await get(s, 'attacker.example');
      expect(refused).toMatchObject({ status: 403, code: 'HOST_NOT_ALLOWED' });
      expect(refused.detail).toContain('--allowed-hosts attacker.example');
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('answers the names given with --allowed-hosts, which replaces ORCHESTR8_ALLOWED_HOSTS', async () => {
    const s = await start(['--allowed-hosts', 'orchestr8.internal, .corp.example'], {
      ORCHESTR8_ALLOWED_HOSTS: 'from-env.example',
    });
    try {
      expect((await get(s, 'orchestr8.internal:8088')).status).toBe(200);
      expect((await get(s, 'api.corp.example')).status).toBe(200);
      expect((await get(s, 'from-env.example')).code).toBe('HOST_NOT_ALLOWED');
      expect((await get(s, 'attacker.example')).code).toBe('HOST_NOT_ALLOWED');
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('answers the names in ORCHESTR8_ALLOWED_HOSTS, and any Host with "*"', async () => {
    const fromEnv = await start([], { ORCHESTR8_ALLOWED_HOSTS: 'from-env.example' });
    try {
      expect((await get(fromEnv, 'from-env.example')).status).toBe(200);
      expect((await get(fromEnv, 'attacker.example')).code).toBe('HOST_NOT_ALLOWED');
    } finally {
      expect(await fromEnv.stop()).toBe(0);
    }
    const any = await start(['--allowed-hosts', '*']);
    try {
      expect((await get(any, 'anything.example')).status).toBe(200);
    } finally {
      expect(await any.stop()).toBe(0);
    }
  });

  it('rejects a malformed --allowed-hosts entry with exit 2', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--port', '0', '--store', 'memory', '--allowed-hosts', 'http://example.com'],
      { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('invalid allowed host "http://example.com"');
  });
});

describe('orchestr8 serve: a client that disconnects mid-request', () => {
  it('is one info line in the log, without an error or a stack trace', async () => {
    const s = await start(['--log-format', 'json']);
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(s.url.port), s.url.hostname, () => {
          socket.write(
            'POST /workflows/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
              'Content-Length: 100000\r\nX-Request-Id: gone-midway\r\n\r\n{"workflow":',
          );
          socket.destroy();
          resolve();
        });
        socket.on('error', reject);
      });
      // A later request's line means the server is done with the first one.
      await fetch(new URL('/healthz', s.url), { headers: { 'x-request-id': 'after' } });
      await expect.poll(() => s.stderr(), { timeout: 15_000, interval: 10 }).toContain('"after"');
      const lines = s
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const gone = lines.filter((l) => l.requestId === 'gone-midway');
      expect(gone).toHaveLength(1);
      expect(gone[0]).toMatchObject({ level: 'info', msg: 'request', aborted: true });
      expect(gone[0]).not.toHaveProperty('err');
      expect(lines.filter((l) => l.level !== 'info')).toEqual([]);
      expect(s.stderr()).not.toMatch(/\n\s+at |"stack"/);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});
