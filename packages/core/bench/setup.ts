/** What every engine benchmark sets up: the no-op agent and its registry, and compiling a document. */

import type { Agent, AgentRegistry } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { NOOP } from './workloads.js';

const noop: Agent = { id: NOOP, execute: (input: unknown) => input };

/** A registry holding only the no-op agent the W1-W4 documents use. */
export const registry: AgentRegistry = {
  get: (id) => (id === NOOP ? noop : undefined),
  has: (id) => id === NOOP,
  list: () => [noop],
};

/** The baselines' agent: hands its input back, resolved. */
export const plainAgent = (v: unknown) => Promise.resolve(v);

/** Validates and compiles a bench document; a bench document that is invalid is a bug in the bench. */
export function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject(doc);
  if (!r.ok || !r.workflow)
    throw new Error(`bench workflow invalid: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
  return r.workflow;
}
