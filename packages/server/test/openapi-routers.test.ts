/**
 * A router of another package declares its routes with the contract helpers of
 * @orchestr8/server: `validated` checks its requests the way the server checks its own, and the
 * contracts it passes with the router (`routers: [{ handler, contracts }]`) are in the served
 * OpenAPI document, which stays valid.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRoute, json, problem, queryInt, validated } from '../src/index.js';
import { post, problemOf, startServer, type TestServer } from './helpers.js';

const greet = defineRoute({
  method: 'post',
  path: '/greetings/:lang',
  operationId: 'greet',
  summary: 'Greet someone',
  tags: ['Greetings'],
  router: 'greetings',
  params: z.object({ lang: z.enum(['en', 'fr']) }),
  query: z.object({ times: queryInt(1, 3).default(1) }),
  body: { schema: z.strictObject({ name: z.string().min(1) }), required: true },
  responses: {
    '200': json('The greeting', z.object({ text: z.string() })),
    '400': problem('Malformed request'),
  },
});

let t: TestServer;
let doc: Record<string, any>;
beforeAll(async () => {
  const router = express.Router();
  router.post(
    greet.path,
    express.json(),
    validated(greet, ({ params, query, body }, _req, res) => {
      const hello = params.lang === 'fr' ? 'Bonjour' : 'Hello';
      res.json({ text: Array(query.times).fill(`${hello} ${body.name}`).join('. ') });
    }),
  );
  t = await startServer({ routers: [{ handler: router, contracts: [greet] }] });
  doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as Record<string, any>;
});
afterAll(() => t.stop());

describe('a router with contracts', () => {
  it('serves what its contract allows, parsed and typed', async () => {
    const res = await post(`${t.url}/greetings/fr?times=2`, { name: 'Ada' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: 'Bonjour Ada. Bonjour Ada' });
  });

  it('answers what its contract refuses with the server’s 400 problem, naming the field', async () => {
    const body = await problemOf(await post(`${t.url}/greetings/en`, { name: '', age: 3 }));
    expect(body).toMatchObject({ status: 400, code: 'BAD_REQUEST', detail: 'unknown field "age"' });
    expect(body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/age', '/name']);
    const query = await problemOf(await post(`${t.url}/greetings/en?times=9`, { name: 'Ada' }));
    expect(query.detail).toBe('query parameter "times" must be an integer from 1 to 3');
    const lang = await problemOf(await post(`${t.url}/greetings/de`, { name: 'Ada' }));
    expect(lang.errors[0].pointer).toBe('/params/lang');
  });

  it('is described in the served OpenAPI document, which stays valid', async () => {
    const op = doc.paths['/greetings/{lang}'].post;
    expect(op).toMatchObject({
      operationId: 'greet',
      'x-orchestr8-router': 'greetings',
      tags: ['Greetings'],
    });
    expect(op.parameters).toEqual(
      expect.arrayContaining([
        { name: 'lang', in: 'path', required: true, schema: { type: 'string', enum: ['en', 'fr'] } },
        {
          name: 'times',
          in: 'query',
          schema: { type: 'integer', minimum: 1, maximum: 3, default: 1 },
        },
      ]),
    );
    expect(op.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
      required: ['name'],
      additionalProperties: false,
    });
    // Every operation not marked public answers the shared problems too (431: Node's, on any path).
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '403', '429', '431', '500']);
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
  });
});
