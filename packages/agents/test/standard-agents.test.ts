import { createAgentRegistry } from '@orchestr8/agent-base';
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
});
