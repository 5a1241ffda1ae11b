import { builtinAgents, createAgentRegistry, type MutableAgentRegistry } from '@orchestr8/agent-base';
import { createRemoteAgent, standardAgents } from '@orchestr8/agents';
import type { Agent, AgentRegistry } from '@orchestr8/core';
import { allowBundledImports, loadProjectConfig, type ProjectConfig } from './config.js';
import { loadAgentModule } from './load-agents.js';

/**
 * The agents of the project config's modules, then those of every `--agents` module (each
 * replacing an agent of the same id and version loaded before it).
 */
export async function loadUserAgents(modules: readonly string[], config?: ProjectConfig): Promise<Agent[]> {
  const project = config ?? (await loadProjectConfig());
  const specs = [...project.agents, ...modules];
  if (specs.length > 0) allowBundledImports();
  const agents: Agent[] = [];
  for (const m of specs) agents.push(...(await loadAgentModule(m)));
  return agents;
}

/** The built-in and standard agents, plus the project config's and every `--agents` module's. */
export async function buildRegistry(
  modules: readonly string[],
  config?: ProjectConfig,
): Promise<MutableAgentRegistry> {
  const registry = createAgentRegistry([...builtinAgents, ...standardAgents]);
  for (const agent of await loadUserAgents(modules, config)) registry.register(agent, { replace: true });
  return registry;
}

/** The agents `validate` checks a document against (see loadWorkflowFile's options). */
export interface KnownAgents {
  knownAgents: string[];
  /** Set when only these scopes are known for sure (no project config, no `--agents`). */
  knownAgentScopes?: string[];
}

/**
 * The agent ids a document may use, for `validate`: the built-in and standard agents, plus
 * the project config's and `--agents` modules'. Without a config or modules, other agents
 * may exist that this process cannot see, so only the `@orchestr8` scope is complete.
 * With the registry they come from, whose versions `validate` checks steps' ranges against.
 */
export async function knownAgentIds(
  modules: readonly string[] = [],
): Promise<{ known: KnownAgents; registry: AgentRegistry }> {
  const config = await loadProjectConfig();
  const registry = await buildRegistry(modules, config);
  const knownAgents = registry.list().map((a) => a.id);
  if (config.file === undefined && modules.length === 0)
    return { known: { knownAgents, knownAgentScopes: ['@orchestr8'] }, registry };
  return { known: { knownAgents }, registry };
}

/** The engine's `remoteAgent`: steps with `agent.url` call an `orchestr8 agent serve` service. */
export function remoteAgentFor(url: string, agentId: string): Agent {
  return createRemoteAgent(url, agentId);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
