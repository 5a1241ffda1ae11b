import { createFakeClock, type FakeClock } from '@orchestr8/common';
import { type Agent, type AgentRegistry, createEngine, type Engine } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { createScheduler, type Scheduler, type SchedulerOptions } from '../src/index.js';

export function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'wf' }, ...doc });
  if (!r.workflow) throw new Error(`invalid test workflow: ${JSON.stringify(r.diagnostics, null, 2)}`);
  return r.workflow;
}

export interface Gate {
  /** Inputs of every call, in order. */
  calls: unknown[];
  /** Calls not yet released. */
  open: number;
  /** Most ever open at once, per `key` input field. */
  maxOpenByKey: Map<string, number>;
  release(): void;
  releaseAll(): void;
}

/** An agent "test/gate" whose calls end only when the test releases them (or at once with `auto`). */
export function gateAgent(auto = false): { agent: Agent; gate: Gate } {
  const waiting: (() => void)[] = [];
  const openByKey = new Map<string, number>();
  const gate: Gate = {
    calls: [],
    open: 0,
    maxOpenByKey: new Map(),
    release: () => waiting.shift()?.(),
    releaseAll: () => {
      while (waiting.length) waiting.shift()!();
    },
  };
  const agent: Agent = {
    id: '@test/gate',
    execute: (async (input: { key?: string }) => {
      gate.calls.push(input);
      if (auto) return { ok: true };
      const key = String(input?.key ?? '');
      gate.open++;
      const n = (openByKey.get(key) ?? 0) + 1;
      openByKey.set(key, n);
      gate.maxOpenByKey.set(key, Math.max(gate.maxOpenByKey.get(key) ?? 0, n));
      await new Promise<void>((r) => waiting.push(r));
      openByKey.set(key, (openByKey.get(key) ?? 1) - 1);
      gate.open--;
      return { ok: true };
    }) as Agent['execute'],
  };
  return { agent, gate };
}

export function registryOf(...agents: Agent[]): AgentRegistry {
  const map = new Map(agents.map((a) => [a.id, a]));
  return { get: (id) => map.get(id), has: (id) => map.has(id), list: () => [...map.values()] };
}

export function setup(
  start: number,
  opts: { auto?: boolean; capabilities?: { env?: string[] } } & Partial<SchedulerOptions> = {},
): { clock: FakeClock; engine: Engine; scheduler: Scheduler; gate: Gate; warnings: string[] } {
  const warnings: string[] = [];
  const clock = createFakeClock(start);
  const { agent, gate } = gateAgent(opts.auto ?? false);
  const engine = createEngine({
    registry: registryOf(agent),
    clock,
    random: () => 0.5,
    ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
  });
  const logger = {
    info: () => {},
    warn: (d: Record<string, unknown>, m: string) => warnings.push(`${m} ${JSON.stringify(d)}`),
  };
  const scheduler = createScheduler({ engine, clock, workflows: async () => [], logger, ...opts });
  return { clock, engine, scheduler, gate, warnings };
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

export const step = (input: unknown = { key: '${inputs.key ?? ""}' }) => ({
  id: 'a',
  agent: '@test/gate',
  input,
});
