/**
 * Dual deployment of an llm agent: the same `@orchestr8/llm` object as a workflow step
 * in-process, behind the agent service of `orchestr8 agent serve` (reached by a step's
 * `agent.url`), and as an MCP tool called by the SDK's client. The provider is mocked at the HTTP edge with msw, which
 * sees every rendered prompt: identical in the three modes, and so are the outputs.
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createRemoteAgent, llmAgent, standardAgents } from '@orchestr8/agents';
import { createEngine } from '@orchestr8/core';
import { createMcpService } from '@orchestr8/mcp';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAgentService } from '../src/commands/agent-serve.js';

const ANTHROPIC = 'https://api.anthropic.com/v1/messages';
const prompts: unknown[] = [];
const msw = setupServer(
  http.post(ANTHROPIC, async ({ request }) => {
    const body = (await request.json()) as {
      system: string;
      messages: unknown[];
      model: string;
      max_tokens: number;
    };
    prompts.push({
      system: body.system,
      messages: body.messages,
      model: body.model,
      max_tokens: body.max_tokens,
    });
    return HttpResponse.json({
      id: 'msg',
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [{ type: 'text', text: 'Three short lines.' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 12, output_tokens: 4 },
    });
  }),
);

beforeAll(() => {
  msw.listen({ onUnhandledRequest: 'bypass' });
  process.env.ANTHROPIC_API_KEY = 'test-key';
});
afterAll(() => {
  msw.close();
  delete process.env.ANTHROPIC_API_KEY;
});

const INPUT = {
  provider: 'anthropic',
  role: 'a release-notes editor',
  goals: ['Summarise the changes for users'],
  constraints: ['At most three lines'],
  instructions: 'Write the summary.',
  input: { commits: ['fix: crash on start', 'feat: dark mode'] },
};

it('an llm agent renders the same prompt and gives the same output in-process, as a microservice and as an MCP tool', async () => {
  const registry = createAgentRegistry([...builtinAgents, ...standardAgents]);
  const engine = createEngine({
    registry,
    remoteAgent: (url, id) => createRemoteAgent(url, id),
    capabilities: { egress: { allow: ['127.0.0.1'] } },
  });
  const step = (agent: unknown) => ({
    version: '1.0.0',
    metadata: { id: 'summarise' },
    steps: [{ id: 'summary', agent, input: INPUT }],
    outputs: { text: '${steps.summary.output.text}', usage: '${steps.summary.output.usage}' },
  });

  // 1. In-process: a workflow step.
  const inProcess = await engine.execute(engine.compile(step('@orchestr8/llm')));
  expect(inProcess.status).toBe('completed');

  // 2. HTTP microservice: the agent service of `orchestr8 agent serve`, called by a step's agent.url.
  const service = createAgentService([llmAgent]);
  const url = await service.listen(0, '127.0.0.1');
  let remote: Awaited<ReturnType<typeof engine.execute>>;
  try {
    remote = await engine.execute(engine.compile(step({ id: '@orchestr8/llm', url })));
  } finally {
    await service.close(0);
  }
  expect(remote.status, JSON.stringify(remote.error)).toBe('completed');

  // 3. MCP tool: agent_orchestr8_llm, through the SDK's client and the MCP server (linked in
  // memory: msw, which intercepts this process's fetch, would stand between an HTTP client and it).
  const mcpServer = createMcpService({ engine, agents: [llmAgent] }).createServer();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await mcpServer.connect(serverSide);
  const client = new Client({ name: 'assistant', version: '1.0.0' });
  let viaMcp: { text: string; usage: unknown };
  try {
    await client.connect(clientSide);
    const r = (await client.callTool({ name: 'agent_orchestr8_llm', arguments: INPUT })) as CallToolResult;
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    viaMcp = (r.structuredContent as { output: { text: string; usage: unknown } }).output;
  } finally {
    await client.close();
    await mcpServer.close();
    await engine.close();
  }

  expect(prompts).toHaveLength(3);
  expect(prompts[1]).toEqual(prompts[0]);
  expect(prompts[2]).toEqual(prompts[0]);
  expect((prompts[0] as { system: string }).system).toContain('You are a release-notes editor.');
  expect(remote.outputs).toEqual(inProcess.outputs);
  expect({ text: viaMcp.text, usage: viaMcp.usage }).toEqual(inProcess.outputs);
});
