#!/usr/bin/env node
/**
 * Publishes the packed tarballs to the registry: run by .github/workflows/release.yml on a
 * `v<version>` tag, after the build, the tests and the packed-install check.
 *
 * It publishes the very tarballs the check verified (packed by scripts/release/pack.mjs), not
 * a second pack made by `pnpm publish`. Every public package must carry the tag's version
 * (they are released together: `fixed` in .changeset/config.json). Packages go out in
 * dependency order, so a package is never on the registry before what it depends on, and a
 * version already on the registry is skipped, so a failed release can be re-run.
 *
 * Usage: node scripts/release/publish.mjs --tag v0.2.0 [--dry-run] [--provenance]
 * (`--provenance` needs GitHub Actions with `id-token: write`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { inDependencyOrder, packAll, publicPackages } from './pack.mjs';

const { values } = parseArgs({
  options: {
    tag: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    provenance: { type: 'boolean', default: false },
  },
});
const fail = (message) => {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
};
if (!values.tag) fail('--tag v<version> is required (the git tag being released)');
const version = values.tag.replace(/^v/, '');

const wrong = publicPackages().filter((p) => p.version !== version);
if (wrong.length > 0) {
  fail(
    `the tag is ${values.tag} but ${wrong.map((p) => `${p.name} is ${p.version}`).join(', ')}: ` +
      'run `pnpm changeset version` and commit before tagging',
  );
}
const dir = mkdtempSync(join(tmpdir(), 'orchestr8-release-'));
try {
  for (const p of inDependencyOrder(packAll(dir))) {
    if (!values['dry-run'] && isPublished(p.name, p.version)) {
      process.stdout.write(`${p.name}@${p.version} is already on the registry: skipped\n`);
      continue;
    }
    const args = ['publish', p.tarball, '--access', 'public'];
    if (values.provenance) args.push('--provenance');
    if (values['dry-run']) args.push('--dry-run');
    process.stdout.write(`npm ${args.join(' ')}\n`);
    const r = spawnSync('npm', args, { stdio: 'inherit' });
    if (r.status !== 0) fail(`npm publish of ${p.name}@${p.version} failed (exit ${r.status})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function isPublished(name, version) {
  try {
    const out = execFileSync('npm', ['view', `${name}@${version}`, 'version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() === version;
  } catch {
    return false; // E404: not published yet
  }
}
