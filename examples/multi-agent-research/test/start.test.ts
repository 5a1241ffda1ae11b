/**
 * `pnpm start` as a new user meets it: the same run every time (a fresh store, so no circuit
 * left open by the previous run), and a live view that says why a step fell back.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
const start: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts
  .start;

/** The start script, with `orchestr8` as the built binary (what pnpm finds on its PATH). */
function runStart(): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm turbo run build)`);
  const [command, ...args] = start.split(' ');
  expect(command).toBe('orchestr8');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: EXAMPLE, env: { ...process.env, NO_COLOR: '1' } },
      (e, stdout, stderr) => resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const attemptsOfSearchNews = (stderr: string) =>
  stderr.split('\n').filter((l) => /search-news\s+(running|retrying)/.test(l)).length;

describe('pnpm start of the multi-agent-research example', () => {
  it('behaves the same on a second run: the circuit starts closed each time', async () => {
    const first = await runStart();
    const second = await runStart();
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    // The live source is tried (and retried) each time, not refused by a circuit left open.
    expect(attemptsOfSearchNews(second.stderr)).toBe(attemptsOfSearchNews(first.stderr));
    expect(second.stderr).toContain('search-news   retrying   retry in 100 ms: news.example answered 503');
  });

  it('says in the live view why search-news fell back to news-archive', async () => {
    const r = await runStart();
    expect(r.stderr).toMatch(/✗ search-news\s+failed .*CIRCUIT_OPEN .*; falling back to news-archive/);
    expect(r.stderr).toMatch(
      /✓ search-news\s+completed .*output from fallback news-archive \(failed: CIRCUIT_OPEN/,
    );
  });
});
