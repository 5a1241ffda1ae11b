/**
 * Describing JSON Schema nodes in words: a type expression and the constraints, for the
 * workflow-document, HTTP and agent references.
 */
import { code, json, prose, table } from './markdown.js';

export type JsonSchema = { [key: string]: unknown };

/** Maps a `$ref` to a markdown link (or `undefined` to show its name only). */
export type RefLinker = (ref: string) => string | undefined;

const noLinks: RefLinker = () => undefined;

export function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

function branches(s: JsonSchema): JsonSchema[] | undefined {
  const list = s.anyOf ?? s.oneOf;
  return Array.isArray(list) ? list.filter(isSchema) : undefined;
}

/** `string`, `integer`, `array of string`, `map of object`, `string or object`, a linked `$ref` name. */
export function typeOf(s: unknown, link: RefLinker = noLinks): string {
  if (!isSchema(s)) return s === false ? 'nothing' : 'any';
  if (typeof s.$ref === 'string') {
    const name = refName(s.$ref);
    return link(s.$ref) ?? code(name);
  }
  if ('const' in s) return json(s.const);
  const alts = branches(s);
  if (alts) return unique(alts.map((b) => typeOf(b, link))).join(' or ');
  if (Array.isArray(s.allOf)) return s.allOf.map((b) => typeOf(b, link)).join(' and ');
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
  if (types.length === 0) {
    if (isSchema(s.properties)) return 'object';
    return 'any';
  }
  return types
    .map((t) => {
      if (t === 'array') return isSchema(s.items) ? `array of ${typeOf(s.items, link)}` : 'array';
      if (t === 'object' && !isSchema(s.properties) && isSchema(s.additionalProperties)) {
        const inner = s.additionalProperties;
        return Object.keys(inner).length === 0 ? 'object' : `map of ${typeOf(inner, link)}`;
      }
      return t;
    })
    .join(' or ');
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** zod writes `maximum: Number.MAX_SAFE_INTEGER` for `.int()`: not a limit worth showing. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** Human-readable constraints of one node (not of its children). */
export function constraintsOf(s: unknown): string[] {
  if (!isSchema(s)) return [];
  const out: string[] = [];
  if (Array.isArray(s.enum)) out.push(`one of ${s.enum.map((v) => json(v)).join(', ')}`);
  if (typeof s.pattern === 'string') out.push(`pattern ${code(s.pattern)}`);
  if (typeof s.format === 'string') out.push(`format ${code(s.format)}`);
  if (typeof s.minimum === 'number') out.push(`≥ ${s.minimum}`);
  if (typeof s.exclusiveMinimum === 'number') out.push(`> ${s.exclusiveMinimum}`);
  if (typeof s.maximum === 'number' && s.maximum !== NO_LIMIT) out.push(`≤ ${s.maximum}`);
  if (typeof s.exclusiveMaximum === 'number') out.push(`< ${s.exclusiveMaximum}`);
  if (typeof s.minLength === 'number' && s.minLength > 0)
    out.push(`at least ${plural(s.minLength, 'character')}`);
  if (typeof s.maxLength === 'number') out.push(`at most ${plural(s.maxLength, 'character')}`);
  if (typeof s.minItems === 'number' && s.minItems > 0) out.push(`at least ${plural(s.minItems, 'item')}`);
  if (typeof s.maxItems === 'number') out.push(`at most ${plural(s.maxItems, 'item')}`);
  if (isSchema(s.items)) {
    const inner = constraintsOf(s.items);
    if (inner.length > 0) out.push(`items: ${inner.join(', ')}`);
  }
  if (isSchema(s.propertyNames) && typeof s.propertyNames.pattern === 'string')
    out.push(`keys match ${code(s.propertyNames.pattern)}`);
  if (s.additionalProperties === false && isSchema(s.properties)) out.push('no other fields');
  const alts = branches(s);
  if (alts) {
    for (const b of alts) {
      const inner = constraintsOf(b);
      if (inner.length > 0 && !isSchema(b.properties)) out.push(`as ${typeOf(b)}: ${inner.join(', ')}`);
    }
  }
  return out;
}

/** Examples of a node, from `examples` (or `example`), as JSON code spans. */
export function examplesOf(s: unknown): unknown[] {
  if (!isSchema(s)) return [];
  if (Array.isArray(s.examples)) return s.examples;
  if ('example' in s) return [s.example];
  return [];
}

/**
 * A table of an object schema's properties: name, type, required, default, description.
 * Nested object properties are listed with dotted names (`options.correlationId`).
 */
export function propertiesTable(schema: JsonSchema, link: RefLinker = noLinks): string | undefined {
  const rows: string[][] = [];
  const walk = (s: JsonSchema, prefix: string) => {
    if (!isSchema(s.properties)) return;
    const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
    for (const [name, prop] of Object.entries(s.properties)) {
      const p = isSchema(prop) ? prop : {};
      const path = prefix ? `${prefix}.${name}` : name;
      const notes = constraintsOf(p);
      const desc = typeof p.description === 'string' ? prose(p.description) : '';
      const ex = examplesOf(p);
      rows.push([
        code(path),
        typeOf(p, link),
        required.has(name) ? 'yes' : '',
        'default' in p ? json(p.default) : '',
        [
          desc,
          notes.length > 0 ? `(${notes.join('; ')})` : '',
          ex.length > 0 ? `e.g. ${ex.map((e) => json(e)).join(', ')}` : '',
        ]
          .filter(Boolean)
          .join(' '),
      ]);
      if (p.type === 'object' && isSchema(p.properties)) walk(p, path);
      if (p.type === 'array' && isSchema(p.items) && isSchema(p.items.properties)) walk(p.items, `${path}[]`);
    }
  };
  walk(schema, '');
  if (rows.length === 0) return undefined;
  return table(['Field', 'Type', 'Required', 'Default', 'Description'], rows);
}

/** A one-line summary of a schema that has no properties to tabulate. */
export function schemaSummary(schema: unknown, link: RefLinker = noLinks): string {
  const parts = [typeOf(schema, link), ...constraintsOf(schema)];
  if (isSchema(schema) && typeof schema.description === 'string') parts.push(prose(schema.description));
  return parts.join('; ');
}
