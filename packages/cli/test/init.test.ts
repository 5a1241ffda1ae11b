/**
 * `orchestr8 init` and `orchestr8 create agent` through the built binary: a new project runs
 * its workflow and passes its tests at once (no install: the CLI provides @orchestr8/*),
 * the next steps it prints run as printed, commands find its config from a subdirectory, and
 * a created agent comes with a passing test.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, REPO, useTempRoot } from './fixtures/harness.js';
import { nextSteps } from './fixtures/next-steps.js';

const tempRoot = useTempRoot('init');
let project: string;

beforeAll(async () => {
  assertBuilt();
  project = join(tempRoot(), 'Acme Research');
  const r = await cli(['init', project]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

describe('orchestr8 init', () => {
  it('scaffolds a config, a workflow, an agent and their tests', () => {
    for (const f of [
      'package.json',
      'orchestr8.config.ts',
      'agents/index.ts',
      'agents/shout.ts',
      'agents/shout.test.yaml',
      'workflows/hello.yaml',
      'workflows/hello.test.yaml',
      'README.md',
    ])
      expect(existsSync(join(project, f)), f).toBe(true);
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('acme-research');
    // Nothing `npm install` would look for on the registry (our packages are not published).
    expect(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })).toEqual([]);
    expect(readFileSync(join(project, 'agents/shout.ts'), 'utf8')).toContain("id: '@acme-research/shout'");
  });

  it('refuses to overwrite an existing project', async () => {
    const r = await cli(['init', project]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already has package.json');
  });

  it('runs the workflow from a subdirectory, with the config’s agents and store', async () => {
    const r = await cli(['run', 'hello.yaml', '--input', 'name=Ada', '--json'], {
      cwd: join(project, 'workflows'),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).outputs).toEqual({ greeting: 'HELLO, ADA!' });
    // The config's relative store path is relative to the config file, not the working directory.
    expect(existsSync(join(project, '.orchestr8/orchestr8.db'))).toBe(true);
    expect(existsSync(join(project, 'workflows/.orchestr8'))).toBe(false);
  });

  it('creates an agent with a test, and every test passes', async () => {
    const created = await cli(['create', 'agent', 'word-count'], { cwd: project });
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('created agent @acme-research/word-count');
    expect(readFileSync(join(project, 'agents/index.ts'), 'utf8')).toContain(
      "export { wordCount } from './word-count.js';",
    );
    const again = await cli(['create', 'agent', 'word-count'], { cwd: project });
    expect(again.code).toBe(2);

    const r = await cli(['test'], { cwd: project });
    expect(r.stdout).toContain('✓ greets and shouts');
    expect(r.stdout).toContain('✓ retries the shout when it fails once');
    expect(r.stdout).toContain('✓ @acme-research/word-count returns the text and its length');
    expect(r.stdout).toMatch(/tests 4 passed, 4 total \(3 files/);
    expect(r.code).toBe(0);
  });

  it('makes validate check agent ids against the config’s agents', async () => {
    const doc = join(project, 'workflows/typo.yaml');
    writeFileSync(
      doc,
      'version: "1.0.0"\nmetadata: { id: typo }\nsteps:\n  - id: s\n    agent: "@acme-research/shuot"\n',
    );
    const r = await cli(['validate', doc], { cwd: project });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('did you mean "@acme-research/shout"?');
  });
});

/** Runs the printed steps in one bash, as a person would type them. */
function runSteps(
  steps: string[],
  cwd: string,
  path: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: path, NO_COLOR: '1' };
    delete env.ORCHESTR8_STORE;
    delete env.NODE_OPTIONS;
    const child = spawn('bash', ['-ec', steps.join('\n')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the next steps init prints', () => {
  // What `npm install -g` or `pnpm install:global` leaves on the PATH: a link to the bin.
  let linked: string;
  beforeAll(() => {
    linked = join(tempRoot(), 'bin');
    mkdirSync(linked);
    symlinkSync(join(REPO, 'packages/cli/bin/orchestr8.js'), join(linked, 'orchestr8'));
  });

  it('call orchestr8 when it is on the PATH, and each succeeds as printed', async () => {
    const dir = tempRoot();
    const path = `${linked}${delimiter}${process.env.PATH}`;
    const init = await cli(['init', 'new-project'], { cwd: dir, env: { PATH: path } });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).not.toMatch(/npx|npm install/);
    const steps = nextSteps(init.stdout);
    expect(steps).toEqual([
      'cd new-project',
      'orchestr8 run workflows/hello.yaml --input name=Ada',
      'orchestr8 test',
      'orchestr8 create agent word-count',
    ]);
    const r = await runSteps(steps, dir, path);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('"greeting": "HELLO, ADA!"');
    expect(r.output).toMatch(/tests 3 passed, 3 total/);
    expect(r.output).toContain('created agent @new-project/word-count');
  }, 60_000);

  it('call this CLI by its path when orchestr8 is not on the PATH, and say how to put it there', async () => {
    const dir = tempRoot();
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((d) => !existsSync(join(d, 'orchestr8')))
      .join(delimiter);
    const init = await cli(['init', 'other project'], { cwd: dir, env: { PATH: path } });
    expect(init.code, init.stderr).toBe(0);
    const steps = nextSteps(init.stdout);
    const self = `node ${join(REPO, 'packages/cli/bin/orchestr8.js')}`;
    expect(steps).toEqual([
      "cd 'other project'",
      `${self} run workflows/hello.yaml --input name=Ada`,
      `${self} test`,
      `${self} create agent word-count`,
    ]);
    expect(init.stdout).toContain('orchestr8 is not on your PATH: `pnpm install:global`');
    const r = await runSteps(steps, dir, path);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/tests 3 passed, 3 total/);
  }, 60_000);
});
