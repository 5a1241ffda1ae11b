// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
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

  it('says how to keep a value text when YAML read it as a number or a boolean', () => {
    const r = loadWorkflow(
      'version: 1\nmetadata: { id: x, name: yes }\nsteps: [{ id: a, agent: "@orchestr8/echo" }]\n',
    );
    const at = (pointer: string) => r.diagnostics.find((d) => d.pointer === pointer);
    expect(at('/version')).toMatchObject({
      message: 'must be string',
      hint: 'quote it to give the text: "1"',
    });
    // YAML 1.2 reads `yes` as text: only real numbers and booleans get the hint.
    expect(at('/metadata/name')).toBeUndefined();
    const flag = loadWorkflow(
      'version: "1.0.0"\nmetadata: { id: x, name: true }\nsteps: [{ id: a, agent: "@orchestr8/echo" }]\n',
    );
    expect(flag.diagnostics.find((d) => d.pointer === '/metadata/name')).toMatchObject({
      hint: 'quote it to give the text: "true"',
    });
    // A value of the wrong shape is not told to be quoted.
    const shape = loadWorkflow(
      'version: "1.0.0"\nmetadata: { id: x, name: [a] }\nsteps: [{ id: a, agent: "@orchestr8/echo" }]\n',
    );
    expect(shape.diagnostics.find((d) => d.pointer === '/metadata/name')?.hint).toBeUndefined();
  });

  it('reports only the schema problems when the document shape itself is wrong', () => {
    const r = loadWorkflow('version: "1.0.0"\nmetadata: { id: x, name: x }\nsteps: 3\n');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E_SCHEMA']);
  });

  it('checks the well-formed rest of a document whose values are malformed, in one pass sorted by position', () => {
    const text = [
      'version: "1.0.0"',
      'metadata: { id: many }',
      'steps:',
      '  - id: a',
      '    agent: "@orchestr8/echo"',
      '    policies: { timeout: soon }',
      '    input: { x: "${steps.zz.output.v}" }',
      '  - id: b',
      '    agent: 42',
      '    dependencies: [a, c]',
      '  - id: c',
      '    agent: "@orchestr8/echo"',
      '    dependencies: [b, nope]',
      '',
    ].join('\n');
    const r = loadWorkflow(text, { filename: 'many.yaml' });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => [d.code, d.pointer, d.line, d.column, d.message])).toEqual([
      [
        'E_SCHEMA',
        '/steps/0/policies/timeout',
        6,
        26,
        'must be a duration greater than zero like "500ms", "30s", "5m", "1h" or "3d", or a number of milliseconds',
      ],
      ['E_UNKNOWN_STEP', '/steps/0/input/x', 7, 17, 'step "a" reads steps.zz, which does not exist'],
      ['E_SCHEMA', '/steps/1/agent', 9, 12, 'must be string or object'],
      ['E_CYCLE', '/steps/1/dependencies/1', 10, 23, 'dependency cycle: b -> c -> b'],
      [
        'E_UNKNOWN_STEP',
        '/steps/2/dependencies/1',
        13,
        23,
        'step "c" depends on "nope", which does not exist',
      ],
    ]);
  });

  it('leaves out what follows from a malformed value: a wait whose timeout is malformed has one', () => {
    const text = [
      'version: "1.0.0"',
      'metadata: { id: w }',
      'steps:',
      '  - id: a',
      '    wait: { event: { name: go }, timeout: forever, onTimeout: fail }',
      '  - id: b',
      '    agent: "@orchestr8/echo"',
      '    forEach: { items: 3 }',
      '    input: "${item}"',
      '  - id: c',
      '    agent: "@orchestr8/echo"',
      '    input: "${steps.zz.output}"',
      '',
    ].join('\n');
    const r = loadWorkflow(text);
    // Not "onTimeout needs a timeout", nor ${item} outside a forEach; the unknown step is real.
    expect(r.diagnostics.map((d) => [d.code, d.pointer, d.line, d.column, d.message])).toEqual([
      [
        'E_SCHEMA',
        '/steps/0/wait/timeout',
        5,
        43,
        'must be a duration greater than zero like "500ms", "30s", "5m", "1h" or "3d", or a number of milliseconds',
      ],
      ['E_SCHEMA', '/steps/1/forEach/items', 8, 23, 'must be string or array'],
      ['E_UNKNOWN_STEP', '/steps/2/input', 12, 12, 'step "c" reads steps.zz, which does not exist'],
    ]);
  });

  it('reports only the schema problems when a step id is malformed', () => {
    const text = [
      'version: "1.0.0"',
      'metadata: { id: x }',
      'steps:',
      '  - id: "a b"',
      '    agent: "@orchestr8/echo"',
      '  - id: c',
      '    agent: "@orchestr8/echo"',
      '    dependencies: [zz]',
      '',
    ].join('\n');
    expect(loadWorkflow(text).diagnostics.map((d) => [d.code, d.pointer, d.line, d.column])).toEqual([
      ['E_SCHEMA', '/steps/0/id', 4, 9],
    ]);
  });
});
