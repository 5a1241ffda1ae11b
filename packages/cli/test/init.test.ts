/**
 * `orchestr8 init` and `orchestr8 create agent` through the built binary: a new project runs
 * its workflow and passes its tests at once (no install: the CLI provides @orchestr8/*),
 * commands find its config from a subdirectory, and a created agent comes with a passing test.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

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
    expect(pkg.devDependencies['@orchestr8/cli']).toMatch(/^\^\d+\.\d+\.\d+/);
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
