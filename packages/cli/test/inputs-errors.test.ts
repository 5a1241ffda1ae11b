// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * Inputs a workflow refuses: `orchestr8 run` names each problem by the code the docs and
 * the HTTP API use (E_INPUTS), with its pointer, and runs nothing; the CLI's hint says how
 * to pass the input.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkedInputs } from '@orchestr8/core';
import { loadWorkflow } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { inputsErrorText } from '../src/inputs.js';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('inputs');

const DOCUMENT = [
  'version: 1.0.0',
  'metadata: { id: typed-inputs }',
  'inputs:',
  '  type: object',
  '  properties:',
  '    runKey: { type: string }',
  '    retries: { type: integer }',
  '  required: [runKey]',
  '  additionalProperties: false',
  'steps:',
  '  - id: a',
  '    agent: "@orchestr8/echo"',
  '    input: { key: "${inputs.runKey}" }',
  '',
].join('\n');

function refusal(inputs: Record<string, unknown>): unknown {
  const workflow = loadWorkflow(DOCUMENT, { format: 'yaml' }).workflow!;
  try {
    checkedInputs(workflow, inputs);
  } catch (e) {
    return e;
  }
  throw new Error('the inputs were accepted');
}

describe('inputs the workflow refuses', () => {
  it('make run name each problem E_INPUTS with its pointer, and run nothing', async () => {
    assertBuilt();
    const dir = tempRoot();
    const file = join(dir, 'typed.yaml');
    writeFileSync(file, DOCUMENT);
    const r = await cli(['run', file, '--store', 'memory', '--input', 'retries=two', '--input', 'extra=1'], {
      cwd: dir,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_INPUTS unknown input "extra" (at /inputs/extra)');
    expect(r.stderr).toContain('E_INPUTS missing required input "runKey" (at /inputs)');
    expect(r.stderr).toContain('E_INPUTS must be integer (at /inputs/retries)');
    expect(r.stderr).toContain('hint: pass it: --input runKey=<value>');
    expect(r.stderr).not.toMatch(/^execution /m);
    expect(r.stdout).toBe('');
    // A misspelt input is named with the one meant.
    const typo = await cli(
      ['run', file, '--store', 'memory', '--input', 'runKey=a', '--input', 'retires=2'],
      {
        cwd: dir,
      },
    );
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(
      'E_INPUTS unknown input "retires" (at /inputs/retires)\n  hint: did you mean "retries"?',
    );
  });

  it('come with a hint on how to pass each input on the command line', () => {
    expect(inputsErrorText(refusal({ retries: 'two', extra: 1 }))).toBe(
      [
        'error E_INPUTS missing required input "runKey" (at /inputs)',
        '  hint: pass it: --input runKey=<value>',
        'error E_INPUTS unknown input "extra" (at /inputs/extra)',
        '  hint: the workflow declares no input "extra": check its spelling, or leave it out',
        'error E_INPUTS must be integer (at /inputs/retries)',
        '  hint: pass it as --input retries=<value> (a value that parses as JSON, like 42 or true, is passed as such)',
        'inputs: 3 errors; nothing was run',
        '',
      ].join('\n'),
    );
    // --input runKey=42 parses as the number 42: the hint shows how to pass the text.
    expect(inputsErrorText(refusal({ runKey: 42 }))).toContain(
      `hint: --input parses a value as JSON when it can: pass the text as a JSON string, --input 'runKey="<value>"'`,
    );
    expect(inputsErrorText(new Error('something else'))).toBeUndefined();
  });
});
