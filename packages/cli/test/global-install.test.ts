/**
 * `pnpm install:global` from a clone: scripts/install-global.mjs packs every package and
 * installs the tarballs with `npm install -g` (here `--prefix <temp dir>`, so the machine's
 * global packages are left alone). The `orchestr8` it installs runs a workflow with clean
 * JSON on stdout, and a project made by its `init` runs each printed next step as printed:
 * nothing to install, no package of ours fetched from the registry.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, REPO, useTempRoot } from './fixtures/harness.js';
import { nextSteps } from './fixtures/next-steps.js';

const tempRoot = useTempRoot('global');
let prefix: string;
let bin: string;
let env: NodeJS.ProcessEnv;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: SpawnOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
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

beforeAll(async () => {
  assertBuilt();
  prefix = tempRoot();
  const installed = await run(process.execPath, ['scripts/install-global.mjs', '--prefix', prefix], {
    cwd: REPO,
  });
  expect(installed.code, `${installed.stdout}\n${installed.stderr}`).toBe(0);
  bin = join(prefix, 'bin');
  env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}`, NO_COLOR: '1' };
  delete env.ORCHESTR8_STORE;
  delete env.NODE_OPTIONS;
}, 240_000);

describe('pnpm install:global', () => {
  it('puts a working orchestr8 in <prefix>/bin', async () => {
    const version = (
      JSON.parse(readFileSync(join(REPO, 'packages/cli/package.json'), 'utf8')) as { version: string }
    ).version;
    const r = await run(join(bin, 'orchestr8'), ['--version'], { env });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(version);
  });

  it("runs the README's --json example with clean, parseable JSON on stdout", async () => {
    const dir = tempRoot();
    copyFileSync(join(REPO, 'workflows/research-flow.yaml'), join(dir, 'research-flow.yaml'));
    const r = await run('orchestr8', ['run', 'research-flow.yaml', '--json'], {
      cwd: dir,
      env,
      shell: false,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('completed');
  });

  it('makes a project with init whose printed next steps all succeed as printed', async () => {
    const dir = tempRoot();
    const init = await run('orchestr8', ['init', 'my-project'], { cwd: dir, env });
    expect(init.code, init.stderr).toBe(0);
    const steps = nextSteps(init.stdout);
    expect(steps).toEqual([
      'cd my-project',
      'orchestr8 run workflows/hello.yaml --input name=Ada',
      'orchestr8 test',
      'orchestr8 create agent word-count',
    ]);
    expect(init.stdout).not.toMatch(/npx|npm install/);
    // One shell, as a person would type them: each must succeed.
    const r = await run('bash', ['-ec', steps.join('\n')], { cwd: dir, env });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('"greeting": "HELLO, ADA!"');
    expect(r.stdout).toMatch(/tests 3 passed, 3 total/);
    expect(r.stdout).toContain('created agent @my-project/word-count');
  });
});
