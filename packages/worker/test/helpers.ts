import type { Agent, AgentContext, AgentRegistry } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';

/** Compiles a document given as an object; fails the test with the diagnostics when invalid. */
export function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'test', name: 'test' }, ...doc });
  if (!r.ok || !r.workflow)
    throw new Error(`invalid test workflow: ${JSON.stringify(r.diagnostics, null, 2)}`);
  return r.workflow;
}

export function registryOf(...agents: Agent[]): AgentRegistry {
  const map = new Map(agents.map((a) => [a.id, a]));
  return { get: (id) => map.get(id), has: (id) => map.has(id), list: () => [...map.values()] };
}

export function agent(id: string, execute: (input: any, ctx: AgentContext) => unknown): Agent {
  return { id, execute: execute as Agent['execute'] };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(20);
  }
}

/** W3's shape: a -> b1..b8 -> z (10 steps), each reading its upstream output. */
export function diamond(agentId: string, id = 'diamond'): Record<string, unknown> {
  const mids = [];
  for (let i = 1; i <= 8; i++)
    mids.push({ id: `b${i}`, agent: agentId, input: { v: '${steps.a.output.v}', i }, dependencies: ['a'] });
  return {
    version: '1.0.0',
    metadata: { id, name: id },
    steps: [
      { id: 'a', agent: agentId, input: { v: '${inputs.n ?? 1}' } },
      ...mids,
      { id: 'z', agent: agentId, input: { v: '${steps.b8.output.v}' }, dependencies: mids.map((m) => m.id) },
    ],
    outputs: { v: '${steps.z.output.v}' },
  };
}
