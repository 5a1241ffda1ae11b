import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { DiagnosticCode } from './diagnostics.js';
import { filtrexModule } from './lazy-modules.js';
import { lookupPath, type PathSegment, segmentOf } from './path.js';
import { shapeRef, type TemplateRef, type TemplateScope } from './template.js';

/**
 * Conditions are filtrex expressions (a small, safe language with no loops, so evaluation
 * time is bounded by the expression's size). Names are dotted paths into the scope
 * `{steps, inputs, variables, env, secrets, item, index}` resolved through own properties
 * only; a missing name is `undefined`, never an error.
 */

export interface CompiledExpression {
  source: string;
  /** Every name the expression reads, as refs (no defaults), for dependency checks. */
  refs: readonly TemplateRef[];
  /** Throws an Orchestr8Error (code EXPRESSION) when the expression fails at run time. */
  evaluate(scope: TemplateScope): unknown;
}

/** A compile-time problem: `code` is E_EXPRESSION or E_FORBIDDEN_PATH. */
export class ExpressionError extends Orchestr8Error {
  constructor(
    message: string,
    readonly diagnosticCode: string,
  ) {
    super(ErrorCode.EXPRESSION, message, { retryable: false, details: { diagnosticCode } });
    this.name = 'ExpressionError';
  }
}

const CONSTANTS = { true: true, false: false, null: null };

/**
 * filtrex output by expression shape (names replaced by placeholders): conditions that
 * differ only in the names they read, in one document or across reloads, are parsed and
 * code-generated once. The functions are pure, so sharing them is safe.
 */
const compiledCache = new Map<string, (data: unknown) => unknown>();

/** Empties the compiled-expression cache (benchmarks measure cold compiles with it). */
export function clearExpressionCache(): void {
  compiledCache.clear();
}

/** Dotted name -> segments, cached per name (expressions are compiled once; names repeat). */
const segmentCache = new Map<string, readonly PathSegment[]>();
function segmentsOf(name: string): readonly PathSegment[] {
  let s = segmentCache.get(name);
  if (!s) {
    s = name.split('.').map(segmentOf);
    if (segmentCache.size < 10_000) segmentCache.set(name, s);
  }
  return s;
}

/**
 * The paths of the expression being evaluated. Compiled filtrex functions are shared by
 * every expression of the same shape (`'$0' > 0 and '$1' == "x"`), so the names behind
 * the placeholders are set for the duration of each (synchronous) evaluation.
 */
let activePaths: readonly (readonly PathSegment[])[] | undefined;

/** filtrex `customProp`: `a.b.0` walks own properties; forbidden keys and misses give undefined. */
function customProp(name: string, _get: unknown, obj: unknown, type: string): unknown {
  if (type === 'single-quoted' && name.charCodeAt(0) === 36 /* $ */) {
    const path = activePaths?.[Number(name.slice(1))];
    return path === undefined ? undefined : lookupPath(obj, path);
  }
  return lookupPath(obj, segmentsOf(name));
}

// filtrex's lexer rules, in its order (the first match wins): used to find the names an
// expression reads, without evaluating it.
const LEX: readonly (readonly [RegExp, string])[] = [
  [/\*|\/|-|\+|\^|==|!=|~=|>=|<=|<|>|,/y, 'op'],
  [/\(/y, '('],
  [/\)/y, ')'],
  [/not\s+in[^\w]/y, 'kw'],
  [/(?:and|or|not|in)[^\w]/y, 'kw'],
  [/of[^\w]/y, 'of'],
  [/(?:if|then|else|mod)[^\w]/y, 'kw'],
  [/\s+/y, 'ws'],
  [/[0-9]+(?:\.[0-9]+)?(?![0-9.])/y, 'num'],
  [/[a-zA-Z$_][.a-zA-Z0-9$_]*/y, 'sym'],
  [/'(?:\\'|\\\\|[^'\\])*'/y, 'qsym'],
  [/"(?:\\"|\\\\|[^"\\])*"/y, 'str'],
  [/[%?:]/y, 'op'],
];

interface Token {
  type: string;
  text: string;
}

/** The tokens, or undefined when some text is not a token (filtrex will say where). */
function tokenize(src: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  outer: while (i < src.length) {
    for (const [re, type] of LEX) {
      re.lastIndex = i;
      const m = re.exec(src);
      if (m && m[0].length > 0) {
        if (type !== 'ws') out.push({ type, text: m[0] });
        i += m[0].length;
        continue outer;
      }
    }
    return undefined;
  }
  return out;
}

function unquote(q: string): string {
  return q.slice(1, -1).replace(/\\(['\\])/g, '$1');
}

const FUNCTIONS: ReadonlySet<string> = new Set([
  'abs',
  'ceil',
  'floor',
  'log',
  'log2',
  'log10',
  'max',
  'min',
  'round',
  'sqrt',
  'exists',
  'empty',
]);

/**
 * Operators filtrex accepts that conditions may not use: a regular expression built from
 * data can take unbounded time, and the deprecated forms print warnings at run time.
 */
const REFUSED_OPERATORS: Record<string, string> = {
  '~=': 'the regular-expression operator ~= is not allowed (its matching time is unbounded)',
  '%': 'use "mod" for the remainder, not "%"',
  '?': 'use "if x then y else z", not "x ? y : z"',
  ':': 'use "if x then y else z", not "x ? y : z"',
};

interface Shape {
  /** The source with every data name replaced by a placeholder: `'$0' > 1 and '$1' == "x"`. */
  shape: string;
  /** The name behind each placeholder, as a path. */
  paths: (readonly PathSegment[])[];
  /** The names read from the scope (not `x` in `x of y`), for dependency checks. */
  roots: string[];
}

/**
 * Splits an expression into its shape and its names; refuses unknown functions and the
 * refused operators. Undefined when the text does not even lex.
 */
function shapeOf(src: string): Shape | undefined {
  const tokens = tokenize(src);
  if (!tokens) return undefined;
  const parts: string[] = [];
  const paths: (readonly PathSegment[])[] = [];
  const roots: string[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.type === 'op' && Object.hasOwn(REFUSED_OPERATORS, t.text))
      throw new ExpressionError(REFUSED_OPERATORS[t.text]!, DiagnosticCode.EXPRESSION);
    const next = tokens[k + 1];
    const isName =
      (t.type === 'sym' || t.type === 'qsym') &&
      next?.type !== '(' &&
      !(t.type === 'sym' && Object.hasOwn(CONSTANTS, t.text));
    if (t.type === 'sym' && next?.type === '(' && !FUNCTIONS.has(t.text))
      throw new ExpressionError(
        `unknown function ${t.text}() (available: ${[...FUNCTIONS].join(', ')})`,
        DiagnosticCode.EXPRESSION,
      );
    if (!isName) {
      parts.push(t.text);
      continue;
    }
    const name = t.type === 'sym' ? t.text : unquote(t.text);
    parts.push(`'$${paths.length}'`);
    paths.push(segmentsOf(name));
    if (next?.type !== 'of') roots.push(name);
  }
  return { shape: parts.join(' '), paths, roots };
}

const SYMBOL_CHAR = /[.a-zA-Z0-9$_]/;

/**
 * Step ids may contain "-", which filtrex reads as minus. A name starting with `steps.`
 * takes the whole step id (letters, digits, "_", "-") and is rewritten as a single-quoted
 * symbol: `steps.fetch-a.output.n - 1` -> `'steps.fetch-a.output.n' - 1`.
 */
function quoteStepNames(src: string): string {
  if (!src.includes('-')) return src;
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (src.startsWith('steps.', i) && (i === 0 || !SYMBOL_CHAR.test(src[i - 1]!))) {
      let j = i + 6;
      while (j < src.length && /[A-Za-z0-9_-]/.test(src[j]!)) j++;
      const id = src.slice(i + 6, j);
      while (j < src.length && SYMBOL_CHAR.test(src[j]!)) j++;
      const name = src.slice(i, j);
      out += id.includes('-') ? `'${name}'` : name;
      i = j;
      continue;
    }
    if (SYMBOL_CHAR.test(c)) {
      let j = i;
      while (j < src.length && SYMBOL_CHAR.test(src[j]!)) j++;
      out += src.slice(i, j);
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** `${ a > 1 }` -> `a > 1`; anything else unchanged. */
function unwrap(source: string): string {
  const t = source.trim();
  if (t.startsWith('${') && t.endsWith('}') && t.indexOf('${', 2) === -1) return t.slice(2, -1).trim();
  return t;
}

/** "at column 16: unexpected \">\"" from filtrex's (jison's) multi-line parse error. */
function describeParseError(message: string): string {
  const lines = message.split('\n');
  const caret = lines.find((l) => /^-*\^$/.test(l));
  const where = caret ? ` at column ${caret.length}` : '';
  const got = /got '([^']*)'\s*$/.exec(message)?.[1];
  if (got === 'EndOfExpression') return `${where}: unexpected end of the expression`;
  if (got !== undefined)
    return `${where}: unexpected ${got === 'Symbol' || got === 'Number' || got === 'String' ? `${got.toLowerCase()}` : `"${got}"`}`;
  if (message.startsWith('Lexical error')) return `${where}: unrecognized text`;
  return `: ${lines[0] ?? message}`;
}

/** What to write instead, when a condition that does not parse looks like JavaScript or is partly wrapped in `${ }`. */
function syntaxHint(body: string): string {
  const code = body.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  if (code.includes('${')) return '; write the condition without ${ }, or wrap the whole of it in one';
  const instead: string[] = [];
  if (/===|!==/.test(code)) instead.push('== and != for === and !==');
  if (/&&|\|\|/.test(code)) instead.push('and / or for && / ||');
  if (/!(?!=)/.test(code.replace(/!==?/g, ''))) instead.push('not for !');
  return instead.length > 0 ? `; conditions are not JavaScript: write ${instead.join(', ')}` : '';
}

/**
 * Compiles a condition once. Throws an ExpressionError (an Orchestr8Error with code
 * EXPRESSION; `diagnosticCode` E_EXPRESSION or E_FORBIDDEN_PATH) when it does not parse or
 * reads a name outside the scope.
 */
export function compileExpression(source: string): CompiledExpression {
  const body = unwrap(source);
  if (!body) throw new ExpressionError('empty expression', DiagnosticCode.EXPRESSION);
  const rewritten = quoteStepNames(body);
  const parseError = (): ExpressionError => {
    // Compile the text as written, so that the error shows the user's own columns.
    try {
      filtrexModule().compileExpression(rewritten, { customProp, constants: CONSTANTS });
    } catch (e) {
      const detail = describeParseError(e instanceof Error ? e.message : String(e));
      return new ExpressionError(
        `expression "${body}" does not parse${detail}${syntaxHint(body)}`,
        DiagnosticCode.EXPRESSION,
      );
    }
    return new ExpressionError(
      `expression "${body}" does not parse${syntaxHint(body)}`,
      DiagnosticCode.EXPRESSION,
    );
  };
  let shape: Shape | undefined;
  try {
    shape = shapeOf(rewritten);
  } catch (e) {
    if (e instanceof ExpressionError)
      throw new ExpressionError(`expression "${body}": ${e.message}`, e.diagnosticCode);
    throw e;
  }
  if (!shape) throw parseError();
  let fn = compiledCache.get(shape.shape);
  if (!fn) {
    try {
      fn = filtrexModule().compileExpression(shape.shape, { customProp, constants: CONSTANTS }) as (
        data: unknown,
      ) => unknown;
    } catch {
      throw parseError();
    }
    if (compiledCache.size >= 2_000) compiledCache.clear();
    compiledCache.set(shape.shape, fn);
  }
  const run = fn;
  const paths = shape.paths;
  const refs: TemplateRef[] = [];
  for (const name of shape.roots) {
    const [root, ...rest] = segmentsOf(name);
    const ref = shapeRef(String(root), rest, false, undefined, name);
    if ('code' in ref) throw new ExpressionError(`expression "${body}": ${ref.message}`, ref.code);
    refs.push(ref);
  }
  return {
    source,
    refs,
    evaluate(scope: TemplateScope): unknown {
      const outer = activePaths;
      activePaths = paths;
      let result: unknown;
      try {
        result = run(scope);
      } finally {
        activePaths = outer;
      }
      if (result instanceof Error)
        throw new Orchestr8Error(ErrorCode.EXPRESSION, `expression "${body}" failed: ${result.message}`, {
          retryable: false,
          cause: result,
        });
      return result;
    },
  };
}
