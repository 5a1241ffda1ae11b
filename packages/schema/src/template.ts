// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { ErrorCode, Orchestr8Error, safeJsonStringify } from '@orchestr8/common';
import { DiagnosticCode } from './diagnostics.js';
import { FORBIDDEN_KEYS, formatPath, lookupPath, type PathSegment, readPath } from './path.js';

/**
 * Templates: `${steps.a.output.items[0] ?? []}` inside any string of a step input (and
 * outputs, forEach.items, idempotencyKey). They are parsed once, when the document is
 * loaded, into CompiledValue trees; the engine renders those per step with renderValue,
 * which is the hot path (no parsing, no copying of static parts).
 */

export type TemplateRoot =
  | 'steps'
  | 'inputs'
  | 'variables'
  | 'env'
  | 'secrets'
  | 'item'
  | 'index'
  /** Only in a document's `triggers`: what fired (time, body, headers, event). */
  | 'trigger'
  /** Only in a wait's `match`: the event being matched ({name, id, payload}). */
  | 'event';

export interface TemplateRef {
  root: TemplateRoot;
  /** Set when root === 'steps'. */
  stepId?: string;
  /** After the root (and after the step id for steps), e.g. ['output', 'items', 0, 'name']. */
  path: readonly PathSegment[];
  hasDefault: boolean;
  defaultValue?: unknown;
  /** The text inside `${...}`, for error messages. */
  source: string;
}

export type CompiledValue =
  | { kind: 'static'; value: unknown }
  | { kind: 'ref'; ref: TemplateRef }
  | { kind: 'concat'; parts: readonly (string | TemplateRef)[] }
  | { kind: 'array'; items: readonly CompiledValue[] }
  | { kind: 'object'; entries: readonly (readonly [string, CompiledValue])[] };

export interface TemplateScope {
  steps: Record<string, { output?: unknown; status?: string; error?: unknown } | undefined>;
  inputs: unknown;
  variables: unknown;
  /** Only the allowlisted names need to be present. */
  env: Record<string, string | undefined>;
  /** Secret values by secretRefs name (the engine resolves them from the environment). */
  secrets?: Record<string, string | undefined>;
  item?: unknown;
  index?: number;
  /** What fired a trigger; read by `${trigger.*}` in a document's `triggers` only. */
  trigger?: unknown;
  /** The event a wait's `match` is deciding on; read by `event.*` there only. */
  event?: unknown;
}

/** A template that does not parse: `code` is E_TEMPLATE or E_FORBIDDEN_PATH; `offset` is in the string. */
export interface TemplateProblem {
  code: typeof DiagnosticCode.TEMPLATE | typeof DiagnosticCode.FORBIDDEN_PATH;
  message: string;
  offset: number;
}

const STEP_FIELDS: ReadonlySet<string> = new Set(['output', 'status', 'error']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const ROOT_HELP =
  'steps.<id>.output|status|error, inputs, variables, env.<NAME>, secrets.<NAME>, item, index';

/**
 * Checks that a root and path make a readable reference; shared by templates and
 * expressions. Returns the parts of a TemplateRef or a problem (message only).
 */
export function shapeRef(
  root: string,
  segments: PathSegment[],
  hasDefault: boolean,
  defaultValue: unknown,
  source: string,
): TemplateRef | { code: TemplateProblem['code']; message: string } {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (typeof s === 'string' && FORBIDDEN_KEYS.has(s))
      return { code: DiagnosticCode.FORBIDDEN_PATH, message: `"${s}" may not appear in a path` };
  }
  if (FORBIDDEN_KEYS.has(root))
    return { code: DiagnosticCode.FORBIDDEN_PATH, message: `"${root}" may not appear in a path` };
  let stepId: string | undefined;
  let path: PathSegment[] = segments;
  switch (root) {
    case 'steps': {
      const id = segments[0];
      const field = segments[1];
      if (id === undefined)
        return { code: DiagnosticCode.TEMPLATE, message: 'expected a step id after "steps."' };
      if (typeof field !== 'string' || !STEP_FIELDS.has(field))
        return {
          code: DiagnosticCode.TEMPLATE,
          message: `steps.${id} must be followed by .output, .status or .error${field === undefined ? '' : ` (found "${field}")`}`,
        };
      stepId = String(id);
      path = segments.slice(1);
      break;
    }
    case 'env':
    case 'secrets': {
      const name = segments[0];
      if (segments.length !== 1 || typeof name !== 'string' || !ENV_NAME.test(name))
        return {
          code: DiagnosticCode.TEMPLATE,
          message: `expected ${root}.<NAME> with nothing after the name`,
        };
      break;
    }
    case 'index':
      if (segments.length > 0)
        return { code: DiagnosticCode.TEMPLATE, message: 'index is a number: it has no fields' };
      break;
    case 'inputs':
    case 'variables':
    case 'item':
    case 'trigger':
    case 'event':
      break;
    default:
      return { code: DiagnosticCode.TEMPLATE, message: `unknown name "${root}" (expected ${ROOT_HELP})` };
  }
  // One object shape for every ref (the engine's hot path reads these).
  return { root: root as TemplateRoot, stepId, path, hasDefault, defaultValue, source };
}

/** [A-Za-z0-9_$] (and "-" when `dash`). */
export function isNameCode(c: number, dash: boolean): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 ||
    c === 36 ||
    (dash && c === 45)
  );
}

function skipSpaces(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  return i;
}

/** The end of the JSON literal at `p` (a `?? default`), without parsing it. */
function literalEnd(s: string, p: number): number {
  const c = s[p];
  if (c === '"') {
    let i = p + 1;
    while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
    return Math.min(i + 1, s.length);
  }
  if (c === '{' || c === '[') {
    let depth = 0;
    let i = p;
    while (i < s.length) {
      const ch = s[i];
      if (ch === '"') {
        i++;
        while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
      } else if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return s.length;
  }
  let i = p;
  while (i < s.length && s[i] !== '}' && s[i] !== ' ' && s[i] !== '\t' && s[i] !== '\n') i++;
  return i;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Parses the template starting at `start` (just after `${`). */
function parseOne(s: string, start: number): { ref: TemplateRef; end: number } | TemplateProblem {
  let i = skipSpaces(s, start);
  const rootStart = i;
  while (i < s.length && isNameCode(s.charCodeAt(i), false)) i++;
  const root = s.slice(rootStart, i);
  if (!root) {
    if (i >= s.length)
      return {
        code: DiagnosticCode.TEMPLATE,
        message: 'unterminated template: missing "}"',
        offset: start - 2,
      };
    return {
      code: DiagnosticCode.TEMPLATE,
      message: s[i] === '}' ? 'empty template "${}"' : `unexpected "${s[i]}" in template`,
      offset: i,
    };
  }
  const path = readPath(s, i);
  if (path.error)
    return { code: DiagnosticCode.TEMPLATE, message: path.error.message, offset: path.error.offset };
  i = skipSpaces(s, path.end);
  let hasDefault = false;
  let defaultValue: unknown;
  if (s.startsWith('??', i)) {
    i = skipSpaces(s, i + 2);
    const end = literalEnd(s, i);
    const text = s.slice(i, end);
    try {
      if (!text) throw new Error('empty');
      defaultValue = deepFreeze(JSON.parse(text));
    } catch {
      return {
        code: DiagnosticCode.TEMPLATE,
        message: `the ?? default ${text ? `"${text}" ` : ''}must be a JSON literal (0, "text", null, [], {...})`,
        offset: i,
      };
    }
    hasDefault = true;
    i = skipSpaces(s, end);
  }
  if (i >= s.length)
    return {
      code: DiagnosticCode.TEMPLATE,
      message: 'unterminated template: missing "}"',
      offset: start - 2,
    };
  if (s[i] !== '}')
    return { code: DiagnosticCode.TEMPLATE, message: `unexpected "${s[i]}" in template`, offset: i };
  const ref = shapeRef(root, path.segments, hasDefault, defaultValue, s.slice(start, i).trim());
  if ('code' in ref) return { code: ref.code, message: ref.message, offset: rootStart };
  return { ref, end: i + 1 };
}

/** Parses one string: static text (with `$${` unescaped), a single ref, or a concatenation. */
export function parseTemplateString(s: string): CompiledValue | TemplateProblem {
  let j = s.indexOf('${');
  if (j === -1) return { kind: 'static', value: s };
  const parts: (string | TemplateRef)[] = [];
  let text = '';
  let i = 0;
  while (j !== -1) {
    if (j > 0 && s[j - 1] === '$') {
      // `$${` is a literal `${`.
      text += `${s.slice(i, j - 1)}\${`;
      i = j + 2;
    } else {
      text += s.slice(i, j);
      const one = parseOne(s, j + 2);
      if ('code' in one) return one;
      if (text) parts.push(text);
      text = '';
      parts.push(one.ref);
      i = one.end;
    }
    j = s.indexOf('${', i);
  }
  text += s.slice(i);
  if (text) parts.push(text);
  if (parts.length === 0) return { kind: 'static', value: '' };
  if (parts.length === 1) {
    const only = parts[0]!;
    return typeof only === 'string' ? { kind: 'static', value: only } : { kind: 'ref', ref: only };
  }
  return { kind: 'concat', parts };
}

export interface CompileVisitor {
  /** `at` is the path from the compiled root to the string; it is reused: copy it to keep it. */
  onRef?(ref: TemplateRef, at: readonly (string | number)[]): void;
  onProblem(problem: TemplateProblem, at: readonly (string | number)[]): void;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const STATIC_EMPTY_STRING: CompiledValue = { kind: 'static', value: '' };

/** Whether any string inside contains "${" (templates or escapes); allocation-free. */
function hasTemplate(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.includes('${');
  if (typeof value !== 'object' || value === null || depth > 200) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasTemplate(value[i], depth + 1)) return true;
    return false;
  }
  for (const k in value)
    if (Object.hasOwn(value, k) && hasTemplate((value as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

function compileInner(value: unknown, visitor: CompileVisitor, at: (string | number)[]): CompiledValue {
  if (typeof value === 'string') {
    if (value === '') return STATIC_EMPTY_STRING;
    const r = parseTemplateString(value);
    if ('code' in r) {
      visitor.onProblem(r, at);
      return { kind: 'static', value };
    }
    if (visitor.onRef) {
      if (r.kind === 'ref') visitor.onRef(r.ref, at);
      else if (r.kind === 'concat') for (const p of r.parts) if (typeof p !== 'string') visitor.onRef(p, at);
    }
    return r;
  }
  if (typeof value !== 'object' || value === null || !hasTemplate(value, 0)) return { kind: 'static', value };
  if (Array.isArray(value)) {
    let dynamic = false;
    let changed = false;
    const items: CompiledValue[] = new Array(value.length);
    for (let k = 0; k < value.length; k++) {
      at.push(k);
      const c = compileInner(value[k], visitor, at);
      at.pop();
      items[k] = c;
      if (c.kind !== 'static') dynamic = true;
      else if (c.value !== value[k]) changed = true;
    }
    if (dynamic) return { kind: 'array', items };
    if (!changed) return { kind: 'static', value };
    return { kind: 'static', value: items.map((c) => (c as { value: unknown }).value) };
  }
  if (!isPlainObject(value)) return { kind: 'static', value };
  const keys = Object.keys(value);
  let dynamic = false;
  let changed = false;
  const entries: (readonly [string, CompiledValue])[] = new Array(keys.length);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const v = (value as Record<string, unknown>)[key];
    at.push(key);
    const c = compileInner(v, visitor, at);
    at.pop();
    entries[k] = [key, c];
    if (c.kind !== 'static') dynamic = true;
    else if (c.value !== v) changed = true;
  }
  if (dynamic) return { kind: 'object', entries };
  if (!changed) return { kind: 'static', value };
  const out: Record<string, unknown> = {};
  for (const [k, c] of entries) setKey(out, k, (c as { value: unknown }).value);
  return { kind: 'static', value: out };
}

/** Compiles a value, reporting every bad template to the visitor (bad strings stay static). */
export function compileValueWith(value: unknown, visitor: CompileVisitor): CompiledValue {
  return compileInner(value, visitor, []);
}

/** Compiles templates once. Throws an Orchestr8Error (code EXPRESSION) on the first bad template. */
export function compileValue(value: unknown): CompiledValue {
  return compileValueWith(value, {
    onProblem(p, at) {
      throw new Orchestr8Error(
        ErrorCode.EXPRESSION,
        `${p.message}${at.length ? ` (at ${formatPath(at, false)})` : ''}`,
        {
          retryable: false,
          details: { diagnosticCode: p.code, offset: p.offset, path: [...at] },
        },
      );
    },
  });
}

function setKey(out: Record<string, unknown>, key: string, v: unknown): void {
  // `out.__proto__ = v` would replace the prototype: define it as an own property instead.
  if (key === '__proto__')
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
}

function rootValue(ref: TemplateRef, scope: TemplateScope): unknown {
  switch (ref.root) {
    case 'steps':
      return Object.hasOwn(scope.steps, ref.stepId!) ? scope.steps[ref.stepId!] : undefined;
    case 'inputs':
      return scope.inputs;
    case 'variables':
      return scope.variables;
    case 'env':
      return scope.env;
    case 'secrets':
      return scope.secrets;
    case 'item':
      return scope.item;
    case 'index':
      return scope.index;
    case 'trigger':
      return scope.trigger;
    case 'event':
      return scope.event;
  }
}

/** Why a ref has no value, for the error message (cold path). */
function describeMissing(ref: TemplateRef, scope: TemplateScope): string {
  let base = rootValue(ref, scope);
  let path = ref.path;
  let name: string = ref.root;
  if (ref.root === 'steps') {
    const entry = base as { output?: unknown; status?: string } | undefined;
    if (entry === undefined || entry === null) return `step "${ref.stepId}" has not run`;
    const field = path[0] as string;
    if (entry[field as 'output'] === undefined || entry[field as 'output'] === null)
      return `step "${ref.stepId}" has no ${field}${entry.status ? ` (status: ${entry.status})` : ''}`;
    base = entry[field as 'output'];
    path = path.slice(1);
    name = `steps.${ref.stepId}.${field}`;
  } else if (ref.root === 'env') return `environment variable ${String(path[0])} is not set`;
  else if (ref.root === 'secrets') return `secret ${String(path[0])} is not set`;
  if (base === undefined || base === null) return `${name} is ${base === null ? 'null' : 'not set'}`;
  let cur = base;
  for (let i = 0; i < path.length; i++) {
    const next = lookupPath(cur, [path[i]!]);
    const at = name + formatPath(path.slice(0, i));
    if (next === undefined)
      return `${at} has no ${typeof path[i] === 'number' ? `item ${path[i]}` : `"${path[i]}"`}`;
    if (next === null) return `${at}${formatPath([path[i]!])} is null`;
    cur = next;
  }
  return `${name}${formatPath(path)} is null`;
}

function missing(ref: TemplateRef, scope: TemplateScope): Orchestr8Error {
  return new Orchestr8Error(
    ErrorCode.EXPRESSION,
    `template \${${ref.source}} has no value (${describeMissing(ref, scope)}) and no ?? default`,
    { retryable: false, details: { template: ref.source } },
  );
}

/** The value of one ref: its default when missing or null, else an EXPRESSION error. */
export function resolveRef(ref: TemplateRef, scope: TemplateScope): unknown {
  const base = rootValue(ref, scope);
  const v = ref.path.length === 0 ? base : lookupPath(base, ref.path);
  if (v === undefined || v === null) {
    if (ref.hasDefault) return ref.defaultValue;
    throw missing(ref, scope);
  }
  return v;
}

function stringifyPart(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null) return safeJsonStringify(v);
  return String(v);
}

/**
 * Renders a compiled value against a scope. Static parts are returned as they are (the
 * same objects, not copies): treat the result as read-only.
 */
export function renderValue(value: CompiledValue, scope: TemplateScope): unknown {
  switch (value.kind) {
    case 'static':
      return value.value;
    case 'ref':
      return resolveRef(value.ref, scope);
    case 'concat': {
      let out = '';
      for (const p of value.parts) out += typeof p === 'string' ? p : stringifyPart(resolveRef(p, scope));
      return out;
    }
    case 'array': {
      const items = value.items;
      const out = new Array<unknown>(items.length);
      for (let i = 0; i < items.length; i++) out[i] = renderValue(items[i]!, scope);
      return out;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value.entries) setKey(out, k, renderValue(v, scope));
      return out;
    }
  }
}

/** Every ref inside a compiled value, in document order. */
export function collectRefs(value: CompiledValue, out: TemplateRef[] = []): TemplateRef[] {
  switch (value.kind) {
    case 'ref':
      out.push(value.ref);
      break;
    case 'concat':
      for (const p of value.parts) if (typeof p !== 'string') out.push(p);
      break;
    case 'array':
      for (const c of value.items) collectRefs(c, out);
      break;
    case 'object':
      for (const [, c] of value.entries) collectRefs(c, out);
      break;
  }
  return out;
}

/** `${steps.a.output.x ?? 0}`: the ref as written, for messages. */
export function refText(ref: TemplateRef): string {
  return `\${${ref.source}}`;
}
