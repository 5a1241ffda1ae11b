// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineAgent } from '@orchestr8/agent-base';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWorkflowTestFile, parseWorkflowTestDocument, runWorkflowTest } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'o8-testing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(
  join(dir, 'fetch.yaml'),
  [
    'version: "1.0.0"',
    'metadata: { id: fetch-flow }',
    'steps:',
    '  - id: fetch',
    '    agent: "@acme/fetch"',
    '    input: { id: "${inputs.id}" }',
    '    policies: { retry: { maxAttempts: 3, baseDelayMs: 5s } }',
    '  - id: shout',
    '    agent: "@acme/upper"',
    '    dependencies: [fetch]',
    '    input: { text: "${steps.fetch.output.name}" }',
    'outputs:',
    '  name: ${steps.shout.output.text}',
    '',
  ].join('\n'),
);

const upper = defineAgent({
  id: '@acme/upper',
  execute: (input: { text: string }) => ({ text: input.text.toUpperCase() }),
});

async function casesOf(name: string, text: string) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadWorkflowTestFile(file);
}

describe('workflow test files', () => {
  it('run with mocks and pass when the expectations hold', async () => {
    const f = await casesOf(
      'pass.test.yaml',
      [
        'workflow: ./fetch.yaml',
        'inputs: { id: 7 }',
        'mocks:',
        '  "@acme/fetch": [{ fail: HTTP_5XX, message: busy }, { result: { name: ada } }]',
        'expect:',
        '  outputs: { name: ADA }',
        '  steps: { fetch: { status: completed, attempts: 2, output: { name: ada } } }',
        '  journal: [{ type: step.retrying, stepId: fetch, count: 1 }]',
        '  calls: { "@acme/fetch": 2 }',
      ].join('\n'),
    );
    expect(f.problems).toEqual([]);
    expect(f.cases.map((c) => c.name)).toEqual(['pass']);
    const outcome = await runWorkflowTest(f.cases[0]!, { agents: [upper] });
    expect(outcome.failures).toEqual([]);
    expect(outcome.passed).toBe(true);
  });

  it('report every unmet expectation, with a diff for values', async () => {
    const f = await casesOf(
      'fail.test.yaml',
      [
        'workflow: ./fetch.yaml',
        'inputs: { id: 1 }',
        'tests:',
        '  - name: wrong everything',
        '    mocks: { "@acme/fetch": { result: { name: bob } } }',
        '    expect:',
        '      outputs: { name: ADA }',
        '      steps: { fetch: { attempts: 2 } }',
        '      journal: [{ type: step.retrying, stepId: fetch }]',
        '  - name: failing',
        '    mocks: { "@acme/fetch": { fail: TERMINAL } }',
        '    expect: { status: failed, error: { code: TERMINAL } }',
      ].join('\n'),
    );
    expect(f.problems).toEqual([]);
    const [wrong, failing] = await Promise.all(f.cases.map((c) => runWorkflowTest(c, { agents: [upper] })));
    expect(wrong!.passed).toBe(false);
    expect(wrong!.failures.map((x) => x.path)).toEqual(['outputs', 'steps.fetch.attempts', 'journal[0]']);
    expect(wrong!.failures[0]!.message).toBe('outputs.name: expected "ADA", got "BOB"');
    expect(wrong!.failures[0]!.diff).toBe('  {\n-   "name": "ADA"\n+   "name": "BOB"\n  }');
    expect(wrong!.failures[2]!.message).toContain('step fetch journalled: step.started, step.completed');
    expect(failing!.failures).toEqual([]);
  });

  it('fail a case whose workflow is invalid, naming the problem', async () => {
    const f = await casesOf('unknown-agent.test.yaml', 'workflow: ./fetch.yaml\n');
    const outcome = await runWorkflowTest(f.cases[0]!);
    expect(outcome.failures[0]!.path).toBe('workflow');
    expect(outcome.failures[0]!.message).toContain('@acme/fetch');
  });

  it('accept inline workflows', async () => {
    const parsed = parseWorkflowTestDocument(
      {
        workflow: {
          version: '1.0.0',
          metadata: { id: 'inline' },
          steps: [{ id: 'e', agent: '@orchestr8/echo', input: { a: 1 } }],
        },
        expect: { steps: { e: { output: { a: 1 } } } },
      },
      join(dir, 'inline.test.yaml'),
    );
    expect((await runWorkflowTest(parsed.cases[0]!)).passed).toBe(true);
  });

  it('list what is wrong with a malformed test file', () => {
    const parsed = parseWorkflowTestDocument(
      {
        inputs: [],
        mocks: { x: [{ fial: 'X' }], y: { fail: 3 } },
        expect: { status: 'done', steps: { a: { attempts: -1 } }, journal: [{ stepId: 'a' }], bogus: 1 },
      },
      'bad.test.yaml',
    );
    expect(parsed.cases).toEqual([]);
    expect(parsed.problems).toEqual([
      'inputs must be an object',
      'mocks["x"][0]: unknown field "fial" (use result, fail, message, retryable, retryAfterMs, delayMs)',
      'mocks["y"].fail must be an error code such as RETRYABLE, HTTP_5XX or TERMINAL',
      'expect: unknown field "bogus" (expected status, outputs, error, steps, journal, calls)',
      'expect.status must be one of completed, failed, cancelled',
      'expect.steps.a.attempts must be a whole number',
      'expect.journal[0] must be an object with a type, e.g. {type: step.retrying, stepId: x}',
      'workflow is required: a path (relative to this file) or a document',
    ]);
  });
});

describe('mocks no step uses', () => {
  it('fail the case before anything runs, naming the mock and the likely agent', async () => {
    const calls: unknown[] = [];
    const realFetch = defineAgent({
      id: '@acme/fetch',
      execute: (input) => {
        calls.push(input);
        return { name: 'real' };
      },
    });
    const f = await casesOf(
      'typo.test.yaml',
      [
        'workflow: ./fetch.yaml',
        'inputs: { id: 7 }',
        'mocks:',
        '  "@acme/fetc": { result: { name: ada } }',
        '  "@acme/other": { result: 1 }',
      ].join('\n'),
    );
    const outcome = await runWorkflowTest(f.cases[0]!, { agents: [realFetch, upper] });
    expect(calls).toEqual([]);
    expect(outcome.result).toBeUndefined();
    expect(outcome.failures).toEqual([
      {
        path: 'mocks["@acme/fetc"]',
        message: 'no step of workflow fetch-flow uses agent "@acme/fetc" (did you mean "@acme/fetch"?)',
      },
      {
        path: 'mocks["@acme/other"]',
        message:
          'no step of workflow fetch-flow uses agent "@acme/other" (it uses "@acme/fetch", "@acme/upper")',
      },
    ]);
  });

  it('count the agents of inline sub-workflows, and accept any mock when a child comes from a file', async () => {
    const child = {
      version: '1.0.0',
      metadata: { id: 'child' },
      steps: [{ id: 'inner', agent: { id: '@acme/inner' }, input: {} }],
    };
    const parent = (input: Record<string, unknown>) => ({
      version: '1.0.0',
      metadata: { id: 'parent' },
      steps: [{ id: 'sub', agent: '@orchestr8/workflow', input }],
    });
    const inline = parseWorkflowTestDocument(
      {
        workflow: parent({ workflow: child }),
        mocks: { '@acme/inner': { result: 'mocked' } },
        expect: { steps: { sub: { status: 'completed' } }, calls: { '@acme/inner': 1 } },
      },
      join(dir, 'inline-child.test.yaml'),
    );
    expect((await runWorkflowTest(inline.cases[0]!)).failures).toEqual([]);

    const typo = parseWorkflowTestDocument(
      { workflow: parent({ workflow: child }), mocks: { '@acme/iner': { result: 'mocked' } } },
      join(dir, 'inline-child-typo.test.yaml'),
    );
    expect((await runWorkflowTest(typo.cases[0]!)).failures[0]).toMatchObject({
      path: 'mocks["@acme/iner"]',
      message: expect.stringContaining('did you mean "@acme/inner"?'),
    });

    writeFileSync(join(dir, 'child.yaml'), JSON.stringify(child));
    const fromFile = parseWorkflowTestDocument(
      {
        workflow: parent({ path: 'child.yaml' }),
        mocks: { '@acme/inner': { result: 'mocked' } },
        expect: { status: 'failed' },
      },
      join(dir, 'file-child.test.yaml'),
    );
    // The child's agents are not known before it runs: the mock is not refused.
    const outcome = await runWorkflowTest(fromFile.cases[0]!);
    expect(outcome.failures.map((x) => x.path)).not.toContain('mocks["@acme/inner"]');
  });
});

describe('a failed partial match', () => {
  it('shows the keys the actual value has, so a misspelt expected key is visible', async () => {
    const f = await casesOf(
      'misspelt.test.yaml',
      [
        'workflow: ./fetch.yaml',
        'inputs: { id: 7 }',
        'mocks: { "@acme/fetch": { result: { name: ada } } }',
        'expect: { outputs: { nmae: ADA } }',
      ].join('\n'),
    );
    const outcome = await runWorkflowTest(f.cases[0]!, { agents: [upper] });
    expect(outcome.failures).toEqual([
      {
        path: 'outputs',
        message: 'outputs.nmae: missing (expected "ADA"; did you mean "name"?)',
        diff: '  {\n-   "nmae": "ADA"\n+   "name": "ADA"\n  }',
      },
    ]);
  });
});
