// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { hasCode } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { compileExpression, type TemplateScope } from '../src/index.js';

const scope: TemplateScope = {
  steps: {
    search: { output: { count: 3, items: ['a', 'b'], meta: { lang: 'en' } }, status: 'succeeded' },
    'fetch-a': { output: { n: 5 }, status: 'succeeded' },
    broken: { status: 'failed', error: { code: 'TIMEOUT' } },
  },
  inputs: { mode: 'deep', flag: true, limit: 2 },
  variables: { threshold: 1 },
  env: { STAGE: 'prod' },
  item: { name: 'x' },
  index: 0,
};

const run = (src: string, s: TemplateScope = scope) => compileExpression(src).evaluate(s);

function thrown(fn: () => unknown): Error & { diagnosticCode?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('condition expressions', () => {
  it('compare numbers and strings', () => {
    expect(run('steps.search.output.count > 0 and inputs.mode == "deep"')).toBe(true);
    expect(run('steps.search.output.count >= variables.threshold')).toBe(true);
    expect(run('inputs.mode != "deep"')).toBe(false);
    expect(run('steps.search.output.count - 1 == inputs.limit')).toBe(true);
  });

  it('combine with and, or, not', () => {
    expect(run('inputs.flag and not (inputs.mode == "quick")')).toBe(true);
    expect(run('inputs.mode == "quick" or steps.broken.status == "failed"')).toBe(true);
    expect(run('not inputs.flag')).toBe(false);
  });

  it('test membership with in and not in', () => {
    expect(run('inputs.mode in ("deep", "full")')).toBe(true);
    expect(run('inputs.mode not in ("deep", "full")')).toBe(false);
    expect(run('steps.broken.error.code in ("TIMEOUT", "NETWORK")')).toBe(true);
  });

  it('read array items and lengths', () => {
    expect(run('steps.search.output.items.0 == "a"')).toBe(true);
    expect(run('steps.search.output.items.length == 2')).toBe(true);
  });

  it('read step ids with hyphens', () => {
    expect(run('steps.fetch-a.output.n - 1 == 4')).toBe(true);
    expect(run("'steps.fetch-a.output.n' > 4")).toBe(true);
  });

  it('treat missing names as undefined, never as an error', () => {
    expect(run('exists(steps.nope.output.x)')).toBe(false);
    expect(run('steps.search.output.missing == null')).toBe(false);
    expect(run('empty(steps.search.output.missing)')).toBe(true);
    expect(run('exists(steps.search.output.meta.lang)')).toBe(true);
  });

  it('has true, false and null constants', () => {
    expect(run('inputs.flag == true')).toBe(true);
    expect(run('true and false')).toBe(false);
  });

  it('never reach the prototype chain', () => {
    const c = compileExpression('exists(x of steps.search.output)');
    expect(c.evaluate(scope)).toBe(false);
    expect(run('exists(toString of steps.search.output)')).toBe(false);
    expect(run("exists('steps.search.output.valueOf')")).toBe(false);
    expect(() => compileExpression('inputs.__proto__.x == 1')).toThrow(/may not appear/);
    expect(thrown(() => compileExpression('steps.a.output.constructor')).diagnosticCode).toBe(
      'E_FORBIDDEN_PATH',
    );
  });

  it('share compiled code between expressions of the same shape without mixing their names', () => {
    const a = compileExpression('steps.search.output.count > 2');
    const b = compileExpression('inputs.limit > 2');
    expect([a.evaluate(scope), b.evaluate(scope), a.evaluate(scope)]).toEqual([true, false, true]);
    expect(run('lang of steps.search.output.meta == "en"')).toBe(true);
    expect(run('count of steps.search.output > limit of inputs')).toBe(true);
  });

  it('strip an optional ${ ... } wrapper', () => {
    const c = compileExpression('${ inputs.limit > 1 }');
    expect(c.source).toBe('${ inputs.limit > 1 }');
    expect(c.evaluate(scope)).toBe(true);
  });

  it('list the names they read as refs', () => {
    const c = compileExpression(
      'steps.search.output.count > variables.threshold and env.STAGE == "prod" and exists(item.name)',
    );
    expect(c.refs.map((r) => [r.root, r.stepId, r.path])).toEqual([
      ['steps', 'search', ['output', 'count']],
      ['variables', undefined, ['threshold']],
      ['env', undefined, ['STAGE']],
      ['item', undefined, ['name']],
    ]);
  });

  it('refuse expressions that do not parse, with E_EXPRESSION', () => {
    for (const src of ['a ==', 'inputs.count > > 1', '(inputs.a', 'inputs.a # 1', '', '${}']) {
      const e = thrown(() => compileExpression(src));
      expect(hasCode(e, 'EXPRESSION'), src).toBe(true);
      expect(e.diagnosticCode).toBe('E_EXPRESSION');
    }
  });

  it('say what to write instead of JavaScript operators and of a partial ${ } wrap', () => {
    const message = (src: string) => thrown(() => compileExpression(src)).message;
    expect(message('steps.a.output.x === 1')).toContain('write == and != for === and !==');
    expect(message('inputs.a == 1 && !inputs.b')).toContain('write and / or for && / ||, not for !');
    expect(message('inputs.a || inputs.b')).toContain('and / or for && / ||');
    expect(message('${inputs.limit} == 1')).toContain('without ${ }, or wrap the whole of it in one');
    // Operators inside strings are text; a plain mistake gets no JavaScript hint.
    expect(message('inputs.mode == "a && b" ==')).not.toContain('JavaScript');
    expect(message('inputs.count > > 1')).not.toContain('JavaScript');
    // The forms they suggest parse.
    expect(run('inputs.limit == 2 and not (inputs.limit != 2)')).toBe(true);
  });

  it('refuse the regex operator (unbounded time) and the deprecated % and ?: forms', () => {
    expect(() => compileExpression('inputs.mode ~= "d.*"')).toThrow(/~= is not allowed/);
    expect(() => compileExpression('inputs.limit % 2 == 0')).toThrow(/use "mod"/);
    expect(() => compileExpression('inputs.flag ? 1 : 2')).toThrow(/if x then y else z/);
    expect(run('if inputs.flag then 1 else 2')).toBe(1);
    expect(run('inputs.limit mod 2 == 0')).toBe(true);
  });

  it('refuse unknown names and functions', () => {
    expect(() => compileExpression('foo > 1')).toThrow(/unknown name "foo"/);
    expect(() => compileExpression('steps.a.result > 1')).toThrow(/must be followed by .output/);
    expect(() => compileExpression('eval(inputs.x)')).toThrow(/unknown function eval\(\)/);
  });

  it('throw EXPRESSION at run time on a type error, never return an Error', () => {
    const c = compileExpression('inputs.mode and true');
    const e = thrown(() => c.evaluate(scope));
    expect(hasCode(e, 'EXPRESSION')).toBe(true);
    expect(e.message).toContain('inputs.mode and true');
  });
});
