import type { Agent, AgentContext, ResolvedCapabilities } from '@orchestr8/core';

export interface AgentDefinition<I, O> {
  id: string;
  version?: string;
  description?: string;
  /** A zod schema (anything with `safeParse`) or a JSON Schema object. */
  inputSchema?: unknown;
  outputSchema?: unknown;
  secretFields?: readonly string[];
  target?(input: I, config: Readonly<Record<string, unknown>>): string | undefined;
  /** See `Agent.grant`: narrows a document's `agent.config` to the operator's grant. */
  grant?(
    requested: Readonly<Record<string, unknown>>,
    operator: Readonly<Record<string, unknown>>,
    capabilities: ResolvedCapabilities,
  ): Readonly<Record<string, unknown>>;
  execute(input: I, ctx: AgentContext): Promise<O> | O;
}

const AGENT_ID = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/i;

/**
 * Declares an agent. The same object runs in-process or behind `orchestr8 agent serve`;
 * nothing in it should branch on where it runs.
 */
export function defineAgent<I = any, O = any>(definition: AgentDefinition<I, O>): Agent<I, O> {
  if (!definition || typeof definition !== 'object') throw new TypeError('defineAgent expects an object');
  if (typeof definition.id !== 'string' || !AGENT_ID.test(definition.id)) {
    throw new TypeError(
      `defineAgent: invalid agent id ${JSON.stringify(definition.id)} (expected "@scope/name" or "name")`,
    );
  }
  if (typeof definition.execute !== 'function') {
    throw new TypeError(`defineAgent: agent "${definition.id}" has no execute(input, ctx) function`);
  }
  return Object.freeze({ ...definition });
}

export function isAgent(value: unknown): value is Agent {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Agent).id === 'string' &&
    typeof (value as Agent).execute === 'function'
  );
}
