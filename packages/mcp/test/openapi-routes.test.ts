/**
 * The server's OpenAPI document describes what this package serves (`x-orchestr8-router:
 * mcp`): POST /mcp and POST /ask, each answered by its handler when mounted on the server.
 */
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { createServer, openApiDocument } from '@orchestr8/server';
import { describe, expect, it } from 'vitest';
import { createAskHandler, createMcpHttpHandler, createMcpService } from '../src/index.js';

describe('the mcp handlers and the OpenAPI document', () => {
  it('document exactly the operations the handlers serve', async () => {
    const paths = (openApiDocument() as { paths: Record<string, Record<string, Record<string, unknown>>> })
      .paths;
    const marked = Object.entries(paths)
      .flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => op['x-orchestr8-router'] === 'mcp')
          .map(([m]) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    expect(marked).toEqual(['POST /ask', 'POST /mcp']);

    const registry = createAgentRegistry(builtinAgents);
    const engine = createEngine({ registry });
    const listener = await createServer({
      engine,
      registry,
      routers: [
        { handler: createMcpHttpHandler(createMcpService({ engine })) },
        {
          handler: createAskHandler({
            engine,
            agents: () => registry.list(),
            complete: async () => ({
              version: '1.0.0',
              metadata: { id: 'x' },
              steps: [{ id: 'a', agent: '@orchestr8/echo' }],
            }),
          }),
        },
      ],
    }).listen(0, '127.0.0.1');
    try {
      const mcp = await fetch(`${listener.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 't', version: '1' },
          },
        }),
      });
      expect(mcp.status).toBe(200);
      expect(
        ((await mcp.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name,
      ).toBe('orchestr8');
      const ask = await fetch(`${listener.url}/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request: 'echo' }),
      });
      expect(ask.status).toBe(200);
      expect(((await ask.json()) as { plan: { metadata: { id: string } } }).plan.metadata.id).toBe('x');
      // Other methods on these paths are refused; other paths are not theirs.
      expect((await fetch(`${listener.url}/mcp`)).status).toBe(405);
      const get = await fetch(`${listener.url}/ask?x=1`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
      expect(get.headers.get('content-type')).toBe('application/problem+json');
      // In the server's shape, like every other problem of the API.
      expect(await get.json()).toEqual({
        type: 'https://orchestr8.dev/problems/method-not-allowed',
        title: 'Method Not Allowed',
        status: 405,
        detail: 'GET is not allowed; use POST',
        code: 'METHOD_NOT_ALLOWED',
        instance: '/ask',
      });
      expect((await fetch(`${listener.url}/mcpx`, { method: 'POST' })).status).toBe(404);
    } finally {
      await listener.close({ graceMs: 0 });
      await engine.close();
    }
  });
});
