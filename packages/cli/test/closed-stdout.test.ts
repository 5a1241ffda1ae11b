/**
 * A reader that stops early (`orchestr8 ... | head`) closes the pipe: the command ends its
 * output quietly (no "Unhandled 'error' event", no EPIPE stack) and exits with its own code.
 * Real processes: the binary's stdout is a pipe whose reading end is closed before it writes,
 * or a shell pipeline into `head`.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENTS, assertBuilt, BIN, recordExecution, useTempRoot } from './fixtures/harness.js';

const tempDir = useTempRoot('closed-stdout');
let dir: string;
let db: string;
let store: string[];
let completed: string;
let running: string;

interface Exit {
  code: number | null;
  stderr: string;
}

/** Runs the binary with its stdout a pipe nobody reads: closed at once, before the CLI writes anything. */
function closedStdout(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`orchestr8 ${args.join(' ')} did not exit\n${stderr}`));
    }, 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** `set -o pipefail; orchestr8 ... | head -n 1` in bash: the exit code is orchestr8's. */
function intoHead(args: string[], env: Record<string, string> = {}): Promise<Exit & { stdout: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${quoted} | head -n 1`], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const QUIET_END = (e: Exit) => {
  expect(e.stderr).not.toContain('EPIPE');
  expect(e.stderr).not.toContain("Unhandled 'error' event");
  expect(e.stderr).not.toMatch(/\n\s+at .+:\d+/);
};

beforeAll(async () => {
  assertBuilt();
  dir = tempDir();
  db = join(dir, 'history.db');
  store = ['--store', `sqlite:${db}`];
  const steps = Array.from({ length: 40 }, (_, i) => ({
    id: `step-${i}`,
    deps: i === 0 ? [] : [`step-${i - 1}`],
    ms: 0,
    own: i,
  }));
  completed = await recordExecution(db, 'long', steps);
  running = await recordExecution(db, 'left-running', steps.slice(0, 2), { crashAt: 'step-1' });
  // Outputs bigger than a pipe's buffer: `head` exits while the CLI is still writing.
  writeFileSync(
    join(dir, 'big.json'),
    JSON.stringify({
      version: '1.0.0',
      metadata: { id: 'big', name: 'big' },
      steps: [{ id: 'echo', agent: '@orchestr8/echo', input: { text: 'x'.repeat(300_000) } }],
      outputs: { text: '${steps.echo.output.text}', again: '${steps.echo.output.text}' },
    }),
  );
  writeFileSync(
    join(dir, 'fails.json'),
    JSON.stringify({
      version: '1.0.0',
      metadata: { id: 'fails', name: 'fails' },
      steps: [{ id: 'a', agent: '@test/work', input: { own: 1, ms: 0 } }],
    }),
  );
});

describe('a closed stdout', () => {
  it('ends inspect, list and journal quietly with exit code 0', async () => {
    for (const args of [['inspect', completed], ['list'], ['journal', completed]]) {
      const r = await closedStdout([...args, ...store]);
      QUIET_END(r);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0);
    }
  });

  it('keeps a not-found exit code', async () => {
    const r = await closedStdout(['inspect', '00000000-0000-0000-0000-000000000000', ...store]);
    QUIET_END(r);
    expect(r.code).toBe(1);
  });

  it('ends journal --follow of an execution that is still running at once', async () => {
    const r = await closedStdout(['journal', running, '--follow', ...store]);
    QUIET_END(r);
    expect(r.code).toBe(0);
  });

  it('does not make a completed run "failed": exit code 0', async () => {
    const r = await closedStdout(['run', 'big.json', ...store]);
    QUIET_END(r);
    expect(r.stderr).toMatch(/✓ echo\s+completed/);
    expect(r.code).toBe(0);
  });

  it('keeps a failed run’s exit code 1', async () => {
    const r = await closedStdout(['run', 'fails.json', '--agents', AGENTS, ...store], {
      ORCHESTR8_TEST_FAIL_AT: 'a',
    });
    QUIET_END(r);
    expect(r.code).toBe(1);
  });
});

describe('a pipeline into head', () => {
  it('orchestr8 inspect <id> | head -n 1', async () => {
    const r = await intoHead(['inspect', completed, ...store]);
    QUIET_END(r);
    expect(r.stdout).toBe(`execution ${completed}\n`);
    expect(r.code).toBe(0);
  });

  it('orchestr8 run big.json | head -n 1 (output larger than the pipe)', async () => {
    const r = await intoHead(['run', 'big.json', ...store]);
    QUIET_END(r);
    expect(r.stdout).toMatch(/^completed in /);
    expect(r.code).toBe(0);
  });

  it('orchestr8 run big.json --json | head -n 1', async () => {
    const r = await intoHead(['run', 'big.json', '--json', ...store]);
    QUIET_END(r);
    expect(r.stdout).toBe('{\n');
    expect(r.code).toBe(0);
  });
});
