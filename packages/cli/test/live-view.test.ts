/**
 * What `orchestr8 run` and `resume` print, through the real binary: one rendering per event
 * (the live view's line, or a log line, never both), logs as JSON only when asked or when
 * nothing but logs describes the run, durations and reasons people can read, rows cut at a
 * word, and a resumed execution's two durations told apart. On a terminal through `script`
 * (util-linux), which gives the binary a pseudo-terminal of a chosen width.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENTS, assertBuilt, BIN, cli, startCli, useTempRoot } from './fixtures/harness.js';
import { screen } from './fixtures/screen.js';

const tempDir = useTempRoot('live-view');
let dir: string;
let flaky: string;

const JSON_LINE = /^\{"level":/m;
const CONDITION = 'inputs.mode == "full" and inputs.audience == "everyone who asked for it"';

beforeAll(() => {
  assertBuilt();
  dir = tempDir();
  flaky = join(dir, 'flaky.json');
  writeFileSync(
    flaky,
    JSON.stringify({
      version: '1.0.0',
      metadata: { id: 'flaky', name: 'flaky' },
      inputs: { type: 'object', properties: { mode: { type: 'string', default: 'quick' } } },
      steps: [
        // Fails twice, retried at once (0 ms backoff): two retries.
        {
          id: 'fetch',
          agent: '@test/flaky',
          input: { succeedAt: 3 },
          policies: { retry: { maxAttempts: 3, baseDelayMs: 0, jitter: 'none' } },
        },
        { id: 'full', agent: '@orchestr8/echo', condition: { if: CONDITION }, input: { text: 'x' } },
      ],
    }),
  );
});

const run = (args: string[]) =>
  cli(['run', flaky, '--agents', AGENTS, '--store', 'memory', ...args], { cwd: dir });

/** The binary on a pseudo-terminal `cols` wide: everything it wrote, as the terminal shows it at the end. */
function onTerminal(
  args: string[],
  cols: number,
): Promise<{ code: number | null; lines: string[]; raw: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `stty cols ${cols} rows 40; ${command}`, '/dev/null'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let raw = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      raw += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, raw, lines: screen([raw.replace(/\r/g, '')]) }));
  });
}

describe('the live view off a terminal (CI, a log file)', () => {
  it('prints each retry once, as a line of the view, and no JSON log lines', async () => {
    const r = await run([]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(JSON_LINE);
    expect(r.stderr).not.toMatch(/WARN/);
    const retries = r.stderr.split('\n').filter((l) => /retry/.test(l));
    expect(retries).toEqual([
      expect.stringMatching(/^↻ fetch\s+retrying\s+retry in 0 ms: attempt 1 failed$/),
      expect.stringMatching(/^↻ fetch\s+retrying\s+attempt 2\s+retry in 0 ms: attempt 2 failed$/),
    ]);
  });

  it('shows a condition without nested quotes, in the view and in the summary', async () => {
    const r = await run([]);
    expect(r.stderr).toContain(`− full  skipped    condition if \`${CONDITION}\` was false`);
    expect(r.stdout).toContain(`  full skipped: condition if \`${CONDITION}\` was false`);
  });

  it('formats durations as 0 ms, 250 ms, 1.5 s', async () => {
    const r = await run([]);
    expect(r.stdout).toMatch(/^completed in \d+ ms · /m);
    expect(r.stderr).toMatch(/^✓ fetch\s+completed attempt 3 \d+ ms$/m);
    expect(r.stderr + r.stdout).not.toMatch(/\d\.\d\dms|\dms\b/);
  });

  it('with --log-format json, logs what the view does not show, and not the retries it shows', async () => {
    const r = await run(['--log-format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('"event":"step.retrying"');
    expect(r.stderr.split('\n').filter((l) => /retrying/.test(l))).toHaveLength(2);
  });
});

describe('--json (no live view)', () => {
  it('prints only the result on stdout; the retries once each, as JSON log lines, off a terminal', async () => {
    const r = await run(['--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('completed');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ event: 'step.retrying', stepId: 'fetch' });
  });

  it('keeps the logs pretty with --log-format pretty', async () => {
    const r = await run(['--json', '--log-format', 'pretty']);
    expect(r.stderr).not.toMatch(JSON_LINE);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
  });
});

describe('the live view on a terminal', () => {
  it('leaves one row per step and no WARN or JSON line for the retries', async () => {
    const r = await onTerminal(['run', flaky, '--agents', AGENTS, '--store', 'memory'], 200);
    expect(r.code).toBe(0);
    expect(r.raw).not.toMatch(/WARN|"level"/);
    const rows = r.lines.filter((l) => /^[✓↻◐○−✗⊘] /.test(l));
    expect(rows).toEqual([
      expect.stringMatching(/^✓ fetch\s+completed attempt 3 \d+ ms$/),
      `− full  skipped    condition if \`${CONDITION}\` was false`,
    ]);
  });

  it('cuts a row too wide for the terminal at a word, not in the middle of one', async () => {
    const r = await onTerminal(['run', flaky, '--agents', AGENTS, '--store', 'memory'], 60);
    const row = r.lines.find((l) => l.startsWith('− full'));
    expect(row).toBeDefined();
    expect(row!.length).toBeLessThanOrEqual(59);
    expect(row!.endsWith('…')).toBe(true);
    const full = `− full  skipped    condition if \`${CONDITION}\` was false`;
    const kept = row!.slice(0, -1);
    expect(full.startsWith(kept)).toBe(true);
    // What follows the cut in the whole text is a space: the last word shown is whole.
    expect(full[kept.length]).toBe(' ');
  });
});

describe('resume', () => {
  it('prints a resumed step once, and says which duration is this run and which the execution’s', async () => {
    const db = join(dir, 'resume.db');
    const retry = join(dir, 'retry.json');
    writeFileSync(
      retry,
      JSON.stringify({
        version: '1.0.0',
        metadata: { id: 'retry', name: 'retry' },
        steps: [
          {
            id: 'fetch',
            agent: '@test/flaky',
            input: { succeedAt: 2 },
            policies: { retry: { maxAttempts: 3, baseDelayMs: '2s', jitter: 'none' } },
          },
        ],
      }),
    );
    // Killed while it waits 2 s before attempt 2; resumed, attempt 2 runs once the rest of the wait is over.
    const first = startCli(['run', retry, '--agents', AGENTS, '--store', `sqlite:${db}`], { cwd: dir });
    let stderr = '';
    first.child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/retry in 2 s/.test(stderr)) first.child.kill('SIGKILL');
    });
    await first.done;
    expect(stderr).toMatch(/retry in 2 s/);

    const r = await cli(['resume', '--agents', AGENTS, '--store', `sqlite:${db}`], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => /^◐ fetch/.test(l))).toEqual([
      expect.stringMatching(/^◐ fetch\s+running\s+attempt 2$/),
    ]);
    const m = /^completed in (.+) \(this run; (.+) since the execution started\) · /m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
  }, 60_000);
});
