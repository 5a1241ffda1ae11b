// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { describe, expect, it } from 'vitest';
import { validateAndDefaultInputs, validateInputs, validateWorkflowObject } from '../src/index.js';

const workflow = validateWorkflowObject({
  version: '1.0.0',
  metadata: { id: 'inputs' },
  inputs: {
    type: 'object',
    properties: {
      name: { type: 'string', default: 'world' },
      count: { type: 'integer', minimum: 1 },
      email: { type: 'string', format: 'email' },
      mode: { enum: ['quick', 'deep'] },
    },
    required: ['count'],
    additionalProperties: false,
  },
  steps: [{ id: 'a', agent: '@orchestr8/echo', input: '${inputs.name}' }],
}).workflow!;

describe('execution inputs', () => {
  it('apply schema defaults on a copy', () => {
    const given = { count: 2 };
    const r = validateAndDefaultInputs(workflow, given);
    expect(r).toEqual({ diagnostics: [], value: { count: 2, name: 'world' } });
    expect(given).toEqual({ count: 2 });
  });

  it('report every problem with a pointer under /inputs', () => {
    const d = validateInputs(workflow, { count: 0, email: 'nope', mode: 'slow', extra: true });
    expect(d.map((x) => [x.code, x.pointer, x.message])).toEqual([
      ['E_INPUTS', '/inputs/extra', 'unknown input "extra"'],
      ['E_INPUTS', '/inputs/count', 'must be >= 1'],
      ['E_INPUTS', '/inputs/email', 'must match format "email"'],
      ['E_INPUTS', '/inputs/mode', 'must be one of "quick", "deep"'],
    ]);
    expect(validateInputs(workflow, {})).toMatchObject([
      { pointer: '/inputs', message: 'missing required input "count"' },
    ]);
    expect(validateInputs(workflow, { count: 1, 'a/b~c': 1 })).toMatchObject([
      { pointer: '/inputs/a~1b~0c', message: 'unknown input "a/b~c"' },
    ]);
    // A misspelt input is named with the one meant; one like no declared input gets no guess.
    expect(validateInputs(workflow, { count: 1, nmae: 'x' })).toEqual([
      {
        code: 'E_INPUTS',
        severity: 'error',
        pointer: '/inputs/nmae',
        message: 'unknown input "nmae"',
        hint: 'did you mean "name"?',
      },
    ]);
    expect(validateInputs(workflow, { count: 1, extra: true })[0]?.hint).toBeUndefined();
  });

  it('accept anything when the workflow declares no inputs schema', () => {
    const open = validateWorkflowObject({
      version: '1.0.0',
      metadata: { id: 'open' },
      steps: [{ id: 'a', agent: '@x/y' }],
    }).workflow!;
    expect(validateAndDefaultInputs(open, { any: 1 })).toEqual({ diagnostics: [], value: { any: 1 } });
  });
});
