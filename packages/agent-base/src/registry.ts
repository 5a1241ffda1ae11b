import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { Agent, AgentRegistry } from '@orchestr8/core';

export interface MutableAgentRegistry extends AgentRegistry {
  register(agent: Agent, options?: { replace?: boolean }): this;
}

/** Agents by id; several versions of one id may be registered, the newest registered wins by default. */
export function createAgentRegistry(agents: Iterable<Agent> = []): MutableAgentRegistry {
  const byId = new Map<string, Agent[]>();
  const registry: MutableAgentRegistry = {
    register(agent, options) {
      const list = byId.get(agent.id);
      if (!list) {
        byId.set(agent.id, [agent]);
        return registry;
      }
      const same = list.findIndex((a) => a.version === agent.version);
      if (same >= 0) {
        if (!options?.replace) {
          throw new Orchestr8Error(
            ErrorCode.CONFLICT,
            `agent "${agent.id}"${agent.version ? `@${agent.version}` : ''} is already registered`,
          );
        }
        list[same] = agent;
      } else list.push(agent);
      return registry;
    },
    get(id, version) {
      const list = byId.get(id);
      if (!list) return undefined;
      if (version === undefined) return list[list.length - 1];
      return list.find((a) => a.version === version);
    },
    has: (id) => byId.has(id),
    list: () => [...byId.values()].flat(),
  };
  for (const a of agents) registry.register(a);
  return registry;
}
