import type { Agent, AgentContext, AgentRegistry } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';

/** Compiles a document given as an object; fails the test with the diagnostics when invalid. */
export function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'test', name: 'test' }, ...doc });
  if (!r.ok || !r.workflow)
    throw new Error(`invalid test workflow: ${JSON.stringify(r.diagnostics, null, 2)}`);
  return r.workflow;
}

export function agent(id: string, execute: (input: any, ctx: AgentContext) => unknown): Agent {
  return { id, execute: execute as Agent['execute'] };
}

export function registryOf(...agents: Agent[]): AgentRegistry {
  const map = new Map(agents.map((a) => [a.id, a]));
  return { get: (id) => map.get(id), has: (id) => map.has(id), list: () => [...map.values()] };
}

/** A promise with its resolve exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * The value of one sample in a Prometheus text exposition: the line for `name` whose labels
 * include all of `labels`. Undefined when there is none.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(l[1]!, l[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}
