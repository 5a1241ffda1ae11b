import { AGENT_ID_PATTERN, type Agent, type AgentContext, type ResolvedCapabilities } from '@orchestr8/core';

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
  /** See `Agent.grantInput`: refuses literal input values the granted config does not cover. */
  grantInput?(
    input: unknown,
    config: Readonly<Record<string, unknown>>,
    capabilities: ResolvedCapabilities,
  ): void;
  execute(input: I, ctx: AgentContext): Promise<O> | O;
}

/**
 * Declares an agent. The same object runs in-process or behind `orchestr8 agent serve`;
 * nothing in it should branch on where it runs.
 */
export function defineAgent<I = any, O = any>(definition: AgentDefinition<I, O>): Agent<I, O> {
  if (!definition || typeof definition !== 'object') throw new TypeError('defineAgent expects an object');
  // The documents' rule, so an agent that can be defined can also be named in a document.
  if (typeof definition.id !== 'string' || !AGENT_ID_PATTERN.test(definition.id)) {
    throw new TypeError(
      `defineAgent: invalid agent id ${JSON.stringify(definition.id)} (expected "@scope/name" or "name": ` +
        'lowercase letters, digits, ".", "_" and "-", as workflow documents require)',
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
