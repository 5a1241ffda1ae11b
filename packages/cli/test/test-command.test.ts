// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * `orchestr8 test` through the built binary: discovery of *.test.yaml, ✓/✗ per test with a
 * diff, the summary line, --json, --filter, and the exit codes (0 passed, 1 failed, 2 invalid).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('test-cmd');
let dir: string;

const FLOW = [
  'version: "1.0.0"',
  'metadata: { id: flow }',
  'inputs: { type: object, properties: { name: { type: string, default: world } } }',
  'steps:',
  '  - id: greet',
  '    agent: "@orchestr8/hello-world"',
  '    input: { name: "${inputs.name}" }',
  '  - id: fetch',
  '    agent: "@acme/fetch"',
  '    dependencies: [greet]',
  '    input: { q: "${steps.greet.output.result}" }',
  '    policies: { retry: { maxAttempts: 3, baseDelayMs: 10m, maxDelayMs: 1h }, timeout: 1m }',
  'outputs:',
  '  greeting: "${steps.greet.output.result}"',
  '  fetched: "${steps.fetch.output}"',
  '',
].join('\n');

beforeAll(() => {
  assertBuilt();
  dir = tempRoot();
  mkdirSync(join(dir, 'flows'));
  mkdirSync(join(dir, 'node_modules/pkg'), { recursive: true });
  writeFileSync(join(dir, 'flows/flow.yaml'), FLOW);
  writeFileSync(
    join(dir, 'flows/flow.test.yaml'),
    [
      'workflow: ./flow.yaml',
      'tests:',
      '  - name: retries through two failures, in no real time',
      '    inputs: { name: Ada }',
      '    mocks:',
      '      "@acme/fetch": [{ fail: HTTP_5XX }, { delayMs: 120000 }, { result: { rows: 3 } }]',
      '    expect:',
      '      outputs: { greeting: "Hello, Ada", fetched: { rows: 3 } }',
      '      steps: { fetch: { status: completed, attempts: 3 } }',
      '      journal:',
      '        - { type: step.retrying, stepId: fetch, count: 2 }',
      '        - { type: timeout.exceeded, stepId: fetch, count: 1 }',
      '  - name: expects the wrong greeting',
      '    mocks: { "@acme/fetch": { result: { rows: 1 } } }',
      '    expect:',
      '      outputs: { greeting: "Hello, Bob" }',
      '      steps: { fetch: { attempts: 2 } }',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'node_modules/pkg/ignored.test.yaml'), 'not: [a test');
});

describe('orchestr8 test', () => {
  it('reports each test, with a diff for a failure, and exits 1', async () => {
    const r = await cli(['test'], { cwd: dir });
    expect(r.stdout).toContain('flows/flow.test.yaml');
    expect(r.stdout).toMatch(/✓ retries through two failures, in no real time \(\d+/);
    expect(r.stdout).toMatch(/✗ expects the wrong greeting/);
    expect(r.stdout).toContain('outputs: outputs.greeting: expected "Hello, Bob", got "Hello, world"');
    expect(r.stdout).toContain('-   "greeting": "Hello, Bob"');
    expect(r.stdout).toContain('+   "greeting": "Hello, world"');
    expect(r.stdout).toContain('steps.fetch.attempts: expected 2, got 1');
    expect(r.stdout).toMatch(/tests 1 failed, 1 passed, 2 total \(1 file;/);
    expect(r.code).toBe(1);
  });

  it('prints JSON with --json and runs only matching tests with --filter', async () => {
    const r = await cli(['test', 'flows', '--json', '--filter', 'retries'], { cwd: dir });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.summary).toEqual({ passed: 1, failed: 0, total: 1, invalidFiles: 0 });
    expect(report.tests[0]).toMatchObject({
      file: join('flows', 'flow.test.yaml'),
      name: 'retries through two failures, in no real time',
      passed: true,
      status: 'completed',
      failures: [],
    });
  });

  it('exits 2 for an invalid test file, and when there is nothing to run', async () => {
    writeFileSync(join(dir, 'bad.test.yaml'), 'workflow: ./flows/flow.yaml\nexpect: { status: done }\n');
    const r = await cli(['test', 'bad.test.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('invalid test file');
    expect(r.stdout).toContain('expect.status must be one of completed, failed, cancelled');
    mkdirSync(join(dir, 'empty'));
    const none = await cli(['test', 'empty'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no test files found');
  });

  it('fails a test whose mock no step uses, before the real agent makes a request', async () => {
    writeFileSync(
      join(dir, 'fetch-user.yaml'),
      [
        'version: "1.0.0"',
        'metadata: { id: fetch-user }',
        'steps:',
        '  - id: fetch',
        '    agent: "@orchestr8/http"',
        '    input: { url: "http://fetch-user.invalid/users/1" }',
        'outputs: { name: "${steps.fetch.output.body.name}" }',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'typo.test.yaml'),
      [
        'workflow: ./fetch-user.yaml',
        'mocks:',
        '  "@orchestr8/htp": { result: { status: 200, headers: {}, body: { name: Ada } } }',
        'expect: { outputs: { name: Ada } }',
        '',
      ].join('\n'),
    );
    const r = await cli(['test', 'typo.test.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('typo.test.yaml');
    expect(r.stdout).toContain(
      'mocks["@orchestr8/htp"]: no step of workflow fetch-user uses agent "@orchestr8/htp" (did you mean "@orchestr8/http"?)',
    );
    expect(r.stdout).not.toContain('NETWORK');
  });

  it('shows the outputs the workflow produced when an expected key is misspelt, under the legend', async () => {
    writeFileSync(
      join(dir, 'misspelt.test.yaml'),
      [
        'workflow: ./flows/flow.yaml',
        'inputs: { name: Ada }',
        'mocks: { "@acme/fetch": { result: { rows: 1 } } }',
        'expect: { outputs: { greting: "Hello, Ada" } }',
        '',
      ].join('\n'),
    );
    const r = await cli(['test', 'misspelt.test.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('outputs.greting: missing (expected "Hello, Ada"; did you mean "greeting"?)');
    const lines = r.stdout.split('\n').map((l) => l.trim());
    const legend = lines.indexOf('- expected  + actual');
    const removed = lines.indexOf('-   "greting": "Hello, Ada"');
    expect(legend).toBeGreaterThan(-1);
    expect(removed).toBe(legend + 2);
    expect(lines).toContain('+   "greeting": "Hello, Ada",');
    expect(lines).toContain('+   "fetched": {');
    expect(lines.findIndex((l) => l.startsWith('tests 1 failed'))).toBeGreaterThan(removed);
  });
});
