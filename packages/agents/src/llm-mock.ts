/**
 * The offline `mock` provider: a deterministic answer derived from the prompt, so workflows
 * that use the llm agent run in tests and CI without a network or a key.
 */
import { isRecord } from './http-util.js';
import type { LlmPrompt } from './llm-prompt.js';

type Schema = Record<string, unknown>;

const FORMATS: Record<string, string> = {
  'date-time': '2024-01-01T00:00:00Z',
  date: '2024-01-01',
  time: '00:00:00Z',
  email: 'mock@example.com',
  uri: 'https://example.com/mock',
  url: 'https://example.com/mock',
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
};

/** One line about the prompt: its first goal, else its instructions, else its role. */
export function promptSummary(p: LlmPrompt): string {
  const goals = p.goals === undefined ? [] : Array.isArray(p.goals) ? p.goals : [p.goals];
  const first =
    goals.find((g) => typeof g === 'string' && g.trim()) ?? p.instructions ?? p.role ?? 'mock answer';
  const line = String(first).trim().split('\n')[0]!;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** A text answer naming the role, goals and input, for prompts without an outputSchema. */
export function mockText(p: LlmPrompt): string {
  const parts: string[] = ['[mock]'];
  if (p.role) parts.push(`As ${p.role.trim()}:`);
  parts.push(promptSummary(p));
  if (p.input !== undefined) {
    const input = typeof p.input === 'string' ? p.input : JSON.stringify(p.input);
    parts.push(`(input: ${input.length > 200 ? `${input.slice(0, 197)}...` : input})`);
  }
  return parts.join(' ');
}

/**
 * A value that satisfies `schema` (for the common keywords): `const`/`enum`/`default`/
 * `examples` first, objects with every listed property, one-item arrays, numbers at their
 * minimum or 0, false, and strings taken from the input (a field of the same name) or the
 * prompt's summary, sized to minLength/maxLength.
 */
export function synthesize(schema: unknown, p: LlmPrompt): unknown {
  const root = isRecord(schema) ? schema : {};
  return value(root, root, p, undefined, 0);
}

function resolveRef(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) {
    if (!isRecord(node)) return undefined;
    node = node[decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return isRecord(node) ? node : undefined;
}

function typeOf(s: Schema): string | undefined {
  const t = s.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x !== 'null') ?? t[0]) as string | undefined;
  if (isRecord(s.properties) || Array.isArray(s.required)) return 'object';
  if (s.items !== undefined || s.prefixItems !== undefined) return 'array';
  if (
    s.minLength !== undefined ||
    s.maxLength !== undefined ||
    s.pattern !== undefined ||
    s.format !== undefined
  )
    return 'string';
  if (s.minimum !== undefined || s.maximum !== undefined) return 'number';
  return undefined;
}

function value(s: Schema, root: Schema, p: LlmPrompt, name: string | undefined, depth: number): unknown {
  if (depth > 16) return null;
  if (typeof s.$ref === 'string') {
    const target = resolveRef(root, s.$ref);
    if (target) return value(target, root, p, name, depth + 1);
  }
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ('default' in s) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = s[key];
    if (Array.isArray(options) && isRecord(options[0])) {
      const { [key]: _, ...rest } = s;
      return value({ ...rest, ...options[0] }, root, p, name, depth + 1);
    }
  }
  if (Array.isArray(s.allOf)) {
    const { allOf, ...rest } = s;
    const merged: Schema = { ...rest };
    for (const part of allOf) {
      if (!isRecord(part)) continue;
      const props = {
        ...(merged.properties as Schema | undefined),
        ...(part.properties as Schema | undefined),
      };
      const required = [
        ...((merged.required as string[] | undefined) ?? []),
        ...((part.required as string[] | undefined) ?? []),
      ];
      Object.assign(merged, part, { properties: props, required });
    }
    return value(merged, root, p, name, depth + 1);
  }
  switch (typeOf(s)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = isRecord(s.properties) ? s.properties : {};
      for (const [key, sub] of Object.entries(props)) {
        if (isRecord(sub)) out[key] = value(sub, root, p, key, depth + 1);
      }
      for (const key of Array.isArray(s.required) ? s.required : []) {
        if (typeof key === 'string' && !(key in out)) out[key] = stringFor(key, {}, p);
      }
      return out;
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 1;
      const max = typeof s.maxItems === 'number' ? s.maxItems : Number.POSITIVE_INFINITY;
      const count = Math.min(Math.max(min, 1), max);
      const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
      const items = isRecord(s.items) ? s.items : {};
      const out: unknown[] = [];
      for (let i = 0; i < Math.max(count, prefix.length); i++) {
        const sub = isRecord(prefix[i]) ? (prefix[i] as Schema) : items;
        out.push(value(sub, root, p, name, depth + 1));
      }
      return out;
    }
    case 'integer':
    case 'number':
      return numberFor(s, typeOf(s) === 'integer');
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'string':
      return stringFor(name, s, p);
    default:
      return name === undefined ? stringFor(undefined, {}, p) : null;
  }
}

function numberFor(s: Schema, integer: boolean): number {
  const min = typeof s.minimum === 'number' ? s.minimum : undefined;
  const exMin = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : undefined;
  const max = typeof s.maximum === 'number' ? s.maximum : undefined;
  const exMax = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : undefined;
  let n = min ?? (exMin !== undefined ? (integer ? Math.floor(exMin) + 1 : exMin + 1) : 0);
  if (min === undefined && exMin === undefined) {
    if (max !== undefined && n > max) n = max;
    if (exMax !== undefined && n >= exMax) n = integer ? Math.ceil(exMax) - 1 : exMax - 1;
  }
  if (integer) n = Math.ceil(n);
  const step = typeof s.multipleOf === 'number' && s.multipleOf > 0 ? s.multipleOf : undefined;
  if (step !== undefined) n = Math.ceil(n / step) * step;
  return n;
}

function stringFor(name: string | undefined, s: Schema, p: LlmPrompt): string {
  if (typeof s.format === 'string' && FORMATS[s.format] !== undefined) return FORMATS[s.format]!;
  const fromInput = name !== undefined && isRecord(p.input) ? p.input[name] : undefined;
  let text = typeof fromInput === 'string' ? fromInput : `${name ?? 'answer'}: ${promptSummary(p)}`;
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  const max = typeof s.maxLength === 'number' ? s.maxLength : undefined;
  while (text.length < min) text += text.length > 0 ? ` ${text}` : 'x';
  if (max !== undefined && text.length > max) text = text.slice(0, max);
  return text;
}
