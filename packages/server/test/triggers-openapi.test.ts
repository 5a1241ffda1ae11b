/**
 * The trigger routes (@orchestr8/triggers' router, which `orchestr8 serve` mounts) are in the
 * served OpenAPI document, marked `x-orchestr8-router: triggers`, and the document stays valid.
 * That the router serves exactly these is checked in packages/triggers/test/openapi-routes.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers.js';

let t: TestServer;
let doc: { paths: Record<string, Record<string, Record<string, unknown>>> };
beforeAll(async () => {
  t = await startServer();
  doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as typeof doc;
});
afterAll(() => t.stop());

describe('OpenAPI: trigger routes', () => {
  it('lists webhooks, events and the /triggers operations, each marked as served by the triggers router', () => {
    const marked = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, o]) => o['x-orchestr8-router'] === 'triggers')
          .map(([m]) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    expect(marked).toEqual([
      'GET /triggers',
      'POST /hooks/{workflow}/{name}',
      'POST /triggers/{workflow}/{name}/backfill',
      'POST /triggers/{workflow}/{name}/pause',
      'POST /triggers/{workflow}/{name}/resume',
      'POST /triggers/{workflow}/{name}/run',
    ]);
  });

  it('documents the webhook as public (signature or API key), with 401 for a bad signature and 200 for a replay', () => {
    const hook = doc.paths['/hooks/{workflow}/{name}']!.post!;
    expect(hook.security).toContainEqual({});
    expect(Object.keys(hook.responses as object)).toEqual(
      expect.arrayContaining(['200', '202', '401', '503']),
    );
  });

  it('keeps the server-sent events stream on GET /events next to the trigger side on POST', () => {
    expect(doc.paths['/events']!.get!.operationId).toBe('allEvents');
    expect(doc.paths['/events']!.post!.operationId).toBe('emitEvent');
  });
});
