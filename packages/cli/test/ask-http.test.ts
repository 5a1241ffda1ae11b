/**
 * `POST /ask` (`orchestr8 serve --ask`): the planner behind the server's API keys, with the
 * LLM planner `serve` wires in (the llm agent's provider, mocked at the HTTP edge with msw).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import { type Capabilities, createEngine, resolveCapabilities } from '@orchestr8/core';
import { createAskHandler } from '@orchestr8/mcp';
import { createServer, type Listener } from '@orchestr8/server';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmPlanner } from '../src/commands/ask.js';
import { until, useTempRoot } from './fixtures/harness.js';

const ANTHROPIC = 'https://api.anthropic.com/v1/messages';
const KEY = 'ask-key';
const msw = setupServer();
const tempRoot = useTempRoot('ask-http');

const COUNT_PY = {
  version: '1.0.0',
  metadata: { id: 'count-python-files' },
  steps: [
    {
      id: 'list',
      agent: { id: '@orchestr8/shell', config: { allow: ['find'] } },
      input: { command: ['find', '.', '-name', '*.py', '-type', 'f'] },
    },
    {
      id: 'count',
      agent: '@orchestr8/transform',
      dependencies: ['list'],
      input: {
        expression: "$count($filter($split(stdout, '\\n'), function($l) { $l != '' }))",
        data: '${steps.list.output}',
      },
    },
  ],
  outputs: { count: '${steps.count.output.result}' },
};

function answer(plan: unknown, status = 200) {
  msw.use(
    http.post(ANTHROPIC, () =>
      status === 200
        ? HttpResponse.json({
            id: 'msg',
            type: 'message',
            role: 'assistant',
            model: 'claude-test',
            content: [{ type: 'text', text: JSON.stringify(plan) }],
            stop_reason: 'end_turn',
            usage: { input_tokens: 1, output_tokens: 1 },
          })
        : HttpResponse.json(
            { type: 'error', error: { type: 'authentication_error', message: 'bad key' } },
            { status },
          ),
    ),
  );
}

async function serveAsk(capabilities: Capabilities): Promise<Listener> {
  const registry = createAgentRegistry([...builtinAgents, ...standardAgents]);
  const engine = createEngine({ registry, capabilities });
  return createServer({
    engine,
    registry,
    apiKeys: [KEY],
    routers: [
      {
        handler: createAskHandler({
          engine,
          agents: () => registry.list(),
          complete: llmPlanner(resolveCapabilities(capabilities), { provider: 'anthropic' }),
        }),
      },
    ],
  }).listen(0, '127.0.0.1');
}

const post = (url: string, body: unknown, key: string | null = KEY) =>
  fetch(`${url}/ask`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });

beforeAll(() => {
  msw.listen({ onUnhandledRequest: 'bypass' });
  process.env.ANTHROPIC_API_KEY = 'test-key';
});
afterAll(() => {
  msw.close();
  delete process.env.ANTHROPIC_API_KEY;
});

describe('POST /ask', () => {
  it('plans, and with run: true starts the plan; behind the API keys', async () => {
    const dir = tempRoot();
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'a.py'), '');
    writeFileSync(join(dir, 'src', 'b.py'), '');
    const listener = await serveAsk({ agents: { '@orchestr8/shell': { allow: ['find'], root: dir } } });
    try {
      answer(COUNT_PY);
      expect((await post(listener.url, { request: 'list python files and count them' }, null)).status).toBe(
        401,
      );
      const planned = await post(listener.url, { request: 'list python files and count them' });
      expect(planned.status).toBe(200);
      const body = (await planned.json()) as { plan: unknown; repairs: number; text: string };
      expect(body).toMatchObject({ plan: COUNT_PY, repairs: 0 });
      expect(body.text).toContain('graph:\n  list -> count');

      const run = await post(listener.url, { request: 'list python files and count them', run: true });
      expect(run.status).toBe(202);
      const { execution } = (await run.json()) as { execution: { executionId: string; location: string } };
      const result = await until('the execution to finish', async () => {
        const r = (await (
          await fetch(`${listener.url}${execution.location}`, { headers: { authorization: `Bearer ${KEY}` } })
        ).json()) as { status: string; outputs?: unknown };
        return ['completed', 'failed'].includes(r.status) ? r : undefined;
      });
      expect(result).toMatchObject({ status: 'completed', outputs: { count: 2 } });
    } finally {
      await listener.close({ graceMs: 0 });
    }
  });

  it('a plan needing a program the operator did not grant is 403 CAPABILITY_DENIED, and nothing starts', async () => {
    const listener = await serveAsk({});
    try {
      answer(COUNT_PY);
      const r = await post(listener.url, { request: 'list python files and count them', run: true });
      expect(r.status).toBe(403);
      const p = (await r.json()) as { code: string; problems: { stepId: string }[] };
      expect(p.code).toBe('CAPABILITY_DENIED');
      expect(p.problems[0]!.stepId).toBe('list');
    } finally {
      await listener.close({ graceMs: 0 });
    }
  });

  it('a bad body or no valid plan is 422 naming where; a failing LLM is 502 PLANNER_FAILED with its code in cause', async () => {
    const listener = await serveAsk({});
    try {
      const bad = await post(listener.url, { request: '' });
      expect(bad.status).toBe(422);
      expect(((await bad.json()) as { errors: { pointer: string }[] }).errors[0]!.pointer).toBe('/request');
      answer({ ...COUNT_PY, steps: [{ id: 'x', agent: '@orchestr8/nope' }] });
      const invalid = await post(listener.url, { request: 'anything' });
      expect(invalid.status).toBe(422);
      const problem = (await invalid.json()) as { detail: string; errors: { pointer: string }[] };
      expect(problem.detail).toMatch(/^no valid workflow after 2 repairs/);
      expect(problem.errors[0]!.pointer).toBe('/steps/0/agent');
      answer(null, 401);
      const down = await post(listener.url, { request: 'anything' });
      expect(down.status).toBe(502);
      const failed = (await down.json()) as { detail: string; code: string; cause: { code: string } };
      expect(failed.detail).toMatch(/^planning failed: /);
      expect(failed.code).toBe('PLANNER_FAILED');
      expect(typeof failed.cause.code).toBe('string');
    } finally {
      await listener.close({ graceMs: 0 });
    }
  });
});
