/**
 * Requests are checked by their route's contract before any handler runs: a request that does
 * not fit is a 400 BAD_REQUEST problem whose detail names the first field and whose `errors`
 * point at every field (`E_REQUEST`, a JSON pointer; `/query/<name>` for query parameters).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneStep, post, problemOf, startServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const get = async (path: string) => problemOf(await fetch(`${t.url}${path}`));

describe('request validation by contract', () => {
  it('names the body field in the detail and points at each field in errors', async () => {
    const p = await problemOf(
      await post(`${t.url}/workflows/execute`, {
        workflowId: 'x',
        options: { maxConcurrentSteps: 0 },
      }),
    );
    expect(p).toMatchObject({
      status: 400,
      code: 'BAD_REQUEST',
      detail: '"options.maxConcurrentSteps" must be an integer from 1 to 10000',
    });
    expect(p.errors).toEqual([
      {
        code: 'E_REQUEST',
        severity: 'error',
        pointer: '/options/maxConcurrentSteps',
        message: 'must be an integer from 1 to 10000',
      },
    ]);
  });

  it('lists unknown fields first, each at its own pointer', async () => {
    const p = await problemOf(
      await post(`${t.url}/workflows/execute`, { workflowId: 'x', colour: 'red', options: { size: 1 } }),
    );
    expect(p.detail).toBe('unknown field "colour"');
    expect(p.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/colour', '/options/size']);
  });

  it('checks rules across fields once the fields themselves fit', async () => {
    const both = await problemOf(
      await post(`${t.url}/workflows/execute`, { workflow: oneStep(), workflowId: 'x' }),
    );
    expect(both.detail).toBe('give exactly one of "workflow" (a document) and "workflowId"');
    expect(both.errors[0].pointer).toBe('');
    const version = await problemOf(
      await post(`${t.url}/workflows/execute`, { workflow: oneStep(), version: '1.0.0' }),
    );
    expect(version.errors[0]).toMatchObject({
      pointer: '/version',
      message: '"version" goes with "workflowId"',
    });
  });

  it('answers a body that is not an object, or nested too deep, with 400 before any field check', async () => {
    const array = await problemOf(await post(`${t.url}/workflows/execute`, [1]));
    expect(array).toMatchObject({ status: 400, detail: 'the body must be a JSON object' });
    let deep: unknown = {};
    for (let i = 0; i < 200; i++) deep = { a: deep };
    const nested = await problemOf(
      await post(`${t.url}/workflows/execute`, { workflowId: 'x', inputs: deep }),
    );
    const at = `/inputs${'/a'.repeat(127)}`;
    expect(nested).toMatchObject({
      status: 400,
      detail: `the request body is nested deeper than 128 levels (at "${at}")`,
      errors: [expect.objectContaining({ pointer: at })],
    });
  });

  it('names the query parameter: a malformed, out-of-range or repeated value', async () => {
    expect(await get('/executions?limit=abc')).toMatchObject({
      status: 400,
      detail: 'query parameter "limit" must be an integer from 1 to 1000',
      errors: [expect.objectContaining({ pointer: '/query/limit' })],
    });
    expect((await get('/executions?limit=5000')).detail).toBe(
      'query parameter "limit" must be an integer from 1 to 1000',
    );
    expect((await get('/executions?limit=1&limit=2')).detail).toBe(
      'query parameter "limit" must be given once',
    );
    const status = await get('/executions?status=running,done');
    expect(status.errors[0].pointer).toBe('/query/status/1');
    expect(status.detail).toContain('must be one of queued, running');
    expect((await get('/executions/x/journal?cursor=-1')).errors[0].pointer).toBe('/query/cursor');
    expect(
      (await problemOf(await post(`${t.url}/workflows/execute?wait=soon`, { workflowId: 'x' }))).detail,
    ).toBe('query parameter "wait" must be a non-negative number of seconds');
  });

  it('takes repeated and comma-separated list values alike', async () => {
    const res = await fetch(`${t.url}/executions?status=running,failed&status=queued`);
    expect(res.status).toBe(200);
  });

  it('answers a cancel reason that is too long with the field named', async () => {
    const p = await problemOf(await post(`${t.url}/executions/any/cancel`, { reason: 'x'.repeat(1001) }));
    expect(p).toMatchObject({ status: 400, detail: '"reason" must be a string of at most 1000 characters' });
    expect(p.errors[0].pointer).toBe('/reason');
  });
});
