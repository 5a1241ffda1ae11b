// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { hasCode } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import {
  type CompiledValue,
  compileValue,
  lookupPath,
  renderValue,
  type TemplateScope,
} from '../src/index.js';

const scope: TemplateScope = {
  steps: {
    a: {
      output: { n: 3, list: [{ name: 'x' }, { name: 'y' }], obj: { k: 'v' }, nothing: null },
      status: 'succeeded',
    },
    failed: { status: 'failed', error: { code: 'TIMEOUT', message: 'slow' } },
  },
  inputs: { name: 'Ada', tags: ['t1', 't2'] },
  variables: { region: 'eu', nested: { deep: [10, 20] } },
  env: { LOG_LEVEL: 'debug' },
  secrets: { apiKey: 's3cr3t' },
  item: { name: 'item-name' },
  index: 4,
};

const render = (value: unknown, s: TemplateScope = scope) => renderValue(compileValue(value), s);

function thrown(fn: () => unknown): Error & { code?: string; details?: any } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('template parsing', () => {
  it('compiles a string that is exactly one template to a typed ref', () => {
    expect(compileValue('${steps.a.output.list[1].name}')).toEqual({
      kind: 'ref',
      ref: {
        root: 'steps',
        stepId: 'a',
        path: ['output', 'list', 1, 'name'],
        hasDefault: false,
        defaultValue: undefined,
        source: 'steps.a.output.list[1].name',
      },
    });
  });

  it('compiles text around templates to a concatenation', () => {
    const c = compileValue('Hi ${inputs.name}, you are #${index}') as Extract<
      CompiledValue,
      { kind: 'concat' }
    >;
    expect(c.kind).toBe('concat');
    expect(c.parts.map((p) => (typeof p === 'string' ? p : p.source))).toEqual([
      'Hi ',
      'inputs.name',
      ', you are #',
      'index',
    ]);
  });

  it('leaves values without templates static, as the same object', () => {
    const value = { a: [1, 2, { b: 'text $ not a template' }], c: null };
    const c = compileValue(value);
    expect(c.kind).toBe('static');
    expect(renderValue(c, scope)).toBe(value);
  });

  it('reads both array index forms', () => {
    expect(render('${steps.a.output.list[0].name}')).toBe('x');
    expect(render('${steps.a.output.list.1.name}')).toBe('y');
    expect(render('${variables.nested.deep[1]}')).toBe(20);
    expect(render('${inputs["name"]}')).toBe('Ada');
  });

  it('parses ?? defaults as JSON literals of any type', () => {
    const defaults = ['0', '"x"', 'null', '[]', '{"a": [1, "}"]}', 'true', '-1.5'];
    for (const d of defaults) {
      const c = compileValue(`\${steps.a.output.missing ?? ${d}}`);
      expect(c).toMatchObject({ kind: 'ref', ref: { hasDefault: true, defaultValue: JSON.parse(d) } });
    }
  });

  it('refuses __proto__, constructor and prototype in paths with E_FORBIDDEN_PATH', () => {
    for (const t of [
      '${inputs.__proto__}',
      '${inputs.a.constructor.name}',
      '${steps.a.output.prototype}',
      '${inputs["__proto__"]}',
    ]) {
      const e = thrown(() => compileValue(t));
      expect(hasCode(e, 'EXPRESSION')).toBe(true);
      expect(e.details.diagnosticCode).toBe('E_FORBIDDEN_PATH');
    }
  });

  it('reports malformed templates as EXPRESSION errors with the E_TEMPLATE diagnostic code', () => {
    const bad = [
      '${inputs.name',
      '${}',
      '${foo.bar}',
      '${steps.a}',
      '${steps.a.result}',
      '${env.A.B}',
      '${index.x}',
      '${inputs.a ?? nope}',
      '${inputs.a ?? }',
      '${inputs.a b}',
      '${inputs.a[-1]}',
      '${inputs.}',
    ];
    for (const t of bad) {
      const e = thrown(() => compileValue({ deep: [t] }));
      expect(e.details.diagnosticCode, t).toBe('E_TEMPLATE');
      expect(e.message).toContain('(at deep[0])');
    }
  });

  it('unescapes $${ into a literal ${', () => {
    expect(compileValue('cost: $${amount}')).toEqual({ kind: 'static', value: 'cost: ${amount}' });
    expect(render('$${a} and ${inputs.name}')).toBe('${a} and Ada');
    expect(render({ k: ['$${x}'] })).toEqual({ k: ['${x}'] });
  });

  it('accepts hyphenated step ids and spaces inside the braces', () => {
    const s: TemplateScope = { ...scope, steps: { 'fetch-a': { output: { v: 1 } } } };
    expect(render('${ steps.fetch-a.output.v }', s)).toBe(1);
  });
});

describe('template rendering', () => {
  it('keeps the type of a whole-string template', () => {
    expect(render('${steps.a.output.n}')).toBe(3);
    expect(render('${steps.a.output.list}')).toEqual([{ name: 'x' }, { name: 'y' }]);
    expect(render('${steps.a.output.obj}')).toBe((scope.steps.a!.output as { obj: object }).obj);
  });

  it('stringifies templates inside longer strings, objects as JSON', () => {
    expect(render('n=${steps.a.output.n}')).toBe('n=3');
    expect(render('obj=${steps.a.output.obj}')).toBe('obj={"k":"v"}');
    expect(render('${inputs.name}-${index}')).toBe('Ada-4');
  });

  it('renders nested objects and arrays', () => {
    expect(
      render({ who: '${inputs.name}', list: ['${index}', 'x', { deep: '${item.name}' }], n: 1 }),
    ).toEqual({
      who: 'Ada',
      list: [4, 'x', { deep: 'item-name' }],
      n: 1,
    });
  });

  it('reads status, error, env, secrets and item', () => {
    expect(render('${steps.failed.status}')).toBe('failed');
    expect(render('${steps.failed.error.code}')).toBe('TIMEOUT');
    expect(render('${env.LOG_LEVEL}')).toBe('debug');
    expect(render('Bearer ${secrets.apiKey}')).toBe('Bearer s3cr3t');
    expect(render('${item}')).toEqual({ name: 'item-name' });
  });

  it('uses the default when the value is missing or null', () => {
    expect(render('${steps.a.output.missing ?? 0}')).toBe(0);
    expect(render('${steps.a.output.nothing ?? "fallback"}')).toBe('fallback');
    expect(render('${steps.zz.output.x ?? []}')).toEqual([]);
    expect(render('count: ${steps.a.output.missing ?? null}')).toBe('count: null');
  });

  it('throws EXPRESSION with a reason when there is no value and no default', () => {
    const cases: [string, string][] = [
      [
        '${steps.zz.output.x}',
        'template ${steps.zz.output.x} has no value (step "zz" has not run) and no ?? default',
      ],
      ['${steps.failed.output.x}', 'step "failed" has no output (status: failed)'],
      ['${steps.a.output.obj.x}', 'steps.a.output.obj has no "x"'],
      ['${steps.a.output.list[5]}', 'steps.a.output.list has no item 5'],
      ['${steps.a.output.nothing}', 'steps.a.output.nothing is null'],
      ['${env.HOME}', 'environment variable HOME is not set'],
      ['x ${inputs.missing}', 'inputs has no "missing"'],
    ];
    for (const [t, message] of cases) {
      const e = thrown(() => render(t));
      expect(hasCode(e, 'EXPRESSION')).toBe(true);
      expect(e.message).toContain(message);
    }
  });

  it('never reads through the prototype chain', () => {
    const proto = { inherited: 'no' };
    const obj = Object.create(proto) as Record<string, unknown>;
    obj.own = 'yes';
    expect(lookupPath({ o: obj }, ['o', 'own'])).toBe('yes');
    expect(lookupPath({ o: obj }, ['o', 'inherited'])).toBeUndefined();
    expect(lookupPath({}, ['toString'])).toBeUndefined();
    expect(lookupPath({}, ['__proto__'])).toBeUndefined();
    expect(lookupPath([1, 2], ['length'])).toBe(2);
    expect(lookupPath([1, 2], [2])).toBeUndefined();
    expect(lookupPath('text', [0])).toBeUndefined();
  });

  it('renders an own __proto__ key as data, not as a prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": "${inputs.name}"}}');
    const out = render(value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
