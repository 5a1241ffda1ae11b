import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadWorkflow } from '../src/index.js';

const load = (lines: string[]) => loadWorkflow(lines.join('\n'), { filename: 'w.yaml' });
const printed = (lines: string[]) => load(lines).diagnostics.map(formatDiagnostic);

describe('YAML syntax errors', () => {
  it('report a tab once, at the tab, under the field it was meant for', () => {
    // The yaml package gives three errors for this line.
    expect(
      printed([
        'version: 1.0.0',
        'metadata: { id: tab }',
        'steps:',
        '  - id: a',
        '    agent: "@orchestr8/echo"',
        '    input:',
        '\ttext: hi',
        '    dependencies: []',
      ]),
    ).toEqual([
      'w.yaml:7:1 error E_PARSE tabs are not allowed as indentation (at /steps/0/input)\n  hint: indent with spaces',
    ]);
    // After spaces, and on two lines: each tab is its own mistake.
    expect(
      load(['version: 1.0.0', 'metadata:', '\tid: x', 'steps:', '  - id: a', '  \tagent: "@x/y"'])
        .diagnostics,
    ).toMatchObject([
      { code: 'E_PARSE', line: 3, column: 1, pointer: '/metadata' },
      { code: 'E_PARSE', line: 6, column: 3, pointer: '/steps/0' },
    ]);
  });

  it('point an unclosed bracket at itself, not at the line after it', () => {
    expect(
      printed([
        'version: 1.0.0',
        'metadata: { id: unclosed',
        'steps:',
        '  - id: a',
        '    agent: "@orchestr8/echo"',
        '    dependencies: [x, y',
        '  - id: b',
        '    agent: "@orchestr8/echo"',
      ]),
    ).toEqual([
      'w.yaml:2:11 error E_PARSE "{" is not closed (at /metadata)\n  hint: end the flow mapping with "}", or indent the lines that continue it',
      'w.yaml:6:19 error E_PARSE "[" is not closed (at /steps/0/dependencies)\n  hint: end the flow sequence with "]", or indent the lines that continue it',
    ]);
  });

  it('point an unclosed quote at where the string starts, not at the end of the document', () => {
    expect(
      load([
        'version: 1.0.0',
        'metadata: { id: quote }',
        'steps:',
        '  - id: a',
        "    agent: '@orchestr8/echo",
        '  - id: b',
        '    agent: "@orchestr8/echo"',
        '',
      ]).diagnostics,
    ).toMatchObject([
      {
        code: 'E_PARSE',
        line: 5,
        column: 12,
        pointer: '/steps/0/agent',
        message: "string is not closed (missing closing ')",
      },
    ]);
  });

  it('point a misindented line at its first character, with a hint for common mistakes', () => {
    expect(
      load([
        'version: 1.0.0',
        'metadata: { id: m }',
        'steps:',
        '  - id: a',
        '    agent: "@x/y"',
        '   name: x',
      ]).diagnostics,
    ).toMatchObject([{ code: 'E_PARSE', line: 6, column: 4, message: 'sequence item without - indicator' }]);
    expect(
      load(['version: 1.0.0', 'metadata: { id: m }', 'steps:', '  - id: a', '    agent: @orchestr8/echo'])
        .diagnostics,
    ).toMatchObject([
      {
        code: 'E_PARSE',
        line: 5,
        column: 12,
        pointer: '/steps/0/agent',
        hint: 'quote the value, e.g. agent: "@orchestr8/echo"',
      },
    ]);
  });
});
