/**
 * `orchestr8 serve` as a real process (the built binary): it prints where it listens,
 * serves over HTTP, stops cleanly on SIGTERM, and resumes on start what it left running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './fixtures/harness.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build)`);
  dir = mkdtempSync(join(tmpdir(), 'o8-serve-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Served {
  child: ChildProcess;
  url: string;
  line: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '', ...env },
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
      const m = /orchestr8 listening on (http:\/\/\S+) \(store ([^)]+)\)/.exec(out);
      if (m) resolve({ child, url: m[1]!, line: m[0], stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
}

/** Runs `serve` expecting it to fail at start: its exit code and stderr. */
function serveFails(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr: err })));
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('orchestr8 serve', () => {
  it('prints its URL, serves executions, and exits 0 on SIGTERM', async () => {
    const store = `sqlite:${join(dir, 'serve.db')}`;
    const s = await serve(['--port', '0', '--store', store]);
    expect(s.line).toMatch(/^orchestr8 listening on http:\/\/127\.0\.0\.1:\d+ \(store sqlite:/);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const doc = {
      version: '1.0.0',
      metadata: { id: 'served' },
      steps: [{ id: 'hi', agent: '@orchestr8/hello-world', input: { name: 'Ada' } }],
    };
    const res = await post(`${s.url}/workflows/execute`, { workflow: doc }, { prefer: 'wait=10' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, any>).outputs).toEqual({ hi: { result: 'Hello, Ada' } });
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toContain('stopped');
  });

  it('leaves an execution running at SIGTERM to resume on the next start', async () => {
    const store = `sqlite:${join(dir, 'resume.db')}`;
    const first = await serve(['--port', '0', '--store', store, '--grace', '50ms']);
    const doc = {
      version: '1.0.0',
      metadata: { id: 'slow' },
      steps: [{ id: 'nap', agent: '@orchestr8/sleep', input: { ms: 1500, value: 'rested' } }],
    };
    const started = (await (
      await post(`${first.url}/workflows/execute`, { workflow: doc })
    ).json()) as Record<string, any>;
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await serve(['--port', '0', '--store', store]);
    try {
      expect(second.stderr()).toContain('resumed 1 execution');
      const body = await until('the resumed execution to finish', async () => {
        const b = (await (await fetch(`${second.url}/executions/${started.executionId}`)).json()) as Record<
          string,
          any
        >;
        return ['completed', 'failed', 'cancelled'].includes(b.status) ? b : undefined;
      });
      expect(body.status).toBe('completed');
      expect(body.outputs).toEqual({ nap: 'rested' });
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });

  it('refuses a non-loopback host without API keys (exit 2), and requires the keys once set', async () => {
    const refused = await serveFails(['--host', '0.0.0.0', '--port', '0', '--store', 'memory']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/without API keys/);

    const s = await serve(['--host', '0.0.0.0', '--port', '0', '--store', 'memory'], {
      ORCHESTR8_API_KEYS: 'k-one, k-two',
    });
    try {
      const port = new URL(s.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/executions`)).status).toBe(401);
      expect(
        (await fetch(`http://127.0.0.1:${port}/executions`, { headers: { authorization: 'Bearer k-two' } }))
          .status,
      ).toBe(200);
    } finally {
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    }
  });

  it('rejects bad options with exit 2', async () => {
    expect((await serveFails(['--port', 'eighty'])).code).toBe(2);
    expect((await serveFails(['--port', '0', '--grace', 'soon', '--store', 'memory'])).code).toBe(2);
  });
});
