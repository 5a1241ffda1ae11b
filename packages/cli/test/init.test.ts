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

  it('refuses to scaffold an orchestr8 project again, without steering to a destructive flag', async () => {
    const r = await cli(['init', project]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already has orchestr8.config.ts');
    expect(r.stderr).not.toContain('package.json');
    expect(r.stderr).not.toContain('--force');
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

describe('orchestr8 init in an existing project', () => {
  // What `npm init -y` writes, with a dependency, a script and a version of the project's own.
  const PACKAGE = {
    name: 'my-app',
    version: '3.2.1',
    description: '',
    main: 'index.js',
    scripts: { test: 'echo "Error: no test specified" && exit 1', build: 'tsc' },
    dependencies: { lodash: '^4.17.21' },
  };
  const OWN = {
    'README.md': '# mine\n',
    'tsconfig.json': '{"compilerOptions":{}}\n',
    '.gitignore': 'dist/\n',
  };

  function existingProject(pkg: object): string {
    const dir = join(tempRoot(), 'existing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    for (const [f, text] of Object.entries(OWN)) writeFileSync(join(dir, f), text);
    return dir;
  }

  it('reads a package.json that starts with a byte-order mark, as npm does, and keeps the mark', async () => {
    const dir = join(tempRoot(), 'bom');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'package.json'),
      `\uFEFF${JSON.stringify({ name: 'bom-app', version: '1.0.0' }, null, 2)}\n`,
    );
    const r = await cli(['init', '.'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    expect(text.startsWith('\uFEFF{')).toBe(true);
    expect(JSON.parse(text.slice(1))).toMatchObject({
      name: 'bom-app',
      version: '1.0.0',
      scripts: { test: 'orchestr8 test' },
    });
  });

  it('refuses a package.json that is not JSON, and writes nothing', async () => {
    const dir = join(tempRoot(), 'broken-pkg');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), '{ "name": "x", }\n');
    const r = await cli(['init', '.'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not valid JSON');
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe('{ "name": "x", }\n');
    expect(existsSync(join(dir, 'workflows'))).toBe(false);
  });

  it('merges package.json (every field kept, type not flipped), keeps README, tsconfig and .gitignore, and runs', async () => {
    const dir = existingProject(PACKAGE);
    const r = await cli(['init', '.'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg).toEqual({
      ...PACKAGE,
      scripts: {
        ...PACKAGE.scripts,
        start: 'orchestr8 run workflows/hello.yaml',
        validate: 'orchestr8 validate workflows/hello.yaml',
      },
    });
    for (const [f, text] of Object.entries(OWN)) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(text);
    expect(r.stdout).toMatch(/merged +package\.json: added scripts start, validate; kept your scripts test/);
    expect(r.stdout).toMatch(/kept +tsconfig\.json, README\.md, \.gitignore/);
    // Not ESM: the config and agents are .mts, which can use the CLI's @orchestr8/* packages.
    expect(r.stdout).toContain('package.json has no "type": "module"');
    expect(existsSync(join(dir, 'orchestr8.config.mts'))).toBe(true);
    expect(existsSync(join(dir, 'agents/shout.mts'))).toBe(true);
    expect(existsSync(join(dir, 'orchestr8.config.ts'))).toBe(false);
    const run = await cli(['run', 'workflows/hello.yaml', '--input', 'name=Ada', '--json'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).outputs).toEqual({ greeting: 'HELLO, ADA!' });
    const test = await cli(['test'], { cwd: dir });
    expect(test.stdout).toMatch(/tests 3 passed, 3 total/);

    // Again: refused, and --force rewrites only init's own files.
    const again = await cli(['init', '.'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).not.toContain('--force');
    const before = readFileSync(join(dir, 'package.json'), 'utf8');
    writeFileSync(join(dir, 'workflows/hello.yaml'), 'edited\n');
    const forced = await cli(['init', '.', '--force'], { cwd: dir });
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe(before);
    for (const [f, text] of Object.entries(OWN)) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(text);
    expect(readFileSync(join(dir, 'workflows/hello.yaml'), 'utf8')).toContain('id: hello');
    expect(forced.stdout).toMatch(/overwritten +orchestr8\.config\.mts, .*workflows\/hello\.yaml/);
  }, 60_000);

  it('keeps an ESM project’s fields and writes .ts agents', async () => {
    const dir = existingProject({ ...PACKAGE, type: 'module', scripts: { start: 'node index.js' } });
    const r = await cli(['init', '.'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.type).toBe('module');
    expect(pkg.version).toBe('3.2.1');
    expect(pkg.dependencies).toEqual(PACKAGE.dependencies);
    expect(pkg.scripts.start).toBe('node index.js');
    expect(pkg.scripts.test).toBe('orchestr8 test');
    expect(r.stdout).not.toContain('"type": "module"');
    expect(existsSync(join(dir, 'agents/shout.ts'))).toBe(true);
    expect(readFileSync(join(dir, 'agents/shout.ts'), 'utf8')).toContain("id: '@my-app/shout'");
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

  it('start with npx orchestr8 when npx put orchestr8 on the PATH (npm_command=exec, node_modules/.bin)', async () => {
    const dir = tempRoot();
    // Where npx puts the bin: node_modules/.bin of its cache (or of the project), first on the PATH.
    const bin = join(dir, '_npx/node_modules/.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(join(REPO, 'packages/cli/bin/orchestr8.js'), join(bin, 'orchestr8'));
    const env = {
      PATH: `${bin}${delimiter}${process.env.PATH}`,
      npm_command: 'exec',
      npm_lifecycle_event: 'npx',
    };
    const init = await cli(['init', 'my-app'], { cwd: dir, env });
    expect(init.code, init.stderr).toBe(0);
    expect(nextSteps(init.stdout)).toEqual([
      'cd my-app',
      'npx orchestr8 run workflows/hello.yaml --input name=Ada',
      'npx orchestr8 test',
      'npx orchestr8 create agent word-count',
    ]);
    expect(init.stdout).not.toContain('not on your PATH');
  });

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
