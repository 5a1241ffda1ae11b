/**
 * What a user gets from the registry works: every public package is packed as `pnpm publish`
 * would pack it, checked with publint and @arethetypeswrong/cli, and the tarballs are
 * installed with npm into a fresh project outside the workspace (no links, no workspace
 * protocol), where `orchestr8 init`, `orchestr8 test` and `orchestr8 run` succeed.
 *
 * One pack and one install serve every assertion below.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mapLimit } from 'async';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { minVersion, satisfies } from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PackedPackage as Packed, packAll, publicPackages, REPO } from '../pack.mjs';

const execFileP = promisify(execFile);

const { preProcessFile } = createRequire(import.meta.url)('typescript') as typeof import('typescript');

/**
 * Imports a package's compiled code makes of a package it does not declare, known and not yet
 * fixed: @orchestr8/agents' isolated worker imports tsx for TypeScript agent modules (tsx
 * should be its optional peer dependency). npm's flat node_modules hides such imports; a
 * stricter layout (pnpm) breaks them.
 */
const UNDECLARED_KNOWN: Record<string, string[]> = { '@orchestr8/agents': ['tsx'] };

/** Entry points that import an optional peer dependency, which a user installs to use them. */
const NEEDS_OPTIONAL_PEER: Record<string, string> = { '@orchestr8/testing/http': 'msw' };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a non-zero exit is a result, not a throw. */
async function run(file: string, args: string[], cwd: string, timeout = 120_000): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  // The consumer is a stranger to this repository: no source condition, no store override.
  delete env.NODE_OPTIONS;
  delete env.ORCHESTR8_STORE;
  try {
    const { stdout, stderr } = await execFileP(file, args, {
      cwd,
      env,
      timeout,
      maxBuffer: 32 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? err.message,
    };
  }
}

const work = mkdtempSync(join(tmpdir(), 'orchestr8-packed-'));
const consumer = join(work, 'consumer');
let packed: Packed[] = [];
let orchestr8: string;

beforeAll(async () => {
  const packs = join(work, 'packs');
  await execFileP('mkdir', ['-p', packs, consumer]);
  packed = packAll(packs);
  // A user's project: not in a workspace, npm, the tarballs as they would come from the registry.
  writeFileSync(
    join(consumer, 'package.json'),
    `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  const installed = await run(
    'npm',
    [
      'install',
      '--no-fund',
      '--no-audit',
      '--no-package-lock',
      '--install-links',
      '--loglevel=error',
      '--prefer-offline',
      ...packed.map((p) => p.tarball),
    ],
    consumer,
    300_000,
  );
  expect(installed.code, `npm install failed:\n${installed.stderr}`).toBe(0);
  orchestr8 = join(consumer, 'node_modules/.bin/orchestr8');
}, 360_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packed packages', () => {
  it('are every public package of packages/*', () => {
    expect(packed.map((p) => p.name)).toEqual(publicPackages().map((p) => p.name));
    expect(packed.length).toBeGreaterThanOrEqual(15);
  });

  it('carry the publish fields, the LICENSE, a README, and no workspace: range', async () => {
    for (const p of packed) {
      const { manifest, files } = await readPackedManifest(p.tarball);
      expect(manifest.license, p.name).toBe('MIT');
      expect(files, p.name).toContain('LICENSE');
      // The package's page on npm.
      expect(files, p.name).toContain('README.md');
      expect(manifest.engines?.node, p.name).toBe('>=20.11');
      expect(manifest.repository, p.name).toMatchObject({
        type: 'git',
        directory: `packages/${p.dir.split('/').pop()}`,
      });
      expect(manifest.type, p.name).toBe('module');
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
        for (const [dep, range] of Object.entries((manifest[field] as Record<string, string>) ?? {})) {
          expect(range, `${p.name} ${field}.${dep}`).not.toMatch(/^workspace:/);
        }
      }
      // Nothing but the build, the bin launcher and what npm always adds; the schema package
      // also ships the generated JSON Schema its validator reads at run time, and streams the
      // JSON Schema of stream documents (for editors: docs-site/concepts/streams.md).
      const shipped =
        p.name === '@orchestr8/schema'
          ? /^workflow\.schema\.json$/
          : p.name === '@orchestr8/streams'
            ? /^stream\.schema\.json$/
            : /^$/;
      if (p.name === '@orchestr8/schema') expect(files, p.name).toContain('workflow.schema.json');
      if (p.name === '@orchestr8/streams') expect(files, p.name).toContain('stream.schema.json');
      for (const f of files)
        expect(
          /^(dist\/|bin\/|package\.json$|LICENSE$|README\.md$)/.test(f) || shipped.test(f),
          `${p.name}: ${f} is packed`,
        ).toBe(true);
    }
  });

  it("publish the repository's exports minus the source condition, which would point into src/ (not shipped)", async () => {
    for (const p of packed) {
      const own = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as {
        exports: Record<string, Record<string, string>>;
      };
      const { manifest } = await readPackedManifest(p.tarball);
      const expected = Object.fromEntries(
        Object.entries(own.exports).map(([entry, conditions]) => {
          const { source: _source, ...rest } = conditions;
          return [entry, rest];
        }),
      );
      expect(manifest.exports, `${p.name}: publishConfig.exports must follow exports`).toEqual(expected);
      expect(JSON.stringify(manifest.exports), p.name).not.toContain('"source"');
    }
  });

  it('pass publint with no error or warning', async () => {
    const problems: string[] = [];
    for (const p of packed) {
      const tarball = await readFile(p.tarball);
      const result = await publint({
        pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
        level: 'warning',
      });
      for (const m of result.messages) {
        problems.push(`${p.name}: ${m.type}: ${formatMessage(m, result.pkg) ?? m.code}`);
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('have types that resolve for ESM consumers under node16 and bundler (arethetypeswrong)', async () => {
    const attw = join(REPO, 'node_modules/.bin/attw');
    // ESM-only packages: the CommonJS resolutions (node10, require from node16) do not apply.
    const results = await mapLimit(packed, 2, async (p: Packed) =>
      run(attw, [p.tarball, '--profile', 'esm-only', '--format', 'ascii'], REPO),
    );
    const failed = results
      .map((r, i) => ({ r, p: packed[i]! }))
      .filter(({ r }) => r.code !== 0)
      .map(({ r, p }) => `${p.name}:\n${r.stdout}${r.stderr}`);
    expect(failed).toEqual([]);
  }, 300_000);
});

describe('installed from the tarballs with npm, outside the workspace', () => {
  it('import only packages they declare, in their code and in their type declarations', async () => {
    const undeclared: string[] = [];
    for (const p of packed) {
      const dir = join(consumer, 'node_modules', p.name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
        string,
        Record<string, string> | undefined
      >;
      const declared = new Set([
        p.name,
        ...Object.keys({
          ...manifest.dependencies,
          ...manifest.peerDependencies,
          ...manifest.optionalDependencies,
        }),
        ...(UNDECLARED_KNOWN[p.name] ?? []),
      ]);
      const files = (await readdir(join(dir, 'dist'), { recursive: true }))
        .filter((f) => /\.(m?js|d\.ts)$/.test(f))
        // The console's single-page app is bundled: it imports nothing at run time.
        .filter((f) => !f.startsWith('app/'));
      for (const f of files) {
        const { importedFiles } = preProcessFile(readFileSync(join(dir, 'dist', f), 'utf8'), true, true);
        for (const { fileName: spec } of importedFiles) {
          if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
          const dep = spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/');
          if (!declared.has(dep)) undeclared.push(`${p.name} dist/${f} imports ${spec}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('need no Node.js newer than the one they promise: no installed package has an engines.node leaving it out', () => {
    // What npm resolves from the published ranges (the newest in range), which the lockfile
    // check (dependency-engines.test.ts) does not see; npm only warns (EBADENGINE).
    const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const node = minVersion(root.engines.node)!.version;
    const excluded: string[] = [];
    let seen = 0;
    const walk = (modules: string) => {
      let names: string[];
      try {
        names = readdirSync(modules);
      } catch {
        return;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        if (name.startsWith('@')) {
          for (const scoped of readdirSync(join(modules, name))) visit(join(modules, name, scoped));
        } else visit(join(modules, name));
      }
    };
    const visit = (dir: string) => {
      let manifest: { name?: string; version?: string; engines?: { node?: unknown } };
      try {
        manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      } catch {
        return;
      }
      seen++;
      const range = manifest.engines?.node;
      if (typeof range === 'string' && !satisfies(node, range)) {
        excluded.push(
          `${manifest.name}@${manifest.version} requires node ${range} (${dir.slice(consumer.length + 1)})`,
        );
      }
      walk(join(dir, 'node_modules'));
    };
    walk(join(consumer, 'node_modules'));
    expect(seen).toBeGreaterThan(100);
    expect(excluded).toEqual([]);
  });

  it('ship source maps that carry their sources (src/ is not published)', async () => {
    const incomplete: string[] = [];
    let maps = 0;
    for (const p of packed) {
      const dist = join(consumer, 'node_modules', p.name, 'dist');
      for (const f of (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js.map'))) {
        maps++;
        const map = JSON.parse(readFileSync(join(dist, f), 'utf8')) as {
          sources: string[];
          sourcesContent?: (string | null)[];
        };
        const content = map.sourcesContent ?? [];
        if (content.length !== map.sources.length || content.some((c) => typeof c !== 'string')) {
          incomplete.push(`${p.name} dist/${f}`);
        }
      }
    }
    expect(maps).toBeGreaterThan(100);
    expect(incomplete).toEqual([]);
  });

  it('imports every published entry point, with or without a source condition', async () => {
    const entries = packed
      .flatMap((p) => {
        const own = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as {
          exports: Record<string, unknown>;
        };
        return Object.keys(own.exports).map((e) => (e === '.' ? p.name : `${p.name}/${e.slice(2)}`));
      })
      .filter((e) => !(e in NEEDS_OPTIONAL_PEER));
    const script = `for (const e of ${JSON.stringify(entries)}) await import(e);\nconsole.log('ok');`;
    writeFileSync(join(consumer, 'imports.mjs'), script);
    // A consumer whose tools add a "source" condition (some bundlers and TS setups do) must
    // still get dist/, not TypeScript files that are not in the package.
    for (const flags of [[], ['--conditions=source']]) {
      const r = await run(process.execPath, [...flags, 'imports.mjs'], consumer);
      expect(r.code, `${flags.join(' ')}\n${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe('ok');
    }
  }, 60_000);

  it('an entry point that needs an optional peer says which package to install', async () => {
    for (const [entry, peer] of Object.entries(NEEDS_OPTIONAL_PEER)) {
      const r = await run(
        process.execPath,
        ['--input-type=module', '-e', `await import('${entry}')`],
        consumer,
      );
      expect(r.code, entry).not.toBe(0);
      expect(r.stderr, entry).toContain(`Cannot find package '${peer}'`);
    }
  });

  it('orchestr8 init makes a project whose tests pass with orchestr8 test and whose workflow runs', async () => {
    const version = await run(orchestr8, ['--version'], consumer);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(packed.find((p) => p.name === '@orchestr8/cli')!.version);

    const init = await run(orchestr8, ['init', 'my-app'], consumer);
    expect(init.code, init.stderr).toBe(0);
    const app = join(consumer, 'my-app');

    const test = await run(orchestr8, ['test'], app);
    expect(test.code, `${test.stdout}\n${test.stderr}`).toBe(0);
    expect(test.stdout).toMatch(/tests 3 passed, 3 total/);

    const ran = await run(orchestr8, ['run', 'workflows/hello.yaml', '--input', 'name=Ada', '--json'], app);
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout) as { status: string; outputs: Record<string, unknown> };
    expect(result.status).toBe('completed');
    expect(result.outputs).toEqual({ greeting: 'HELLO, ADA!' });
  }, 120_000);

  it("runs the embedding guide's program as the guide says: its file and a main.ts beside it, with tsx", async () => {
    const app = join(consumer, 'embed');
    await execFileP('mkdir', ['-p', app]);
    writeFileSync(join(app, 'embedding.ts'), readFileSync(join(REPO, 'docs-site/snippets/embedding.ts')));
    writeFileSync(
      join(app, 'main.ts'),
      "import { greetAll } from './embedding.js';\n\nconsole.log(await greetAll(['Ada', 'Grace'], { GREETING: 'hello' }));\n",
    );
    const ran = await run(join(REPO, 'node_modules/.bin/tsx'), ['main.ts'], app);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain("outputs: [ { text: 'HELLO, ADA!' }, { text: 'HELLO, GRACE!' } ]");
    expect(ran.stdout.match(/'execution\.completed /g)).toHaveLength(2);
    expect(ran.stdout).toContain('dropped: 0');
  }, 60_000);

  it('orchestr8 serve answers with the console, its page and its assets from the package', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.NODE_OPTIONS;
    delete env.ORCHESTR8_STORE;
    const child = spawn(orchestr8, ['serve', '--port', '0', '--store', 'memory'], {
      cwd: consumer,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.stderr!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
        });
        child.once('exit', () => reject(new Error(`orchestr8 serve exited:\n${out}`)));
      });
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      const scripts = [...html.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]!);
      expect(scripts.length).toBeGreaterThan(0);
      for (const src of scripts) {
        const asset = await fetch(new URL(src, url));
        expect(asset.status, src).toBe(200);
        expect(asset.headers.get('content-type'), src).toMatch(/javascript/);
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});

interface Manifest {
  [field: string]: unknown;
  license?: string;
  type?: string;
  engines?: { node?: string };
  repository?: unknown;
  exports?: unknown;
}

/** The package.json inside a tarball, and its file list (paths without the package/ prefix). */
async function readPackedManifest(tarball: string): Promise<{ manifest: Manifest; files: string[] }> {
  const [list, json] = await Promise.all([
    execFileP('tar', ['-tzf', tarball]),
    execFileP('tar', ['-xzOf', tarball, 'package/package.json']),
  ]);
  const files = list.stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  return { manifest: JSON.parse(json.stdout) as Manifest, files };
}
