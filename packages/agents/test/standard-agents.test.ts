import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
import { createEngine } from '@orchestr8/core';
import { STANDARD_AGENT_IDS } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { standardAgents } from '../src/index.js';

describe('standardAgents', () => {
  it('holds the five standard agents, each with a version and input and output schemas', () => {
    expect(standardAgents.map((a) => a.id)).toEqual([
      '@orchestr8/http',
      '@orchestr8/shell',
      '@orchestr8/transform',
      '@orchestr8/llm',
      '@orchestr8/workflow',
    ]);
    for (const agent of standardAgents) {
      expect(agent.version, agent.id).toBe('1.0.0');
      expect(agent.inputSchema, agent.id).toBeTypeOf('object');
      expect(agent.outputSchema, agent.id).toBeTypeOf('object');
      expect(agent.description, agent.id).toBeTruthy();
    }
  });

  it('registers in one registry without clashing', () => {
    const registry = createAgentRegistry(standardAgents);
    expect(registry.has('@orchestr8/llm')).toBe(true);
  });

  it('are the agents the schema names when a document uses one an embedding program did not register', () => {
    expect([...STANDARD_AGENT_IDS]).toEqual(standardAgents.map((a) => a.id));
    const engine = createEngine({ registry: createAgentRegistry(builtinAgents) });
    let thrown: unknown;
    try {
      engine.compile({
        version: '1.0.0',
        metadata: { id: 'fetch' },
        steps: [{ id: 'a', agent: '@orchestr8/http', input: { url: 'https://example.com' } }],
      });
    } catch (e) {
      thrown = e;
    }
    const [d] = (thrown as { details: { code: string; hint?: string }[] }).details;
    expect(d?.code).toBe('E_UNKNOWN_AGENT');
    expect(d?.hint).toContain('one of the standard agents of @orchestr8/agents');
    expect(d?.hint).toContain('standardAgents');
    // No guess at a registered agent that merely shares the scope.
    expect(d?.hint).not.toContain('did you mean');
    void engine.close();
  });
});
