/**
 * The release scripts' promises (docs-site/contributing/release.md): the publish order, the
 * refusal of a tag that is not the packages' version, the release notes taken from the
 * changelogs, every package having a changelog, and a clear word from `pnpm changeset` on a
 * Node.js too old for it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inDependencyOrder, publicPackages, REPO } from '../pack.mjs';

const execFileP = promisify(execFile);

async function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, args, { cwd: REPO, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const packages = publicPackages();
const version = packages[0]!.version;

describe('publish order', () => {
  it('puts every package after the packages of ours it depends on', () => {
    const order = inDependencyOrder(packages).map((p) => p.name);
    expect([...order].sort()).toEqual(packages.map((p) => p.name).sort());
    for (const p of packages) {
      const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      };
      for (const dep of Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@orchestr8/'))) {
        expect(order.indexOf(dep), `${dep} before ${p.name}`).toBeLessThan(order.indexOf(p.name));
      }
    }
    expect(order[0]).toBe('@orchestr8/common');
  });

  it('names the cycle when packages depend on each other', () => {
    const root = mkdtempSync(join(tmpdir(), 'orchestr8-cycle-'));
    try {
      const make = (name: string, deps: string[]) => {
        const dir = join(root, name);
        mkdirSync(dir);
        const dependencies = Object.fromEntries(deps.map((d) => [d, '1.0.0']));
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, dependencies }));
        return { name, dir };
      };
      const a = make('a', ['b']);
      const b = make('b', ['c', 'left-pad']);
      const c = make('c', ['a']);
      expect(() => inDependencyOrder([a, b, c])).toThrow('dependency cycle: a -> b -> c -> a');
      const d = make('d', ['e']);
      const e = make('e', []);
      expect(inDependencyOrder([d, e]).map((p) => p.name)).toEqual(['e', 'd']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('scripts/release/publish.mjs', () => {
  it('refuses a tag that is not the version of every package, before packing anything', async () => {
    const r = await node(['scripts/release/publish.mjs', '--tag', 'v99.0.0', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the tag is v99.0.0 but @orchestr8/agent-base is ${version}`);
    expect(r.stderr).toContain('pnpm changeset version');
  });

  it('requires the tag', async () => {
    const r = await node(['scripts/release/publish.mjs', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --tag v<version> is required (the git tag being released)\n');
  });
});

describe('changelogs and release notes', () => {
  it('every public package has a CHANGELOG.md with a section for its current version', () => {
    for (const p of packages) {
      const file = join(p.dir, 'CHANGELOG.md');
      expect(existsSync(file), file).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(text.startsWith(`# ${p.name}\n`), file).toBe(true);
      expect(text, file).toContain(`\n## ${p.version}\n`);
    }
  });

  it("gathers each package's section of the version into the release notes", async () => {
    const r = await node(['scripts/release/release-notes.mjs', `v${version}`]);
    expect(r.code).toBe(0);
    for (const p of packages) expect(r.stdout).toContain(`## ${p.name}\n`);
    const core = readFileSync(join(REPO, 'packages/core/CHANGELOG.md'), 'utf8');
    const firstBullet = core.split('\n').find((l) => l.startsWith('- '))!;
    expect(r.stdout).toContain(firstBullet);
  });

  it('says which packages have no entry for a version', async () => {
    const r = await node(['scripts/release/release-notes.mjs', 'v99.0.0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No changelog entry for 99.0.0: @orchestr8/agent-base');
  });
});

describe('pnpm changeset', () => {
  it('runs the changesets CLI on Node.js 22.11 or newer, and on older ones says which Node.js it needs', async () => {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    const r = await node(['scripts/release/changeset.mjs', '--help']);
    if (major > 22 || (major === 22 && minor >= 11)) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/changeset/i);
    } else {
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `error: changesets needs Node.js 22.11 or newer (this is ${process.versions.node}); the orchestr8 packages support 20.11, only this release tool needs the newer Node.js\n`,
      );
    }
  });
});
