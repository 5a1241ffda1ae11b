/**
 * Contracts to OpenAPI 3.1: paths, operations and `components/schemas`, through zod's JSON
 * Schema output (draft 2020-12, the dialect of OpenAPI 3.1). Every schema is converted in one
 * pass, so shared schemas (`component(...)`) become `$ref`s and the rest are inlined.
 */
import { z } from 'zod';
import { componentSchemas, documentedAs, type RouteContract, type Schema } from './contract.js';

type Json = Record<string, unknown>;

const SCHEMAS = '#/components/schemas/';
const COMMON_RESPONSES = {
  '401': 'Unauthorized',
  '403': 'Forbidden',
  '429': 'RateLimited',
  '500': 'Internal',
};

/** What the document is built from: the operations by path and the schemas they share. */
export interface GeneratedPaths {
  paths: Record<string, Record<string, Json>>;
  schemas: Record<string, Json>;
  /** Header parameters shared by several operations (`components/parameters`). */
  parameters: Record<string, Json>;
}

const openApiPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** Draft-2020-12 output, trimmed of what OpenAPI does not need. */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  // zod spells its date-time check out as a pattern; `format` says it.
  const dateTime = (value as Json).format === 'date-time';
  for (const [k, v] of Object.entries(value as Json)) {
    if (k === 'pattern' && dateTime) continue;
    if (k === '$schema' || k === '$id') continue;
    // z.number().int() states the safe-integer range; JSON has no other integers worth naming.
    if (
      (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) ||
      (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)
    )
      continue;
    // A loose object's "anything else": the default of JSON Schema.
    if (k === 'additionalProperties' && typeof v === 'object' && v !== null && Object.keys(v).length === 0)
      continue;
    // Empty `properties` of a loose object, and string keys: JSON says so already.
    if (k === 'properties' && typeof v === 'object' && v !== null && Object.keys(v).length === 0) continue;
    if (k === 'propertyNames' && JSON.stringify(v) === '{"type":"string"}') continue;
    out[k] = tidy(v);
  }
  return out;
}

const override = (ctx: { zodSchema: unknown; jsonSchema: Json }) => {
  const doc = documentedAs.get(ctx.zodSchema as Schema);
  if (!doc) return;
  for (const k of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[k];
  Object.assign(ctx.jsonSchema, structuredClone(doc));
};

function standalone(schema: Schema, io: 'input' | 'output'): Json {
  return tidy(z.toJSONSchema(schema, { io, unrepresentable: 'any', override: override as never })) as Json;
}

/** A parameter for each field of an object schema of strings. */
function fieldsOf(schema: Schema | undefined, where: 'path' | 'query'): Json[] {
  if (schema === undefined) return [];
  const shape = (schema as z.ZodObject).shape as Record<string, Schema>;
  return Object.entries(shape).map(([name, field]) => {
    // What the handler gets (an integer, a list), which is how clients think of it.
    const s = standalone(field, 'output');
    const description = s.description;
    delete s.description;
    const required = where === 'path' || !field.safeParse(undefined).success;
    return {
      name,
      in: where,
      ...(required ? { required: true } : {}),
      ...(typeof description === 'string' ? { description } : {}),
      schema: s,
    };
  });
}

export function generatePaths(contracts: readonly RouteContract[]): GeneratedPaths {
  // One registry: shared schemas by name, the others under placeholder ids inlined afterwards.
  const registry = z.registry<{ id: string }>();
  for (const [id, s] of componentSchemas) registry.add(s, { id });
  const placeholders = new Map<Schema, string>();
  const refOf = (s: Schema): Json => {
    const named = [...componentSchemas].find(([, c]) => c === s)?.[0];
    if (named !== undefined) return { $ref: `${SCHEMAS}${named}` };
    let id = placeholders.get(s);
    if (id === undefined) {
      id = `__inline${placeholders.size}`;
      placeholders.set(s, id);
      registry.add(s, { id });
    }
    return { $ref: `${SCHEMAS}${id}` };
  };

  const parameters: Record<string, Json> = {};
  const paths: Record<string, Record<string, Json>> = {};
  for (const c of contracts) {
    const params: Json[] = [...fieldsOf(c.params, 'path'), ...fieldsOf(c.query, 'query')];
    for (const h of c.headers ?? []) {
      const p: Json = {
        name: h.name,
        in: 'header',
        ...(h.required ? { required: true } : {}),
        ...(h.description !== undefined ? { description: h.description } : {}),
        schema: standalone(h.schema, 'input'),
      };
      if (h.component === undefined) params.push(p);
      else {
        parameters[h.component] = p;
        params.push({ $ref: `#/components/parameters/${h.component}` });
      }
    }
    const responses: Json = {};
    for (const [status, r] of Object.entries(c.responses)) {
      if (r.component !== undefined) {
        responses[status] = { $ref: `#/components/responses/${r.component}` };
        continue;
      }
      const headers = r.headers
        ? Object.fromEntries(
            Object.entries(r.headers).map(([name, h]) => [
              name,
              'component' in h
                ? { $ref: `#/components/headers/${h.component}` }
                : { description: h.description, schema: standalone(h.schema, 'output') },
            ]),
          )
        : undefined;
      responses[status] = {
        description: r.description,
        ...(headers ? { headers } : {}),
        ...(r.content
          ? {
              content: Object.fromEntries(
                Object.entries(r.content).map(([type, s]) => [type, { schema: refOf(s) }]),
              ),
            }
          : {}),
      };
    }
    if (!c.public)
      for (const [status, name] of Object.entries(COMMON_RESPONSES))
        responses[status] ??= { $ref: `#/components/responses/${name}` };
    else responses['403'] ??= { $ref: '#/components/responses/Forbidden' };
    const body = c.body;
    const op: Json = {
      summary: c.summary,
      operationId: c.operationId,
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.tags !== undefined ? { tags: [...c.tags] } : {}),
      ...(c.router !== undefined ? { 'x-orchestr8-router': c.router } : {}),
      ...(c.public ? { security: [] } : {}),
      ...(c.security !== undefined ? { security: c.security.map((s) => ({ ...s })) } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(body
        ? {
            requestBody: {
              required: body.required === true,
              ...(body.description !== undefined ? { description: body.description } : {}),
              content: Object.fromEntries(
                [...(body.json === false ? [] : ['application/json']), ...(body.mediaTypes ?? [])].map(
                  (t) => [t, { schema: refOf(body.schema) }],
                ),
              ),
            },
          }
        : {}),
      responses,
    };
    const path = openApiPath(c.path);
    paths[path] ??= {};
    paths[path][c.method] = op;
  }

  const converted = z.toJSONSchema(registry, {
    uri: (id) => `${SCHEMAS}${id}`,
    io: 'input',
    unrepresentable: 'any',
    override: override as never,
  }).schemas as Record<string, Json>;
  const all = tidy(converted) as Record<string, Json>;
  // Placeholders are inlined where they are referenced.
  const inline = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(inline);
    if (v === null || typeof v !== 'object') return v;
    const ref = (v as Json).$ref;
    if (typeof ref === 'string' && ref.startsWith(`${SCHEMAS}__inline`))
      return inline(all[ref.slice(SCHEMAS.length)]);
    return Object.fromEntries(Object.entries(v as Json).map(([k, x]) => [k, inline(x)]));
  };
  const schemas: Record<string, Json> = {};
  for (const [id, s] of Object.entries(all)) if (!id.startsWith('__inline')) schemas[id] = inline(s) as Json;
  return { paths: inline(paths) as GeneratedPaths['paths'], schemas, parameters };
}
