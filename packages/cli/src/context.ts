import { builtinAgents, createAgentRegistry, type MutableAgentRegistry } from '@orchestr8/agent-base';
import { standardAgents } from '@orchestr8/agents';
import { loadAgentModule } from './load-agents.js';

/** The built-in agents plus those of every `--agents` module (later modules may not shadow earlier ids). */
export async function buildRegistry(modules: readonly string[]): Promise<MutableAgentRegistry> {
  const registry = createAgentRegistry([...builtinAgents, ...standardAgents]);
  for (const m of modules) {
    for (const agent of await loadAgentModule(m)) registry.register(agent, { replace: true });
  }
  return registry;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
