/**
 * @module @orchestr8/agent-base
 * Write agents with `defineAgent`, collect them in a registry, and use the built-in ones.
 *
 * @example
 * import { defineAgent } from '@orchestr8/agent-base';
 * export const upper = defineAgent({
 *   id: '@acme/upper',
 *   execute: (input: { text: string }) => ({ text: input.text.toUpperCase() }),
 * });
 */

export type { Agent, AgentContext, AgentRegistry } from '@orchestr8/core';
export { builtinAgents, echoAgent, failAgent, helloWorldAgent, sleepAgent } from './builtin.js';
export { type AgentDefinition, defineAgent, isAgent } from './define-agent.js';
export { createAgentRegistry, type MutableAgentRegistry } from './registry.js';
