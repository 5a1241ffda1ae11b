import { describe, expect, it } from 'vitest';
import { LIMITS, loadWorkflow, validateWorkflowObject } from '../src/index.js';

const steps = '[{"id":"a","agent":"@orchestr8/echo"}]';

describe('limits on untrusted documents', () => {
  it('refuses documents over 10 MB with E_TOO_LARGE before parsing them', () => {
    const padding = ' '.repeat(LIMITS.maxBytes);
    const r = loadWorkflow(`{"version":"1.0.0","metadata":{"id":"big"},"steps":${steps}}${padding}`, {
      format: 'json',
    });
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toMatchObject([{ code: 'E_TOO_LARGE', pointer: '' }]);
  });

  it('accepts nesting up to 64 levels and refuses deeper with E_TOO_DEEP', () => {
    const nest = (levels: number) => {
      let v = '1';
      for (let i = 0; i < levels; i++) v = `[${v}]`;
      return v;
    };
    // The document object, the steps array and the step object take 3 levels.
    const doc = (levels: number) =>
      `{"version":"1.0.0","metadata":{"id":"d"},"steps":[{"id":"a","agent":"@orchestr8/echo","input":${nest(levels)}}]}`;
    expect(loadWorkflow(doc(61), { format: 'json' }).ok).toBe(true);
    expect(loadWorkflow(doc(61), { format: 'yaml' }).ok).toBe(true);
    expect(validateWorkflowObject(JSON.parse(doc(61))).ok).toBe(true);
    const deep = loadWorkflow(doc(62), { format: 'json' });
    expect(deep.diagnostics).toMatchObject([{ code: 'E_TOO_DEEP', line: 1 }]);
    const yaml = loadWorkflow(doc(62), { format: 'yaml' });
    expect(yaml.diagnostics[0]?.code).toBe('E_TOO_DEEP');
    const object = JSON.parse(doc(62));
    expect(validateWorkflowObject(object).diagnostics).toMatchObject([{ code: 'E_TOO_DEEP' }]);
  });

  it('refuses pathological YAML nesting before the parser recurses into it', () => {
    for (const text of [
      `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      `a: ${'{a: '.repeat(5_000)}1${'}'.repeat(5_000)}`,
      `a:\n${Array.from({ length: 1_000 }, (_, i) => `${' '.repeat(i + 1)}- `).join('\n')}x`,
      `${'- '.repeat(2_000)}x`,
    ]) {
      const r = loadWorkflow(text, { format: 'yaml' });
      expect(r.diagnostics[0]?.code).toBe('E_TOO_DEEP');
    }
    // Where: 1-based, on the line the nesting crosses the limit (here after five lines).
    const late = loadWorkflow(
      `version: "1.0.0"\nmetadata:\n  id: deep\nsteps:\n  - id: a\n    input: ${'['.repeat(5_000)}`,
      {
        format: 'yaml',
      },
    );
    expect(late.diagnostics[0]).toMatchObject({ code: 'E_TOO_DEEP', line: 6 });
    expect(late.diagnostics[0]!.column).toBeGreaterThan(11);
  });

  it('refuses a cyclic object given to validateWorkflowObject', () => {
    const input: Record<string, unknown> = {};
    input.self = input;
    const r = validateWorkflowObject({
      version: '1.0.0',
      metadata: { id: 'c' },
      steps: [{ id: 'a', agent: '@orchestr8/echo', input }],
    });
    expect(r.diagnostics[0]?.code).toBe('E_TOO_DEEP');
  });

  it('refuses a YAML alias bomb with E_ALIAS_LIMIT', () => {
    const lines = ['version: "1.0.0"', 'metadata: { id: bomb }', 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= 8; i++)
      lines.push(
        `l${i}: &l${i} [${Array(10)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      );
    lines.push('steps: [{ id: a, agent: "@orchestr8/echo", input: *l8 }]');
    // Expanded, this would be 10^9 nodes: refused before expansion (the test timeout guards).
    const r = loadWorkflow(lines.join('\n'), { format: 'yaml' });
    expect(r.diagnostics).toMatchObject([{ code: 'E_ALIAS_LIMIT' }]);
  });

  it('still accepts a few ordinary YAML aliases', () => {
    const r = loadWorkflow(
      [
        'version: "1.0.0"',
        'metadata: { id: aliases }',
        'steps:',
        '  - { id: a, agent: "@orchestr8/echo", input: &shared { n: 1 } }',
        '  - { id: b, agent: "@orchestr8/echo", input: *shared }',
      ].join('\n'),
      { format: 'yaml' },
    );
    expect(r.diagnostics).toEqual([]);
  });

  it('reports every duplicate key, in JSON and in YAML, with its position', () => {
    const json = loadWorkflow(
      '{"version":"1.0.0","version":"1.0.0","metadata":{"id":"x","id":"y"},"steps":[{"id":"a","agent":"@orchestr8/echo"}]}',
      { format: 'json' },
    );
    expect(json.diagnostics.map((d) => [d.code, d.pointer, d.line, d.column])).toEqual([
      ['E_DUPLICATE_KEY', '/version', 1, 20],
      ['E_DUPLICATE_KEY', '/metadata/id', 1, 59],
    ]);
    const yaml = loadWorkflow('version: "1.0.0"\nmetadata:\n  id: x\n  id: y\nsteps: []\nsteps: []\n', {
      format: 'yaml',
    });
    expect(
      yaml.diagnostics.filter((d) => d.code === 'E_DUPLICATE_KEY').map((d) => [d.pointer, d.line, d.column]),
    ).toEqual([
      ['/metadata/id', 4, 3],
      ['/steps', 6, 1],
    ]);
  });

  it('finds duplicate keys written with escapes and in large objects', () => {
    const wrap = (input: string) =>
      `{"version":"1.0.0","metadata":{"id":"d"},"steps":[{"id":"a","agent":"@orchestr8/echo","input":${input}}]}`;
    const escaped = loadWorkflow(wrap('{"a": 1, "\\u0061": 2, "b\\n": 3, "b\\u000a": 4}'), {
      format: 'json',
    });
    expect(escaped.diagnostics.map((d) => [d.code, d.pointer])).toEqual([
      ['E_DUPLICATE_KEY', '/steps/0/input/a'],
      ['E_DUPLICATE_KEY', '/steps/0/input/b\n'],
    ]);
    const keys = Array.from({ length: 100 }, (_, i) => `"k${i}": ${i}`);
    const large = loadWorkflow(wrap(`{${keys.join(',')}, "k42": 0}`), { format: 'json' });
    expect(large.diagnostics.map((d) => [d.code, d.pointer])).toEqual([
      ['E_DUPLICATE_KEY', '/steps/0/input/k42'],
    ]);
    expect(loadWorkflow(wrap(`{${keys.join(',')}}`), { format: 'json' }).ok).toBe(true);
    expect(loadWorkflow(wrap('{"x": "bad \\q escape"}'), { format: 'json' }).diagnostics).toMatchObject([
      { code: 'E_PARSE', message: 'invalid escape "\\q"' },
    ]);
  });

  it('gives malformed JSON and YAML an E_PARSE with line and column', () => {
    expect(
      loadWorkflow('{\n  "version": "1.0.0",\n  "metadata": {\n}', { format: 'json' }).diagnostics,
    ).toMatchObject([
      { code: 'E_PARSE', line: 4, column: 2, message: expect.stringContaining('unexpected end') },
    ]);
    expect(loadWorkflow('{"a": tru}', { format: 'json' }).diagnostics).toMatchObject([
      { code: 'E_PARSE', line: 1, column: 7 },
    ]);
    expect(loadWorkflow('{"a": "x\ny"}', { format: 'json' }).diagnostics).toMatchObject([
      { code: 'E_PARSE', line: 1, column: 9 },
    ]);
    expect(loadWorkflow('a: [1, 2\nb: 3\n', { format: 'yaml' }).diagnostics).toMatchObject([
      { code: 'E_PARSE', pointer: '/a', line: 1, column: 4, message: '"[" is not closed' },
    ]);
    expect(loadWorkflow('', { format: 'json' }).diagnostics).toMatchObject([
      { code: 'E_PARSE', message: 'empty document' },
    ]);
  });

  it('picks the format by file name, then by content', () => {
    const json = `{"version":"1.0.0","metadata":{"id":"f"},"steps":${steps}}`;
    expect(loadWorkflow(json).ok).toBe(true);
    expect(loadWorkflow(json, { filename: 'x.yaml' }).ok).toBe(true); // JSON is YAML
    expect(
      loadWorkflow('version: "1.0.0"\nmetadata: {id: f}\nsteps: [{id: a, agent: "@orchestr8/echo"}]').ok,
    ).toBe(true);
    expect(
      loadWorkflow('{version: "1.0.0", metadata: {id: f}, steps: [{id: a, agent: "@orchestr8/echo"}]}').ok,
    ).toBe(true);
    expect(loadWorkflow('version: "1.0.0"', { filename: 'x.json' }).diagnostics[0]?.code).toBe('E_PARSE');
    expect(loadWorkflow(`\uFEFF${json}`, { filename: 'bom.json' }).ok).toBe(true);
  });
});
