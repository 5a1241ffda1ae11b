import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { Agent, AgentRegistry } from '@orchestr8/core';
import semver from 'semver';

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
    /**
     * `version` is a semver range (as in documents: "^1.2.0", "1.x", "1.4.2"): the highest
     * registered version that satisfies it. Without one, the last registered version.
     */
    get(id, version) {
      const list = byId.get(id);
      if (!list) return undefined;
      if (version === undefined) return list[list.length - 1];
      let best: Agent | undefined;
      for (const a of list) {
        if (a.version === version) return a;
        if (a.version === undefined || !semver.satisfies(a.version, version, { includePrerelease: false }))
          continue;
        if (best === undefined || semver.gt(a.version, best.version!)) best = a;
      }
      return best;
    },
    has: (id) => byId.has(id),
    list: () => [...byId.values()].flat(),
  };
  for (const a of agents) registry.register(a);
  return registry;
}
