/**
 * Packing the public packages the way the registry will receive them, for
 * `pnpm install:global`, the packed-install check (scripts/release/test) and the release
 * workflow.
 *
 * One recursive `pnpm pack` (much faster than a pnpm per package) turns `workspace:` ranges
 * into versions, applies each package's `publishConfig` (the published `exports` have no
 * `source` condition) and adds the repository's LICENSE. Private packages are left out.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The public packages of packages/*: `{ name, version, dir, tarballName }`, sorted by name.
 * @returns {{ name: string, version: string, dir: string, tarballName: string }[]}
 */
export function publicPackages() {
  const root = join(REPO, 'packages');
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'package.json')))
    .map((d) => {
      const pkg = JSON.parse(readFileSync(join(root, d, 'package.json'), 'utf8'));
      return { pkg, dir: join(root, d) };
    })
    .filter(({ pkg }) => !pkg.private)
    .map(({ pkg, dir }) => ({
      name: pkg.name,
      version: pkg.version,
      dir,
      // What `pnpm pack` names it: @scope/name@1.0.0 -> scope-name-1.0.0.tgz
      tarballName: `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Packs every public package into `destination` (which must exist); the packages must be
 * built. Returns each package with the absolute path of its tarball.
 * @param {string} destination
 */
export function packAll(destination) {
  const packages = publicPackages();
  const unbuilt = packages.filter((p) => !existsSync(join(p.dir, 'dist')));
  if (unbuilt.length > 0) {
    throw new Error(`not built: ${unbuilt.map((p) => p.name).join(', ')}: run \`pnpm build\` first`);
  }
  execFileSync(
    'pnpm',
    ['--recursive', '--filter', './packages/*', 'pack', '--pack-destination', destination],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return packages.map((p) => {
    const tarball = join(destination, p.tarballName);
    if (!existsSync(tarball)) throw new Error(`pnpm pack did not produce ${p.tarballName}`);
    return { ...p, tarball };
  });
}

/**
 * The packages with each one after the packages of ours it depends on (dependencies, peer
 * and optional ones), so that publishing in this order never leaves a published package
 * pointing at one of ours the registry does not have yet.
 * @template {{ name: string, dir: string }} P
 * @param {P[]} packages
 * @returns {P[]}
 */
export function inDependencyOrder(packages) {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const ours = (p) => {
    const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
    const all = { ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies };
    return Object.keys(all).filter((d) => byName.has(d) && d !== p.name);
  };
  const out = [];
  const state = new Map();
  const visit = (p, path) => {
    if (state.get(p.name) === 'done') return;
    if (state.get(p.name) === 'visiting') {
      throw new Error(`dependency cycle: ${[...path, p.name].join(' -> ')}`);
    }
    state.set(p.name, 'visiting');
    for (const d of ours(p)) visit(byName.get(d), [...path, p.name]);
    state.set(p.name, 'done');
    out.push(p);
  };
  for (const p of packages) visit(p, []);
  return out;
}

// `node scripts/release/pack.mjs <dir>` (`pnpm pack:all <dir>`): the tarballs, to install
// with `npm install <dir>/*.tgz` in a project of your own.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = process.argv[2];
  if (!target || process.argv.length > 3) {
    process.stderr.write('usage: node scripts/release/pack.mjs <directory for the tarballs>\n');
    process.exit(2);
  }
  const destination = resolve(target);
  mkdirSync(destination, { recursive: true });
  try {
    const tarballs = packAll(destination).map((p) => p.tarball);
    process.stdout.write(
      `${tarballs.join('\n')}\n\ninstall them in your project with: npm install ${destination}/*.tgz\n`,
    );
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
