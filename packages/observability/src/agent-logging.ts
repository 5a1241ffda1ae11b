import type { Agent, AgentContext, AgentLogger, AgentRegistry } from '@orchestr8/core';
import type { Logger } from 'pino';
import { agentLogger } from './logging.js';

/**
 * The registry's agents, each seeing a `ctx.logger` bound to its call: lines carry
 * `executionId`, `stepId`, `attempt` and `agentId`. The child logger is made only when an
 * agent reads `ctx.logger`, so agents that never log pay one small proxy per call.
 */
export function withAgentLogger<R extends AgentRegistry>(registry: R, logger: Logger): AgentRegistry {
  const wrapped = new WeakMap<Agent, Agent>();
  const wrap = (agent: Agent | undefined): Agent | undefined => {
    if (agent === undefined) return undefined;
    let w = wrapped.get(agent);
    if (w === undefined) {
      w = bindAgentLogger(agent, logger);
      wrapped.set(agent, w);
    }
    return w;
  };
  return {
    get: (id, version) => wrap(registry.get(id, version)),
    has: (id) => registry.has(id),
    list: () => registry.list(),
  };
}

/** One agent whose `ctx.logger` is bound to each call (see `withAgentLogger`). */
export function bindAgentLogger(agent: Agent, logger: Logger): Agent {
  // Everything else is the agent's own (schemas, secret fields), read through the prototype;
  // methods are called on the agent itself, so class agents with private fields work too.
  const own: PropertyDescriptorMap = {
    execute: {
      value: (input: unknown, ctx: AgentContext) => agent.execute(input, boundContext(ctx, agent.id, logger)),
      enumerable: true,
    },
  };
  if (typeof agent.target === 'function') {
    own.target = {
      value: (input: unknown, config: Readonly<Record<string, unknown>>) => agent.target!(input, config),
      enumerable: true,
    };
  }
  return Object.create(agent, own) as Agent;
}

function boundContext(ctx: AgentContext, agentId: string, logger: Logger): AgentContext {
  let bound: AgentLogger | undefined;
  return new Proxy(ctx, {
    get(target, prop) {
      if (prop === 'logger') {
        bound ??= agentLogger(
          logger.child({
            executionId: target.executionId,
            stepId: target.stepId,
            attempt: target.attempt,
            agentId,
            ...(target.index !== undefined ? { index: target.index } : {}),
          }),
        );
        return bound;
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
