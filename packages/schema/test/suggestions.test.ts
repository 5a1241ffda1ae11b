// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadWorkflow, validateWorkflowObject } from '../src/index.js';
import { closest } from '../src/suggest.js';

const yaml = (lines: string[]) => loadWorkflow(lines.join('\n'), { filename: 'w.yaml' });
const printed = (r: ReturnType<typeof loadWorkflow>) => r.diagnostics.map(formatDiagnostic);

describe('misspelt names', () => {
  it('suggest the field a misspelling stands for, with no follow-on errors', () => {
    const r = yaml([
      'version: 1.0.0',
      'metadata: { id: typo }',
      'steps:',
      '  - id: a',
      '    agent: "@orchestr8/echo"',
      '  - id: b',
      '    agent: "@orchestr8/echo"',
      '    dependsOn: [a]',
      '    input: { x: "${steps.a.output}", y: "${steps.a.output.q}" }',
      '  - id: c',
      '    agent: "@orchestr8/echo"',
      '    dependsOn: [a, b]',
      '    input: { x: "${steps.a.output}", y: "${steps.b.output}" }',
      '    condition: { if: "steps.b.output.ok" }',
      '  - id: d',
      '    agent: "@orchestr8/echo"',
      '    dependencies: [c]',
      '    input: { x: "${steps.a.output}" }',
    ]);
    expect(printed(r)).toEqual([
      'w.yaml:8:5 error E_SCHEMA unknown field "dependsOn" (at /steps/1/dependsOn)\n  hint: did you mean "dependencies"?',
      'w.yaml:12:5 error E_SCHEMA unknown field "dependsOn" (at /steps/2/dependsOn)\n  hint: did you mean "dependencies"?',
    ]);
  });

  it('still report the problems an unknown field cannot explain', () => {
    const r = yaml([
      'version: 1.0.0',
      'metadata: { id: typo }',
      'steps:',
      '  - id: a',
      '    agent: "@orchestr8/echo"',
      '  - id: b',
      '    agent: "@orchestr8/echo"',
      '    depends_on: [a]',
      '    input: { x: "${steps.a.output}", ghost: "${steps.zz.output}" }',
      '  - id: sibling',
      '    agent: "@orchestr8/echo"',
      '    input: { x: "${steps.a.output}" }',
    ]);
    expect(r.diagnostics.map((d) => [d.code, d.pointer, d.hint])).toEqual([
      ['E_SCHEMA', '/steps/1/depends_on', 'did you mean "dependencies"?'],
      ['E_UNKNOWN_STEP', '/steps/1/input/ghost', 'steps: a, b, sibling'],
      ['E_NOT_UPSTREAM', '/steps/2/input/x', 'add "a" to dependencies'],
    ]);
  });

  it('leave out what a misspelt forEach, onError or context would have declared', () => {
    const r = validateWorkflowObject({
      version: '1.0.0',
      metadata: { id: 'typo' },
      contxt: { variables: { region: 'eu' } },
      steps: [
        { id: 'a', agent: '@orchestr8/echo', foreach: { items: [1, 2] }, input: '${item}' },
        { id: 'b', agent: '@orchestr8/echo', onErorr: 'fallback', fallbackStepId: 'c' },
        { id: 'c', agent: '@orchestr8/echo', input: '${variables.region}' },
      ],
    });
    expect(r.diagnostics.map((d) => [d.pointer, d.hint])).toEqual([
      ['/contxt', 'did you mean "context"?'],
      ['/steps/0/foreach', 'did you mean "forEach"?'],
      ['/steps/1/onErorr', 'did you mean "onError"?'],
    ]);
  });

  it('list the allowed fields when nothing is close', () => {
    const r = validateWorkflowObject({
      version: '1.0.0',
      metadata: { id: 'x' },
      steps: [{ id: 'a', agent: '@orchestr8/echo', needs: ['b'] }],
    });
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.hint).toMatch(
      /^allowed fields: id, name, description, agent, input, dependencies/,
    );
  });

  it('suggest by edits, swapped letters and shared stems, never a mere shared word', () => {
    const fields = ['dependencies', 'description', 'onError', 'output', 'policies', 'fallbackStepId'];
    expect(closest('dependsOn', fields)).toBe('dependencies');
    expect(closest('dependecnies', fields)).toBe('dependencies');
    expect(closest('OnError', fields)).toBe('onError');
    expect(closest('policy', fields)).toBe('policies');
    expect(closest('fallback', fields)).toBe('fallbackStepId');
    expect(closest('needs', fields)).toBeUndefined();
    expect(closest('fetch-orders', ['fetch-all', 'store'])).toBeUndefined();
    expect(closest('fetch', ['fetch-users', 'fetch-orders'])).toBeUndefined();
    expect(closest('@orchestr8/eco', ['@orchestr8/echo', '@orchestr8/http'])).toBe('@orchestr8/echo');
    expect(closest('@orchestr8/zzz', ['@orchestr8/echo', '@orchestr8/http'])).toBeUndefined();
  });
});
