/**
 * How contracts become OpenAPI: shared schemas are components referenced by `$ref`, every
 * other schema is inlined where it is used (also when two operations use it), parameters are
 * described as handlers receive them, and public operations skip the API-key problems.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  component,
  defineRoute,
  documented,
  json,
  queryInt,
  queryString,
} from '../src/contracts/contract.js';
import { generatePaths } from '../src/contracts/generate.js';

const Shared = component('GenerateTestThing', z.object({ id: z.string(), at: z.iso.datetime() }));
const inline = z.object({ n: z.number().int() });

const a = defineRoute({
  method: 'get',
  path: '/things/:id',
  operationId: 'getThing',
  summary: 'A thing',
  params: z.object({ id: z.string() }),
  query: z.object({ limit: queryInt(1, 10).default(5), q: queryString(), tag: queryString().optional() }),
  responses: { '200': json('The thing', Shared), '202': json('Counted', inline) },
});
const b = defineRoute({
  method: 'post',
  path: '/things',
  operationId: 'countThings',
  summary: 'Count',
  public: true,
  body: { schema: documented(z.custom<string>(), { type: 'string', format: 'thing' }), required: true },
  responses: { '200': json('Counted', inline) },
});

describe('generatePaths', () => {
  const out = generatePaths([a, b]);
  const getThing = out.paths['/things/{id}']!.get as Record<string, any>;
  const countThings = out.paths['/things']!.post as Record<string, any>;

  it('references shared schemas and inlines the others, in every operation that uses them', () => {
    expect(getThing.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/GenerateTestThing',
    });
    expect(out.schemas.GenerateTestThing).toEqual({
      type: 'object',
      properties: { id: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
      required: ['id', 'at'],
    });
    const counted = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
    expect(getThing.responses['202'].content['application/json'].schema).toEqual(counted);
    expect(countThings.responses['200'].content['application/json'].schema).toEqual(counted);
    expect(JSON.stringify(out)).not.toContain('__inline');
  });

  it('describes parameters as the handler receives them, required unless optional or defaulted', () => {
    expect(getThing.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10, default: 5 } },
      { name: 'q', in: 'query', required: true, schema: { type: 'string' } },
      { name: 'tag', in: 'query', schema: { type: 'string' } },
    ]);
  });

  it('documents a value checked elsewhere as its contract says', () => {
    expect(countThings.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { type: 'string', format: 'thing' } } },
    });
  });

  it('adds the shared problems to operations behind API keys, and only 403 to public ones', () => {
    expect(Object.keys(getThing.responses).sort()).toEqual(['200', '202', '401', '403', '429', '500']);
    expect(countThings.security).toEqual([]);
    expect(Object.keys(countThings.responses).sort()).toEqual(['200', '403']);
  });

  it('refuses two schemas under one component name', () => {
    expect(() => component('GenerateTestThing', z.string())).toThrow(
      'two schemas are named "GenerateTestThing"',
    );
  });
});
