/**
 * What `POST /executions/:id/cancel` answers: the status as it is (a cancel takes the grace
 * period), plus `cancelRequested` and who acts on the request.
 */
import { createEngine } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gate, gated, post, registry, startServer, type TestServer, waitTerminal } from './helpers.js';

let t: TestServer;
let matchesSchema: (value: unknown) => boolean;
beforeAll(async () => {
  t = await startServer();
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema((await (await fetch(`${t.url}/openapi.json`)).json()) as object, 'openapi.json');
  matchesSchema = ajv.getSchema('openapi.json#/components/schemas/CancelAccepted')!;
});
afterAll(() => t.stop());

describe('POST /executions/:id/cancel answers', () => {
  it('cancelRequested with delivery "in-process" when this server runs the execution', async () => {
    gate('cancel-in-process');
    const started = (await (
      await post(`${t.url}/workflows/execute`, { workflow: gated('cancel-in-process') })
    ).json()) as { executionId: string };
    const res = await post(`${t.url}/executions/${started.executionId}/cancel`, {
      reason: 'changed my mind',
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({
      executionId: started.executionId,
      cancelRequested: true,
      cancelRequest: { reason: 'changed my mind', delivery: 'in-process' },
    });
    expect(typeof body.cancelRequest.requestedAt).toBe('number');
    expect(matchesSchema(body)).toBe(true);
    expect((await waitTerminal(t.url, started.executionId)).status).toBe('cancelled');
  });

  it('cancelRequested with delivery "recorded" for an execution whose process stopped, still running until resumed', async () => {
    // Another engine on the same file starts it and stops without finishing it, as a crash would.
    const otherStore = await openSqliteStore({ path: t.dbPath });
    const other = createEngine({ registry: registry(), store: otherStore });
    gate('cancel-orphaned');
    const handle = await other.start(validateWorkflowObject(gated('cancel-orphaned', 'orphaned')).workflow!);
    for (let i = 0; i < 500 && (await otherStore.getExecution(handle.id))?.status !== 'running'; i++)
      await new Promise((r) => setTimeout(r, 5));
    await other.shutdown({ graceMs: 0 });
    await otherStore.close();

    const res = await post(`${t.url}/executions/${handle.id}/cancel`, { reason: 'nobody runs it' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({
      status: 'running',
      cancelRequested: true,
      cancelRequest: { reason: 'nobody runs it', delivery: 'recorded' },
    });
    expect(matchesSchema(body)).toBe(true);
  });
});
