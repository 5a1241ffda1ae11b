import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import jsyaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { stringify as yamlStringify } from 'yaml';
import { generateBenchDocument } from '../bench/load.bench.js';
import { loadWorkflow } from '../src/index.js';
import { parseYamlText, parseYamlWithPositions } from '../src/parse.js';
import { DECLINED, parseYamlFast } from '../src/yaml-fast.js';

const root = join(import.meta.dirname, '../../..');

/** Every YAML document in the repository's fixtures, examples, docs snippets and workflows. */
function yamlFiles(): string[] {
  const dirs = [
    'workflows',
    'packages/schema/test/fixtures/invalid',
    'docs-site/snippets',
    'examples/hello-world/workflows',
    'examples/data-pipeline/workflows',
    'examples/multi-agent-research/workflows',
    'packages/cli/test/fixtures/streams',
  ];
  const files: string[] = [];
  for (const d of dirs) {
    for (const f of readdirSync(join(root, d))) {
      if (/\.ya?ml(\.txt)?$/.test(f)) files.push(join(d, f));
    }
  }
  return files;
}

/** What the position-keeping parse makes of a text: its value, or that it refuses it. */
function slowValue(text: string): { value?: unknown; refused?: true } {
  const parsed = parseYamlWithPositions(text);
  return parsed.fatal ? { refused: true } : { value: parsed.value };
}

/** The fast parse agrees: it declines, or gives the same value (same keys in the same order). */
function expectAgreement(text: string): 'fast' | 'declined' {
  const fast = parseYamlFast(text);
  if (fast === DECLINED) return 'declined';
  const slow = slowValue(text);
  expect(slow.refused, `the yaml parse refuses what the fast parse took:\n${text}`).toBeUndefined();
  expect(fast).toStrictEqual(slow.value);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.value));
  return 'fast';
}

/** Every JSON pointer of a value, for locating all its nodes. */
function pointers(value: unknown, at = '', out = new Set<string>()): Set<string> {
  out.add(at);
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value))
      pointers(v, `${at}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, out);
  }
  return out;
}

describe('the fast YAML parse', () => {
  const files = yamlFiles();

  it('finds the repository documents to compare', () => {
    expect(files.length).toBeGreaterThan(30);
    expect(files).toContain('workflows/hello-world.yaml');
  });

  it.each(files)('gives the same value as the yaml parse for %s, or declines it', (file) => {
    expectAgreement(readFileSync(join(root, file), 'utf8'));
  });

  it('takes the reference workflows and the bench document (the fast path is really used)', () => {
    for (const f of files.filter((f) => f.startsWith('workflows/'))) {
      expect(expectAgreement(readFileSync(join(root, f), 'utf8')), f).toBe('fast');
    }
    expect(expectAgreement(yamlStringify(generateBenchDocument(5)))).toBe('fast');
  });

  it.each(files)('locates every node of %s where the yaml parse does', (file) => {
    const text = readFileSync(join(root, file), 'utf8');
    const slow = parseYamlWithPositions(text);
    const fast = parseYamlText(text);
    if (slow.fatal) return expect(fast.fatal).toBe(true);
    const wanted = pointers(slow.value);
    expect(fast.locate(wanted)).toEqual(slow.locate(wanted));
    for (const offset of [0, Math.floor(text.length / 2), text.length - 1])
      expect(fast.position(offset)).toEqual(slow.position(offset));
  });

  it('resolves plain scalars by the YAML 1.2 core schema, as the yaml parse does', () => {
    const text = [
      'yes: yes',
      'on: on',
      'no: n',
      'off: off',
      'y: Y',
      'true1: True',
      'true2: TRUE',
      'notBool: tRUE',
      'oct12: 012',
      'octal: 0o17',
      'notOctal: 0o8',
      'hex: 0x1F',
      'binary: 0b101',
      'underscores: 1_000',
      'plus: +12',
      'minusZero: -0',
      'exp: 1.5e+3',
      'dot: .5',
      'trailingDot: 1.',
      'inf: -.Inf',
      'nan: .NaN',
      'big: 12345678901234567890',
      'date: 2001-12-14',
      'tilde: ~',
      'empty:',
      'nullWord: Null',
      'nUll: nULL',
      '1: numeric key',
      '2.5: float key',
      'true: bool key',
    ].join('\n');
    expect(expectAgreement(text)).toBe('fast');
    expect(parseYamlFast(text)).toMatchObject({
      yes: 'yes',
      on: 'on',
      off: 'off',
      oct12: 12,
      octal: 15,
      notOctal: '0o8',
      binary: '0b101',
      underscores: '1_000',
      date: '2001-12-14',
      tilde: null,
      empty: null,
      nUll: 'nULL',
      true: 'bool key',
    });
  });

  it.each([
    ['a null key', '~: x\nnull: y\n'],
    ['an explicit key', '? a\n: b\n'],
    ['a flow sequence as a key', '[a, b]: c\n'],
    ['a flow mapping as a key', '{a: 1}: c\n'],
    ['an anchor and alias', 'a: &x {k: 1}\nb: *x\n'],
    ['a merge key', 'base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n'],
    ['a standard tag', 'a: !!str 12\nb: !!int "12"\n'],
    ['a local tag', 'a: !thing x\n'],
    ['the non-specific tag', 'a: ! 12\n'],
    ['a %YAML 1.1 directive (yes is true there)', '%YAML 1.1\n---\na: yes\n'],
    ['several documents', 'a: 1\n---\nb: 2\n'],
    ['a duplicate key', 'a: 1\nb: 2\na: 3\n'],
    ['a key of more than 1024 characters', `${'k'.repeat(1100)}: 1\n`],
    ['a quoted scalar over two lines', 'a:\n  b: "one\ntwo"\n'],
    ['a flow collection over two lines', 'a: [1,\n  2]\n'],
    ['a comment right after a quoted scalar', 'a: "x"#c\n'],
    ['a comment right after a flow collection', 'a: {b: 1}#c\n'],
    ['a control character', 'a: "\u0001"\n'],
    ['an empty document', ''],
    ['nesting deeper than 64 levels', `a: ${'['.repeat(65)}1${']'.repeat(65)}\n`],
    ['an empty key in a flow mapping', 'a: {: b}\n'],
    ['an empty key in a flow sequence', 'a: [: b]\n'],
    ['an empty key after others', 'a: {b: 1, : 2}\n'],
    ['a lone carriage return as a line break', 'a: 1\rb: 2\n'],
    ['a line that is only a tab', 'a:\n\t\n'],
    ['a document starting with a tab', '\ton\n'],
  ])('declines %s: the yaml parse decides', (_what, text) => {
    expect(parseYamlFast(text)).toBe(DECLINED);
  });

  /** Documents whose deepest collection is at `depth` (the root at 1), in each style of nesting. */
  const nested: [string, (depth: number) => string][] = [
    ['flow sequences', (d) => `a: ${'['.repeat(d - 1)}1${']'.repeat(d - 1)}\n`],
    ['flow mappings', (d) => `a: ${'{b: '.repeat(d - 1)}1${'}'.repeat(d - 1)}\n`],
    ['an empty flow sequence innermost', (d) => `a: ${'['.repeat(d - 1)}${']'.repeat(d - 1)}\n`],
    ['an empty flow mapping innermost', (d) => `a: ${'['.repeat(d - 2)}{}${']'.repeat(d - 2)}\n`],
    [
      'block mappings',
      (d) => `${Array.from({ length: d }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} 1\n`,
    ],
    ['compact block sequences', (d) => `${'- '.repeat(d)}1\n`],
    [
      // js-yaml opens no node of its own for the one-pair mapping `[k: v]`.
      'one-pair mappings in flow sequences',
      (d) => {
        const n = Math.floor((d - 1) / 2);
        return `a: ${'[k: '.repeat(n)}${d % 2 === 0 ? '[1]' : '1'}${']'.repeat(n)}\n`;
      },
    ],
    [
      "sequences at their key's indentation",
      (d) =>
        `${Array.from({ length: d }, (_, i) => (i % 2 === 0 ? `${' '.repeat(i)}k${i}:` : `${' '.repeat(i - 1)}- `)).join('\n')} 1\n`,
    ],
    [
      'block mappings with a null beside',
      (d) => `n:\n${Array.from({ length: d }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} ~\n`,
    ],
  ];

  it.each(nested)('takes %s 64 levels deep as the yaml parse reads them, and declines 65', (_style, make) => {
    const atLimit = make(64);
    expect(slowValue(atLimit).refused, atLimit).toBeUndefined();
    expect(expectAgreement(atLimit)).toBe('fast');
    expect(parseYamlFast(make(65))).toBe(DECLINED);
    expect(slowValue(make(65)).refused).toBe(true);
  });

  it('reads anchors and aliases, and `<<` as an ordinary key (YAML 1.2 has no merge)', () => {
    const parsed = parseYamlText('base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n');
    expect(parsed.fatal).toBe(false);
    expect(parsed.value).toEqual({ base: { x: 1 }, c: { '<<': { x: 1 }, y: 2 } });
  });

  it('does not decline on `!=` in a condition or `${...}:` in a string', () => {
    expect(expectAgreement('if: inputs.mode != "skip"\nlabel: "${inputs.name}: done"\n')).toBe('fast');
  });

  it('keeps duplicate keys an error with their position', () => {
    const r = loadWorkflow(
      [
        'version: 1.0.0',
        'metadata: { id: dup }',
        'steps:',
        '  - id: a',
        '    agent: "@orchestr8/echo"',
        '    id: b',
      ].join('\n'),
      { filename: 'w.yaml' },
    );
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toMatchObject([
      { code: 'E_DUPLICATE_KEY', line: 6, column: 5, pointer: '/steps/0/id' },
    ]);
  });

  it('reports a schema problem of a document it took at the same line:column as the yaml parse', () => {
    const text = ['version: 1.0.0', 'metadata: { id: pos }', 'steps:', '  - id: a', '    agent: 42'].join(
      '\n',
    );
    expect(parseYamlFast(text)).not.toBe(DECLINED);
    const r = loadWorkflow(text, { filename: 'w.yaml' });
    expect(r.diagnostics).toMatchObject([{ pointer: '/steps/0/agent', line: 5, column: 12 }]);
  });

  it('never takes a document the yaml parse refuses, nor reads one differently: random edits of the fixtures', () => {
    const texts = files.map((f) => readFileSync(join(root, f), 'utf8'));
    const inserted = [
      '\n',
      '\n  ',
      '\n- ',
      ' ',
      ':',
      '-',
      '#',
      '"',
      "'",
      '[',
      ']',
      '{',
      '}',
      ',',
      '|',
      '>',
      '\t',
      '?',
      '*',
      '&',
      '!',
      '%',
      '\\',
    ];
    const edit = fc.record({
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      remove: fc.integer({ min: 0, max: 3 }),
      insert: fc.constantFrom(...inserted),
    });
    fc.assert(
      fc.property(fc.nat(texts.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 }), (i, edits) => {
        let text = texts[i]!;
        for (const e of edits) {
          const p = Math.floor(e.at * text.length);
          text = text.slice(0, p) + e.insert + text.slice(p + e.remove);
        }
        expectAgreement(text);
      }),
      { numRuns: 1500 },
    );
  });

  it('agrees on random documents of unquoted scalars, and on values written by yaml and by js-yaml', () => {
    const token = fc.oneof(
      fc.constantFrom(
        'yes',
        'No',
        'on',
        'OFF',
        'true',
        'False',
        'TRUE',
        'null',
        'Null',
        '~',
        '',
        '0',
        '-0',
        '012',
        '0o17',
        '0x1f',
        '0b11',
        '1_0',
        '.5',
        '1.',
        '1e3',
        '-1.5E-3',
        '.inf',
        '-.INF',
        '.nan',
        '2001-12-14',
        '+1',
        '1:2',
        'a b',
        '"q"',
        "'s'",
        '"a\\tb"',
        'x #c',
        '[1, a]',
        '{k: v}',
        '- 1',
        '!= 2',
        '${x}',
        '|',
        '>',
        'a: b',
        '@x',
        '`y`',
      ),
      fc.stringMatching(/^[a-z0-9.+\-_~:# ]{0,8}$/),
    );
    const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(key, token), { selector: (t) => t[0], maxLength: 8 }), (pairs) => {
        const text = pairs.map(([k, v]) => `${k}: ${v}`).join('\n');
        // What neither parse takes is the yaml parse's to report; only an accepted value must agree.
        if (slowValue(text).refused && parseYamlFast(text) !== DECLINED)
          throw new Error(`the fast parse took what the yaml parse refuses:\n${text}`);
        if (!slowValue(text).refused) expectAgreement(text);
      }),
      { numRuns: 300 },
    );
    const value = fc.jsonValue({ maxDepth: 4 });
    fc.assert(
      fc.property(value, (v) => {
        for (const text of [
          yamlStringify(v),
          jsyaml.dump(v),
          yamlStringify(v, { defaultStringType: 'PLAIN' }),
        ]) {
          if (!slowValue(text).refused) expectAgreement(text);
        }
      }),
      { numRuns: 200 },
    );
  });
});
