/**
 * The streams router serves every operation the server's OpenAPI document marks
 * `x-orchestr8-router: streams` (the server cannot depend on this package, so the check
 * lives here).
 */
import { createAgentRegistry } from '@orchestr8/agent-base';
import { createServer, openApiDocument } from '@orchestr8/server';
import { describe, expect, it } from 'vitest';
import { createMemoryTransport, createStreamRouter, createStreamService } from '../src/index.js';
import { compiled, crew, testEngine } from './helpers.js';

const stream = compiled(`version: "1.0.0"
id: match
slice: 100ms
events:
  tick: {}
crews:
${crew('counter', ['tick'], '@test/count')}`);

describe('the streams router and the OpenAPI document', () => {
  it('serve the same operations', async () => {
    const paths = (openApiDocument() as { paths: Record<string, Record<string, Record<string, unknown>>> })
      .paths;
    const marked = Object.entries(paths)
      .flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => op['x-orchestr8-router'] === 'streams')
          .map(([m]) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    expect(marked).toEqual([
      'GET /streams',
      'GET /streams/{id}',
      'GET /streams/{id}/actions',
      'POST /streams/{id}/events',
    ]);
    const engine = testEngine();
    const service = createStreamService({
      engine,
      streams: [{ stream, transport: createMemoryTransport() }],
    });
    await service.start();
    const listener = await createServer({
      engine,
      registry: createAgentRegistry([]),
      routers: [createStreamRouter(service)],
    }).listen(0, '127.0.0.1');
    try {
      // Each documented operation is answered by the router (not the server's 404).
      const answered: Record<string, number> = {};
      for (const op of marked) {
        const [method, path] = op.split(' ') as [string, string];
        const abort = new AbortController();
        const res = await fetch(`${listener.url}${path.replace('{id}', 'match')}`, {
          method,
          signal: abort.signal,
          ...(method === 'POST'
            ? {
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ id: 'e1', ts: Date.now() + 60_000, kind: 'tick' }),
              }
            : {}),
        });
        answered[op] = res.status;
        abort.abort();
      }
      expect(answered).toEqual({
        'GET /streams': 200,
        'GET /streams/{id}': 200,
        'GET /streams/{id}/actions': 200,
        'POST /streams/{id}/events': 202,
      });
    } finally {
      await service.stop();
      await listener.close({ graceMs: 0 });
      await engine.close();
    }
  });
});
