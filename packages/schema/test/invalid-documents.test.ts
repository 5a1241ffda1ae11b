import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LoadResult, loadWorkflow, loadWorkflowFile } from '../src/index.js';

const dir = join(import.meta.dirname, 'fixtures/invalid');

interface Expected {
  code: string;
  pointer: string;
  line: number;
  column: number;
  /** A part of the message. */
  message?: string;
  hint?: string;
}

/**
 * Each invalid fixture and the first (or only) diagnostic it must produce. Fixtures that
 * are not even well-formed are stored as `<name>.txt` (so that the repository's linter
 * leaves them alone) and loaded as `<name>`.
 */
const expectations: Record<string, Expected> = {
  'alias-bomb.yaml': { code: 'E_ALIAS_LIMIT', pointer: '', line: 1, column: 1 },
  'bad-agent.yaml': {
    code: 'E_SCHEMA',
    pointer: '/steps/0/agent',
    line: 6,
    column: 12,
    message: 'must be string or object',
    hint: 'quote it to give the text: "42"',
  },
  'bad-capture.yaml': { code: 'E_TEMPLATE', pointer: '/steps/0/output/capture', line: 8, column: 16 },
  'bad-composition.yaml': {
    code: 'E_SCHEMA',
    pointer: '/policies/resilience/composition',
    line: 9,
    column: 18,
    message: 'must be one of "retry(circuitBreaker(timeout(attempt)))"',
  },
  'bad-default.yaml': {
    code: 'E_TEMPLATE',
    pointer: '/steps/0/input/message',
    line: 8,
    column: 16,
    message: 'JSON literal',
  },
  'bad-duration.yaml': {
    code: 'E_SCHEMA',
    pointer: '/steps/0/policies/timeout',
    line: 8,
    column: 16,
    message: 'must be a duration greater than zero like "500ms"',
  },
  'bad-expression.yaml': {
    code: 'E_EXPRESSION',
    pointer: '/steps/0/condition/if',
    line: 8,
    column: 11,
    message: 'does not parse at column 16: unexpected ">"',
  },
  'bad-step-field.yaml': {
    code: 'E_TEMPLATE',
    pointer: '/steps/1/input',
    line: 10,
    column: 12,
    message: 'steps.a must be followed by .output, .status or .error (found "outputs")',
  },
  'cycle.yaml': {
    code: 'E_CYCLE',
    pointer: '/steps/0/dependencies/0',
    line: 7,
    column: 20,
    message: 'dependency cycle: a -> c -> b -> a',
  },
  'duplicate-key.json.txt': { code: 'E_DUPLICATE_KEY', pointer: '/steps/0/input/x', line: 4, column: 73 },
  'duplicate-key.yaml': { code: 'E_DUPLICATE_KEY', pointer: '/steps/0/agent', line: 7, column: 5 },
  'duplicate-step-id.yaml': { code: 'E_DUPLICATE_STEP_ID', pointer: '/steps/1/id', line: 7, column: 9 },
  'env-not-allowed.yaml': {
    code: 'E_ENV_NOT_ALLOWED',
    pointer: '/steps/0/input/home',
    line: 11,
    column: 13,
    hint: 'add "HOME" to context.environment',
  },
  'fallback-cycle.yaml': {
    code: 'E_FALLBACK_INVALID',
    pointer: '/steps/0/fallbackStepId',
    line: 8,
    column: 21,
    message: 'fallback cycle: a -> b -> a',
  },
  'fallback-missing.yaml': { code: 'E_FALLBACK_MISSING', pointer: '/steps/0/onError', line: 7, column: 14 },
  'fallback-unknown.yaml': {
    code: 'E_UNKNOWN_STEP',
    pointer: '/steps/0/fallbackStepId',
    line: 8,
    column: 21,
  },
  'fallback-upstream.yaml': {
    code: 'E_FALLBACK_INVALID',
    pointer: '/steps/1/fallbackStepId',
    line: 11,
    column: 21,
    message: 'is upstream of "live"',
  },
  'forbidden-path-expression.yaml': {
    code: 'E_FORBIDDEN_PATH',
    pointer: '/steps/0/condition/if',
    line: 8,
    column: 11,
  },
  'forbidden-path.yaml': {
    code: 'E_FORBIDDEN_PATH',
    pointer: '/steps/0/input/polluted',
    line: 8,
    column: 17,
  },
  'foreach-not-array.yaml': {
    code: 'E_FOREACH_NOT_ARRAY',
    pointer: '/steps/0/forEach/items',
    line: 12,
    column: 14,
  },
  'invalid-inputs-schema.yaml': {
    code: 'E_SCHEMA',
    pointer: '/inputs',
    line: 5,
    column: 3,
    message: 'not a valid JSON Schema',
  },
  'item-outside-foreach.yaml': {
    code: 'E_ITEM_OUTSIDE_FOREACH',
    pointer: '/steps/0/input/value',
    line: 8,
    column: 14,
  },
  'malformed.json.txt': {
    code: 'E_PARSE',
    pointer: '/steps/0',
    line: 5,
    column: 46,
    message: 'expected a quoted key',
  },
  'malformed.yaml.txt': {
    code: 'E_PARSE',
    pointer: '/steps/0/input/message',
    line: 7,
    column: 23,
    message: 'string is not closed (missing closing ")',
  },
  'many-problems.yaml': { code: 'E_UNKNOWN_STEP', pointer: '/steps/0/input/one', line: 8, column: 12 },
  'missing-version.json': {
    code: 'E_SCHEMA',
    pointer: '',
    line: 1,
    column: 1,
    message: 'missing required field "version"',
  },
  'no-steps.yaml': {
    code: 'E_SCHEMA',
    pointer: '/steps',
    line: 4,
    column: 8,
    message: 'must have at least 1 item',
  },
  'not-upstream.yaml': {
    code: 'E_NOT_UPSTREAM',
    pointer: '/steps/1/input/message',
    line: 10,
    column: 16,
    hint: 'add "x" to dependencies',
  },
  'self-reference.yaml': { code: 'E_NOT_UPSTREAM', pointer: '/steps/0/input/again', line: 7, column: 21 },
  'too-deep.json': { code: 'E_TOO_DEEP', pointer: `/steps/0/input${'/n'.repeat(61)}`, line: 69, column: 134 },
  'unknown-dependency.yaml': {
    code: 'E_UNKNOWN_STEP',
    pointer: '/steps/1/dependencies/1',
    line: 9,
    column: 27,
    message: 'step "report" depends on "ftech-all", which does not exist',
  },
  'unknown-field.yaml': {
    code: 'E_SCHEMA',
    pointer: '/metadata/owner',
    line: 4,
    column: 3,
    message: 'unknown field "owner"',
  },
  'unknown-function.yaml': {
    code: 'E_EXPRESSION',
    pointer: '/steps/0/condition/unless',
    line: 8,
    column: 15,
    message: 'unknown function launch()',
  },
  'unknown-input.yaml': { code: 'E_UNKNOWN_INPUT', pointer: '/steps/0/input/who', line: 13, column: 12 },
  'unknown-secret.yaml': { code: 'E_UNKNOWN_SECRET', pointer: '/steps/0/input/auth', line: 11, column: 13 },
  'unknown-step-template.yaml': {
    code: 'E_UNKNOWN_STEP',
    pointer: '/steps/1/input/message',
    line: 11,
    column: 16,
    message: 'step "b" reads steps.zz, which does not exist',
  },
  'unknown-variable.yaml': {
    code: 'E_UNKNOWN_VARIABLE',
    pointer: '/steps/0/input/zone',
    line: 11,
    column: 13,
  },
  'unterminated-template.yaml': {
    code: 'E_TEMPLATE',
    pointer: '/steps/0/input/message',
    line: 8,
    column: 16,
    message: 'unterminated template',
  },
  'version-2.yaml': { code: 'E_VERSION', pointer: '/version', line: 1, column: 10 },
  'wrong-type.json': {
    code: 'E_SCHEMA',
    pointer: '/policies/resilience/retry/maxAttempts',
    line: 5,
    column: 59,
    message: 'must be integer',
  },
};

async function load(file: string): Promise<LoadResult> {
  if (!file.endsWith('.txt')) return loadWorkflowFile(join(dir, file));
  return loadWorkflow(readFileSync(join(dir, file), 'utf8'), { filename: join(dir, file.slice(0, -4)) });
}

describe('invalid documents', () => {
  it('every fixture has an expectation and every expectation a fixture', () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(expectations).sort());
  });

  for (const [file, want] of Object.entries(expectations)) {
    it(`${file} is rejected with ${want.code} at ${want.pointer || '/'} (${want.line}:${want.column})`, async () => {
      const path = join(dir, file.replace(/\.txt$/, ''));
      const r = await load(file);
      expect(r.ok).toBe(false);
      expect(r.workflow).toBeUndefined();
      const d = r.diagnostics[0]!;
      expect(d).toMatchObject({
        code: want.code,
        severity: 'error',
        pointer: want.pointer,
        line: want.line,
        column: want.column,
        file: path,
      });
      if (want.message) expect(d.message).toContain(want.message);
      if (want.hint) expect(d.hint).toBe(want.hint);
    });
  }

  it('reports every problem of a document, not only the first', async () => {
    const r = await loadWorkflowFile(join(dir, 'many-problems.yaml'));
    expect(r.diagnostics.map((d) => [d.code, d.pointer])).toEqual([
      ['E_UNKNOWN_STEP', '/steps/0/input/one'],
      ['E_ENV_NOT_ALLOWED', '/steps/0/input/two'],
      ['E_UNKNOWN_STEP', '/steps/1/dependencies/0'],
      ['E_ITEM_OUTSIDE_FOREACH', '/steps/1/input'],
    ]);
  });

  it('reports every schema violation of a document', async () => {
    const r = await loadWorkflowFile(join(dir, 'unknown-field.yaml'));
    expect(r.diagnostics).toHaveLength(1);
    const { loadWorkflow } = await import('../src/index.js');
    const many = loadWorkflow(
      'version: "1.0.0"\nmetadata: { id: x, foo: 1 }\nsteps:\n  - { id: a, agent: "@orchestr8/echo", onError: wat, bar: 2 }\n',
      { format: 'yaml' },
    );
    expect(many.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      '2:20 unknown field "foo"',
      '4:49 must be one of "fail", "continue", "fallback"',
      '4:54 unknown field "bar"',
    ]);
  });

  it('gives an unreadable file one E_READ diagnostic', async () => {
    const r = await loadWorkflowFile(join(dir, 'does-not-exist.yaml'));
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toMatchObject([
      { code: 'E_READ', pointer: '', message: expect.stringContaining('no such file') },
    ]);
  });
});
