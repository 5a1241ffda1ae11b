/** `POST /ask` answers its own problems (a failing LLM) in the server's shape. */
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { createServer } from '@orchestr8/server';
import { expect, it } from 'vitest';
import { createAskHandler } from '../src/index.js';

it('answers 502 with a problem naming the error code when the LLM fails', async () => {
  const registry = createAgentRegistry(builtinAgents);
  const engine = createEngine({ registry });
  const listener = await createServer({
    engine,
    registry,
    routers: [
      {
        handler: createAskHandler({
          engine,
          agents: () => registry.list(),
          complete: async () => {
            throw new Error('llm: no provider');
          },
        }),
      },
    ],
  }).listen(0, '127.0.0.1');
  try {
    const res = await fetch(`${listener.url}/ask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request: 'echo hello' }),
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toEqual({
      type: 'https://orchestr8.dev/problems/planner-failed',
      title: 'Bad Gateway',
      status: 502,
      detail: 'planning failed: llm: no provider',
      code: 'PLANNER_FAILED',
      cause: { code: 'INTERNAL' },
      instance: '/ask',
    });
    // A body it could not read: the server's own answers, not VALIDATION.
    const post = (body: string) =>
      fetch(`${listener.url}/ask`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const notJson = await post('{"request": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ status: 400, code: 'INVALID_JSON' });
    const big = await post(JSON.stringify({ request: 'x'.repeat(70_000) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  } finally {
    await listener.close({ graceMs: 0 });
    await engine.close();
  }
});
