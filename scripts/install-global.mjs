#!/usr/bin/env node
/**
 * `pnpm install:global` (after the build): puts `orchestr8` on the PATH from this clone.
 *
 * The @orchestr8 packages are not published, so `npm install -g @orchestr8/cli` cannot work,
 * and `pnpm link --global` needs a pnpm global bin directory a fresh machine does not have.
 * Instead: `pnpm pack` every package (scripts/release/pack.mjs: `workspace:` ranges become
 * versions, the published `exports` are used), then
 * `npm install -g` all the tarballs at once: npm takes our packages from the tarballs and
 * only their third-party dependencies from the registry.
 *
 * Options: `--prefix <dir>` installs under <dir> (`<dir>/bin/orchestr8`) instead of npm's
 * global prefix. Undo with `npm uninstall -g @orchestr8/cli` and the other @orchestr8 packages
 * (`npm ls -g` lists them).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { packAll, REPO as repo } from './release/pack.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--prefix');
const prefix = at === -1 ? undefined : args[at + 1];
if ((at !== -1 && !prefix) || args.some((a, i) => a !== '--prefix' && i !== at + 1)) {
  process.stderr.write('usage: node scripts/install-global.mjs [--prefix <dir>]\n');
  process.exit(2);
}
if (!existsSync(join(repo, 'packages/cli/dist/bin.js'))) {
  process.stderr.write(
    'error: the packages are not built: run `pnpm build` first (pnpm install:global does)\n',
  );
  process.exit(2);
}

const run = (cmd, argv, options = {}) =>
  execFileSync(cmd, argv, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });

const packs = mkdtempSync(join(tmpdir(), 'orchestr8-packs-'));
try {
  const tarballs = packAll(packs).map((p) => p.tarball);
  process.stdout.write(`installing ${tarballs.length} @orchestr8 packages with npm install -g…\n`);
  run(
    'npm',
    [
      'install',
      '--global',
      ...(prefix ? ['--prefix', resolve(prefix)] : []),
      '--no-fund',
      '--no-audit',
      '--loglevel=error',
      // Metadata npm has cached is good enough: no round trip per package to revalidate it.
      '--prefer-offline',
      ...tarballs,
    ],
    { stdio: 'inherit' },
  );
} finally {
  rmSync(packs, { recursive: true, force: true });
}

const binDir = process.platform === 'win32' ? globalPrefix() : join(globalPrefix(), 'bin');
const version = run(join(binDir, 'orchestr8'), ['--version']).trim();
process.stdout.write(`orchestr8 ${version} installed: ${join(binDir, 'orchestr8')}\n`);
const onPath = (process.env.PATH ?? '').split(delimiter).some((p) => p && resolve(p) === binDir);
if (!onPath)
  process.stdout.write(`${binDir} is not on your PATH: export PATH="${binDir}${delimiter}$PATH"\n`);

function globalPrefix() {
  return prefix ? resolve(prefix) : run('npm', ['prefix', '--global']).trim();
}
