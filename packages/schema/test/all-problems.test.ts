import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../src/index.js';

describe('reporting every problem at once', () => {
  it('still checks references when the only schema problems are unknown fields', () => {
    const text = [
      'version: "1.0.0"',
      'metadata: { id: many, name: many }',
      'steps:',
      '  - id: a',
      '    agent: "@orchestr8/echo"',
      '    input: { x: "${steps.zz.output.v}" }',
      '  - id: b',
      '    agent: "@orchestr8/echo"',
      '    dependencies: [a, a2]',
      '    extra: 1',
      '',
    ].join('\n');
    const r = loadWorkflow(text, { filename: 'many.yaml' });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => [d.code, d.pointer, d.line])).toEqual(
      expect.arrayContaining([
        ['E_SCHEMA', '/steps/1/extra', 10],
        ['E_UNKNOWN_STEP', '/steps/0/input/x', 6],
        ['E_UNKNOWN_STEP', '/steps/1/dependencies/1', 9],
      ]),
    );
  });

  it('reports only the schema problems when the document shape itself is wrong', () => {
    const r = loadWorkflow('version: "1.0.0"\nmetadata: { id: x, name: x }\nsteps: 3\n');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E_SCHEMA']);
  });
});
