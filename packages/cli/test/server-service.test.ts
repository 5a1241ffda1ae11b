/**
 * `orchestr8 server start|status|stop|restart|logs` and `run` finding the local server, over
 * real processes of the built CLI in a temp project. Waits are bounded polls; no timing is
 * asserted.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS,
  assertBuilt,
  cli,
  executionIdFrom,
  startCli,
  until,
  useTempRoot,
} from './fixtures/harness.js';

const tempRoot = useTempRoot('server-service');
const projects: string[] = [];

const HELLO = `version: "1.0.0"
metadata:
  id: hello
steps:
  - id: greet
    agent: "@orchestr8/hello-world"
    input:
      name: service
`;

function project(): string {
  const dir = tempRoot();
  projects.push(dir);
  writeFileSync(join(dir, 'hello.yaml'), HELLO);
  return dir;
}

const stateFile = (dir: string) => join(dir, '.orchestr8', 'server.json');
const state = (dir: string) =>
  JSON.parse(readFileSync(stateFile(dir), 'utf8')) as { pid: number; url: string };

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

beforeAll(() => assertBuilt());
// Whatever a failed test left running.
afterAll(() => {
  for (const dir of projects) {
    if (!existsSync(stateFile(dir))) continue;
    try {
      process.kill(state(dir).pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe('orchestr8 server', () => {
  const dir = project();
  let url: string;

  it('start runs serve in the background and prints its URL', async () => {
    const r = await cli(['server', 'start', '--port', '0'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    url = /orchestr8 server running at (http:\/\/\S+)/.exec(r.stdout)![1]!;
    expect(state(dir).url).toBe(url);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // It may hold --api-keys: readable by the owner only.
    if (process.platform !== 'win32') expect(statSync(stateFile(dir)).mode & 0o077).toBe(0);
  });

  it('status says it runs, with its URL, pid, store and version; exit 0', async () => {
    const r = await cli(['server', 'status'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^status\s+running$/m);
    expect(r.stdout).toContain(url);
    const json = await cli(['server', 'status', '--json'], { cwd: dir });
    const s = JSON.parse(json.stdout);
    expect(s).toMatchObject({ running: true, ready: true, url, pid: state(dir).pid, version: '0.1.0' });
    expect(s.store).toBe(`sqlite:${join(dir, '.orchestr8', 'orchestr8.db')}`);
    expect(s.executions).toEqual({ running: 0, queued: 0 });
  });

  it('a second start is refused and says where the running one is', async () => {
    const r = await cli(['server', 'start', '--port', '0'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`already running at ${url}`);
    expect(state(dir).url).toBe(url);
  });

  it('a server that exits before it is ready (a taken port) fails start with the end of its log', async () => {
    const other = project();
    const port = new URL(url).port;
    const r = await cli(['server', 'start', '--port', port], { cwd: other });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('before it was ready');
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
    expect(existsSync(stateFile(other))).toBe(false);
  });

  it('logs print the listening line', async () => {
    const r = await cli(['server', 'logs'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`orchestr8 listening on ${url}`);
  });

  it('run uses the local server, says so, and the execution is in the server', async () => {
    const r = await cli(['run', 'hello.yaml'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`using the local server at ${url}`);
    expect(r.stderr).toMatch(new RegExp(`^execution \\S+ · hello@1.0.0 · server ${url}`, 'm'));
    const id = executionIdFrom(r.stderr);
    const got = await fetch(`${url}/executions/${id}`);
    expect(got.status).toBe(200);
    expect(((await got.json()) as { status: string }).status).toBe('completed');
  });

  it('run with another store (ORCHESTR8_STORE) runs in this process and says why', async () => {
    const r = await cli(['run', 'hello.yaml'], { cwd: dir, env: { ORCHESTR8_STORE: 'memory' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`local server at ${url} not used: it records to sqlite:`);
    expect(r.stderr).toMatch(/^execution \S+ · hello@1.0.0 · store memory/m);
  });

  it('run --local runs in this process', async () => {
    const r = await cli(['run', 'hello.yaml', '--local'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('local server');
    expect(r.stderr).toMatch(/^execution \S+ · hello@1.0.0 · store /m);
  });

  it('run with --agents runs in this process and says why the server is not used', async () => {
    writeFileSync(
      join(dir, 'work.json'),
      JSON.stringify({
        version: '1.0.0',
        metadata: { id: 'work' },
        steps: [{ id: 'a', agent: '@test/work', input: { own: 1, ms: 0, deps: [] } }],
      }),
    );
    const r = await cli(['run', 'work.json', '--agents', AGENTS], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`local server at ${url} not used: --agents given; running in this process`);
  });

  it('run --server and --local together is a usage error', async () => {
    const r = await cli(['run', 'hello.yaml', '--local', '--server', url], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--server and --local exclude each other');
  });

  it('logs -f prints lines as they come until Ctrl-C', async () => {
    const { child, done } = startCli(['server', 'logs', '-f'], { cwd: dir });
    let out = '';
    child.stdout!.on('data', (d: string) => {
      out += d;
    });
    try {
      await until('the listening line', () => (out.includes('orchestr8 listening on') ? true : undefined));
      const before = out.length;
      await fetch(`${url}/executions/followed-marker`);
      await until('the new request line', () =>
        out.slice(before).includes('/executions/followed-marker') ? true : undefined,
      );
    } finally {
      child.kill('SIGINT');
    }
    expect((await done).code).toBe(0);
  });

  it('logs --since keeps recent lines and drops older ones', async () => {
    const recent = await cli(['server', 'logs', '--since', '1h'], { cwd: dir });
    expect(recent.stdout).toContain('orchestr8 listening on');
    const future = await cli(['server', 'logs', '--since', new Date(Date.now() + 3_600_000).toISOString()], {
      cwd: dir,
    });
    expect(future.code).toBe(0);
    expect(future.stdout).toBe('');
  });

  it('restart starts it again with the options it was started with', async () => {
    const before = state(dir);
    const r = await cli(['server', 'restart'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const after = state(dir);
    expect(after.pid).not.toBe(before.pid);
    expect(r.stdout).toContain(`orchestr8 server running at ${after.url}`);
    url = after.url;
    // The previous start's log is kept.
    expect(readFileSync(join(dir, '.orchestr8', 'server.log.1'), 'utf8')).toContain(
      `orchestr8 listening on ${before.url}`,
    );
  });

  it('stop ends it and removes the pid file; status then exits 3', async () => {
    const r = await cli(['server', 'stop'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('stopped');
    // Stopped by SIGTERM: the server removed its own pid file.
    expect(r.stderr).not.toContain('SIGKILL');
    expect(existsSync(stateFile(dir))).toBe(false);
    const s = await cli(['server', 'status'], { cwd: dir });
    expect(s.code).toBe(3);
    expect(s.stdout).toContain('not running');
    const again = await cli(['server', 'stop'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('no server running');
  });

  it('restart with nothing running starts nothing (the options it ran with, --api-keys among them, are gone)', async () => {
    const r = await cli(['server', 'restart'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing to restart');
    expect(r.stderr).toContain('orchestr8 server start');
    expect(existsSync(stateFile(dir))).toBe(false);
    expect((await cli(['server', 'status'], { cwd: dir })).code).toBe(3);
  });

  it('run without a server runs in this process, silently', async () => {
    const r = await cli(['run', 'hello.yaml'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('local server');
  });
});

describe('a stale pid file', () => {
  it('status removes one whose process is gone, says so, and exits 3', async () => {
    const dir = project();
    const pid = deadPid();
    mkdirSync(join(dir, '.orchestr8'), { recursive: true });
    writeFileSync(stateFile(dir), JSON.stringify({ pid, url: 'http://127.0.0.1:9', store: 'memory' }));
    const r = await cli(['server', 'status'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`removed a stale pid file (process ${pid} is gone)`);
    expect(existsSync(stateFile(dir))).toBe(false);
  });

  it('start replaces one, and after a SIGKILL status notices and start works again', async () => {
    const dir = project();
    mkdirSync(join(dir, '.orchestr8'), { recursive: true });
    const dead = deadPid();
    writeFileSync(stateFile(dir), JSON.stringify({ pid: dead, url: 'http://127.0.0.1:9', store: 'memory' }));
    const started = await cli(['server', 'start', '--port', '0'], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toContain(`removed a stale pid file (process ${dead} is gone)`);

    const { pid } = state(dir);
    process.kill(pid, 'SIGKILL');
    const s = await until('status to notice the kill', async () => {
      const r = await cli(['server', 'status'], { cwd: dir });
      return r.code === 3 ? r : undefined;
    });
    expect(s.stdout).toContain('removed a stale pid file');
    expect(existsSync(stateFile(dir))).toBe(false);

    const again = await cli(['server', 'start', '--port', '0'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect((await cli(['server', 'stop'], { cwd: dir })).code).toBe(0);
  });
});

describe('restart after a crash', () => {
  it('starts the server again with the options the crashed one ran with (its stale file says them)', async () => {
    const dir = project();
    const started = await cli(['server', 'start', '--port', '0', '--api-keys', 'k-crash'], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    process.kill(state(dir).pid, 'SIGKILL');
    await until('the process to be gone', async () => {
      try {
        process.kill(state(dir).pid, 0);
        return undefined;
      } catch {
        return true;
      }
    });
    const r = await cli(['server', 'restart'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('removed a stale pid file');
    try {
      // The API keys came back with it: the API is not open.
      expect((await fetch(`${state(dir).url}/executions`)).status).toBe(401);
    } finally {
      await cli(['server', 'stop'], { cwd: dir });
    }
  });
});

describe('a server that requires an API key', () => {
  it('is used by run only when ORCHESTR8_API_KEY is set', async () => {
    const dir = project();
    const started = await cli(['server', 'start', '--port', '0', '--api-keys', 'k-local'], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    const { url } = state(dir);
    try {
      const without = await cli(['run', 'hello.yaml'], { cwd: dir });
      expect(without.code, without.stderr).toBe(0);
      expect(without.stderr).toContain(`local server at ${url} not used: it requires an API key`);
      const withKey = await cli(['run', 'hello.yaml'], { cwd: dir, env: { ORCHESTR8_API_KEY: 'k-local' } });
      expect(withKey.code, withKey.stderr).toBe(0);
      expect(withKey.stderr).toContain(`using the local server at ${url}`);
      const status = await cli(['server', 'status', '--json'], {
        cwd: dir,
        env: { ORCHESTR8_API_KEY: 'k-local' },
      });
      expect(JSON.parse(status.stdout).executions).toEqual({ running: 0, queued: 0 });
      // The log does not show the key.
      expect(readFileSync(join(dir, '.orchestr8', 'server.log'), 'utf8')).not.toContain('k-local');
    } finally {
      expect((await cli(['server', 'stop'], { cwd: dir })).code).toBe(0);
    }
  });
});
