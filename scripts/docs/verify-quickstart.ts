/**
 * Runs the quickstart (docs-site/quickstart.md) as a new user would: every ```sh block in
 * order, in a fresh clone of this repository, with `orchestr8 serve` in the background
 * where the page says to open a second terminal. A block must exit 0, and when a ```text
 * block follows it, each of its lines must appear in the output (ids, times and numbers
 * may differ; lines with "..." are skipped).
 *
 *   node --import tsx scripts/docs/verify-quickstart.ts [--dir <existing clone>]
 *
 * Without --dir it clones the committed HEAD into a temporary directory (and so checks
 * what is committed, not the work tree). It takes a minute or two: install and build.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractCodeBlocks } from './snippets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const normalize = (s: string) =>
  s
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/\d+(\.\d+)?/g, '0')
    .replace(/\s+/g, ' ')
    .trim();

function waitForLine(child: ChildProcess, pattern: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms; output:\n${seen}`)), ms);
    const on = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

async function main(): Promise<void> {
  const dirArg = process.argv.indexOf('--dir');
  let dir: string;
  if (dirArg > 0) dir = process.argv[dirArg + 1]!;
  else {
    dir = join(mkdtempSync(join(tmpdir(), 'orchestr8-quickstart-')), 'orchestr8');
    execFileSync('git', ['clone', '--quiet', ROOT, dir], { stdio: 'inherit' });
  }
  const page = readFileSync(join(ROOT, 'docs-site/quickstart.md'), 'utf8');
  const blocks = extractCodeBlocks(page, 'quickstart.md');
  let server: ChildProcess | undefined;
  let failures = 0;
  try {
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]!;
      if (b.lang !== 'sh') continue;
      const next = blocks[i + 1];
      const expected =
        next?.lang === 'text' && next.line - (b.line + b.body.split('\n').length + 1) < 6 ? next : undefined;
      process.stdout.write(`\n$ ${b.body.split('\n').join('\n  ')}\n`);
      if (/^pnpm orchestr8 serve\b/.test(b.body.trim())) {
        server = spawn('bash', ['-c', `exec ${b.body.trim().replace(/^pnpm /, 'pnpm -s ')}`], {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        const out = await waitForLine(server, /listening on/, 30_000);
        process.stdout.write(out);
        if (expected) failures += compare(out, expected.body);
        continue;
      }
      const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', b.body], { cwd: dir, encoding: 'utf8' });
      const out = `${r.stdout}${r.stderr}`;
      process.stdout.write(out);
      if (r.status !== 0) {
        process.stdout.write(`\n✗ exit ${r.status}\n`);
        failures++;
        continue;
      }
      if (expected) failures += compare(out, expected.body);
    }
  } finally {
    // The server runs in its own process group (pnpm, its shell, node): stop all of it.
    if (server?.pid) process.kill(-server.pid, 'SIGTERM');
  }
  process.stdout.write(failures === 0 ? '\nquickstart verified\n' : `\n${failures} problem(s)\n`);
  process.exitCode = failures === 0 ? 0 : 1;
}

function compare(output: string, expected: string): number {
  const have = normalize(output);
  let problems = 0;
  for (const line of expected.split('\n')) {
    if (line.trim() === '' || line.includes('...')) continue;
    if (!have.includes(normalize(line))) {
      process.stdout.write(`\n✗ expected output line not found: ${line}\n`);
      problems++;
    }
  }
  return problems;
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
