import { describe, expect, it } from 'vitest';
import { formFields, initialValue, readForm } from '../app/lib/schema-form.js';

const schema = {
  type: 'object',
  required: ['name', 'count'],
  properties: {
    name: { type: 'string', minLength: 2, pattern: '^[a-z]+$', description: 'who' },
    count: { type: 'integer', minimum: 1, maximum: 10, default: 3 },
    ratio: { type: 'number', exclusiveMaximum: 1 },
    mode: { type: 'string', enum: ['fast', 'deep'] },
    dryRun: { type: 'boolean', default: true },
    tags: { type: 'array', items: { type: 'string' } },
    meta: { type: 'object', title: 'Metadata' },
  },
};

describe('the run form generated from the inputs JSON Schema', () => {
  it('makes a field of the right kind for each property', () => {
    const fields = formFields(schema);
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ['name', 'text', true],
      ['count', 'integer', true],
      ['ratio', 'number', false],
      ['mode', 'select', false],
      ['dryRun', 'boolean', false],
      ['tags', 'json', false],
      ['meta', 'json', false],
    ]);
    expect(fields.find((f) => f.name === 'meta')?.label).toBe('Metadata');
    expect(fields.find((f) => f.name === 'mode')?.options).toEqual(['fast', 'deep']);
    expect(initialValue(fields.find((f) => f.name === 'count')!)).toBe('3');
    expect(initialValue(fields.find((f) => f.name === 'dryRun')!)).toBe('true');
    expect(formFields(undefined)).toEqual([]);
  });

  it('turns valid text into typed inputs, leaving empty optional fields out', () => {
    const r = readForm(formFields(schema), {
      name: 'ada',
      count: '4',
      ratio: '0.5',
      mode: 'deep',
      dryRun: 'false',
      tags: '["a","b"]',
      meta: '',
    });
    expect(r).toEqual({
      ok: true,
      inputs: { name: 'ada', count: 4, ratio: 0.5, mode: 'deep', dryRun: false, tags: ['a', 'b'] },
    });
  });

  it('refuses invalid input, naming each field and the rule it breaks', () => {
    const r = readForm(formFields(schema), {
      name: 'A',
      count: '2.5',
      ratio: '1',
      mode: 'slow',
      tags: '{"a":1}',
      meta: '{oops',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual({
      name: 'must be at least 2 characters',
      count: 'must be a whole number',
      ratio: 'must be less than 1',
      mode: 'must be one of fast, deep',
      tags: 'must be a JSON array',
      meta: expect.stringMatching(/^is not valid JSON/),
    });
    expect(readForm(formFields(schema), { name: '', count: '11' })).toEqual({
      ok: false,
      errors: { name: 'is required', count: 'must be at most 10' },
    });
    expect(readForm(formFields(schema), { name: 'ab1', count: 'x' })).toEqual({
      ok: false,
      errors: { name: 'must match the pattern ^[a-z]+$', count: 'must be a number' },
    });
  });
});
