/**
 * What the engine lets a workflow do and what it hides of it: the operator's grants for a
 * compiled workflow (worked out once per workflow object, see `engine.authorize`) and the
 * redactor of its secrets. Both are on the hot path of starting an execution.
 */
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { ResolvedCapabilities } from './capabilities.js';
import type { EngineOptions } from './engine-api.js';
import { grantWorkflow, type WorkflowGrants } from './grants.js';
import { createRedactor, noRedaction, type Redactor, secretValuesOf } from './redaction.js';

/** `grantsFor` and `redactorFor` of the engine made with these options. */
export function createAuthorization(
  options: EngineOptions,
  capabilities: ResolvedCapabilities,
  env: Readonly<Record<string, string | undefined>>,
) {
  const grantsCache = new WeakMap<CompiledWorkflow, WorkflowGrants>();
  const grantsFor = (workflow: CompiledWorkflow): WorkflowGrants => {
    let g = grantsCache.get(workflow);
    if (g === undefined) {
      g = grantWorkflow(workflow, options.registry, capabilities, env);
      grantsCache.set(workflow, g);
    }
    return g;
  };

  const NO_SECRETS = { redactor: noRedaction, values: [] as string[] };
  function redactorFor(workflow: CompiledWorkflow): { redactor: Redactor; values: string[] } {
    // The common case, on the hot path: nothing to redact, nothing to allocate.
    if (options.secretEnv === undefined && isEmpty(workflow.secretRefs)) return NO_SECRETS;
    // context.secretRefs (name -> environment variable) and secretEnv; the same rule as the
    // views of stored executions (redactorForDefinition), so what is hidden here is hidden there.
    const values = secretValuesOf(workflow.secretRefs, env, options.secretEnv);
    if (values.length === 0) return NO_SECRETS;
    return { redactor: createRedactor(values), values };
  }

  return { grantsFor, redactorFor };
}

function isEmpty(o: object | undefined): boolean {
  if (o === undefined) return true;
  for (const _ in o) return false;
  return true;
}
