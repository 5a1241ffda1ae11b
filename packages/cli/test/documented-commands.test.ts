/**
 * The documented ways of calling the CLI give clean stdout: the README, the quickstart and
 * the guides call `orchestr8` (installed with `pnpm install:global`) or `pnpm -s orchestr8`,
 * never `pnpm orchestr8`, whose banner ("> orchestr8-monorepo@ orchestr8 ...") goes to stdout
 * before the CLI's output. Every documented command whose output is parsed (`--json`) or
 * piped runs here, with the repository's CLI linked on the PATH, and its output parses.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, REPO, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('documented');
const PAGES = [
  'README.md',
  'docs-site/quickstart.md',
  ...readdirSync(join(REPO, 'docs-site/guides'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs-site/guides/${f}`),
];

interface Block {
  page: string;
  /** The line of the block's first command. */
  line: number;
  lines: string[];
}

/** The ```sh blocks of a page. */
function shellBlocks(page: string): Block[] {
  const text = readFileSync(join(REPO, page), 'utf8').split('\n');
  const blocks: Block[] = [];
  let current: Block | undefined;
  text.forEach((l, i) => {
    if (current) {
      if (l.startsWith('```')) {
        blocks.push(current);
        current = undefined;
      } else current.lines.push(l);
    } else if (/^```(sh|bash|shell)\b/.test(l)) current = { page, line: i + 2, lines: [] };
  });
  return blocks;
}

const blocks = PAGES.flatMap(shellBlocks);
const cliLines = blocks.flatMap((b) =>
  b.lines
    .map((text, i) => ({ page: b.page, line: b.line + i, text }))
    .filter((l) => /(^|[\s($])(pnpm |npx )?(-s )?orchestr8 /.test(l.text)),
);

function bash(
  script: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-ec', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  assertBuilt();
  const dir = tempRoot();
  mkdirSync(join(dir, 'bin'));
  symlinkSync(join(REPO, 'packages/cli/bin/orchestr8.js'), join(dir, 'bin/orchestr8'));
  env = {
    ...process.env,
    PATH: `${join(dir, 'bin')}${delimiter}${process.env.PATH}`,
    NO_COLOR: '1',
    // Not the clone's own .orchestr8/: a store of this test, with one execution in it.
    ORCHESTR8_STORE: `sqlite:${join(dir, 'o8.db')}`,
  };
  delete env.NODE_OPTIONS;
  const r = await cli(['run', 'workflows/hello-world.yaml', '--quiet'], {
    env: { ORCHESTR8_STORE: env.ORCHESTR8_STORE },
  });
  expect(r.code, r.stderr).toBe(0);
});

describe('documented CLI commands', () => {
  it('are found in the README, the quickstart and the guides', () => {
    const pages = new Set(cliLines.map((l) => l.page));
    for (const p of ['README.md', 'docs-site/quickstart.md', 'docs-site/guides/writing-an-agent.md'])
      expect(pages).toContain(p);
    expect(cliLines.length).toBeGreaterThan(15);
  });

  it('call orchestr8 itself, never through pnpm without -s, npx or a global link', () => {
    const bad = cliLines.filter((l) => /(pnpm|npx) orchestr8|link --global/.test(l.text));
    expect(bad.map((l) => `${l.page}:${l.line}: ${l.text}`)).toEqual([]);
  });

  it('print parseable JSON on stdout with --json (run as documented)', async () => {
    const json = cliLines.filter(
      (l) => /orchestr8 .*--json/.test(l.text) && !/[|$]/.test(l.text.replace(/#.*$/, '')),
    );
    expect(json.length).toBeGreaterThan(0);
    for (const l of json) {
      const r = await bash(l.text.replace(/\s+#.*$/, ''), env);
      expect(r.code, `${l.page}:${l.line}\n${r.stderr}`).toBe(0);
      expect(() => JSON.parse(r.stdout), `${l.page}:${l.line}: ${r.stdout.slice(0, 200)}`).not.toThrow();
    }
  });

  it('that pipe or capture the output run as documented', async () => {
    const piped = blocks.filter((b) => b.lines.some((l) => /orchestr8 [^#]*\||\$\([^)]*orchestr8 /.test(l)));
    expect(piped.length).toBeGreaterThan(0);
    for (const b of piped) {
      const r = await bash(b.lines.join('\n'), env);
      expect(r.code, `${b.page}:${b.line}\n${r.stderr}`).toBe(0);
      expect(r.stdout, `${b.page}:${b.line}`).toMatch(/execution\.completed/);
    }
  });

  it('without installing: pnpm -s orchestr8 ... --json prints only the JSON', async () => {
    const r = await bash('pnpm -s orchestr8 run workflows/hello-world.yaml --json', env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outputs.greeting).toBe('Hello, world!');
  });
});
