// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { ValidationError } from '@orchestr8/common';
import { checkAgents } from './agent-check.js';
import { compileSteps } from './compile-steps.js';
import { type CompiledStep, type CompiledWorkflow, hashDocument } from './compiled.js';
import { DEFAULTS } from './defaults.js';
import { indexStepIds, resolveDependencies } from './dependencies.js';
import type { Diagnostic, PendingDiagnostic } from './diagnostics.js';
import type { WorkflowDocument } from './document-schema.js';
import { parseDuration } from './duration.js';
import { checkFallbacks } from './fallbacks.js';
import { createReferenceCheck, readContext } from './reference-check.js';
import { validateAgainstSchema } from './schema-validator.js';
import type { CompiledValue } from './template.js';
import { analyzeExecuteFlow, analyzeTriggers } from './triggers.js';

/**
 * Semantic checks of a schema-valid document (ids, graph, templates, conditions,
 * fallbacks), done in one pass that also produces the compiled workflow, so nothing is
 * parsed twice. Every problem is collected; nothing is thrown. The passes run in this order,
 * which is the order of the diagnostics: step ids (dependencies.ts), agents (agent-check.ts),
 * dependencies and the graph (dependencies.ts), fallbacks (fallbacks.ts), the context
 * (reference-check.ts), each step (compile-steps.ts), the outputs, then the triggers and
 * flow control (triggers.ts).
 */

export interface AnalyzeOptions {
  knownAgents?: readonly string[];
  /**
   * The scopes (`@orchestr8`) for which `knownAgents` is complete. Ids in them, in a scope
   * that looks like one of them (`@orchestra8`), or bare names of their agents (`echo`)
   * must be known; others are not checked, but listed in `uncheckedAgents`. Without it,
   * every id is checked.
   */
  knownAgentScopes?: readonly string[];
}

export interface Analysis {
  diagnostics: PendingDiagnostic[];
  workflow?: CompiledWorkflow;
  /** Agent ids outside `knownAgentScopes`, which were not checked (sorted). */
  uncheckedAgents?: string[];
}

export function analyzeWorkflow(doc: WorkflowDocument, options: AnalyzeOptions = {}): Analysis {
  const diagnostics: PendingDiagnostic[] = [];
  const seen = new Set<string>();
  const report = (d: PendingDiagnostic) => {
    const key = `${d.code}\0${d.pointer}\0${d.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    diagnostics.push(d);
  };

  const steps = doc.steps;

  const ids = indexStepIds(steps, report);
  const { indexById, unknownStepHint } = ids;
  const unchecked = checkAgents(steps, options.knownAgents, options.knownAgentScopes, report);
  const dependencies = resolveDependencies(steps, ids, report);
  const { graph } = dependencies;

  const fallbackOwner = checkFallbacks(steps, indexById, graph, report, unknownStepHint);

  const context = readContext(doc, report);
  const { variables, allow, secretRefs } = context;
  const refs = createReferenceCheck(steps, indexById, graph, unknownStepHint, context, report);
  const compiled = compileSteps(doc, dependencies, fallbackOwner, context, refs, report);

  // Workflow outputs: any step may be read.
  let outputs: CompiledValue | undefined;
  if (doc.outputs !== undefined)
    outputs = refs.compileAt(doc.outputs, '/outputs', { itemAllowed: false, what: 'outputs' });

  // Triggers: schedules, webhooks and events (triggers.ts).
  const triggers = doc.triggers === undefined ? [] : analyzeTriggers(doc, report, secretRefs);
  const executeFlow = analyzeExecuteFlow(doc, report);

  const uncheckedAgents = unchecked.size > 0 ? { uncheckedAgents: [...unchecked].sort() } : {};
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, ...uncheckedAgents };

  const stepById = new Map<string, CompiledStep>();
  for (const c of compiled) stepById.set(c.id, c);
  const timeout = doc.policies?.timeout?.global;
  const workflow: CompiledWorkflow = {
    document: doc,
    id: doc.metadata.id,
    version: doc.version,
    hash: '',
    steps: compiled,
    stepById,
    topologicalOrder: graph.order.map((i) => steps[i]!.id),
    variables,
    environmentAllowlist: [...allow],
    secretRefs: Object.freeze(secretRefs),
    maxConcurrentSteps: doc.policies?.concurrency?.maxConcurrentSteps ?? DEFAULTS.maxConcurrentSteps,
    gracePeriodMs:
      doc.policies?.cancellation?.gracePeriodMs === undefined
        ? DEFAULTS.gracePeriodMs
        : parseDuration(doc.policies.cancellation.gracePeriodMs),
    triggers,
  };
  defineLazyHash(workflow, doc);
  if (outputs) workflow.outputs = outputs;
  if (executeFlow) workflow.executeFlow = executeFlow;
  if (timeout !== undefined) workflow.globalTimeoutMs = parseDuration(timeout);
  return { diagnostics, workflow, ...uncheckedAgents };
}

/**
 * `hash`, computed on first read (validation alone never needs it), then kept. Defined out
 * here: a getter made inside analyzeWorkflow would keep that function's whole scope (the
 * id index, the dependency lists: ~300 bytes per step of a 10,000-step fan) alive with the workflow.
 */
function defineLazyHash(workflow: CompiledWorkflow, doc: WorkflowDocument): void {
  let hash: string | undefined;
  Object.defineProperty(workflow, 'hash', {
    get: () => {
      hash ??= hashDocument(doc);
      return hash;
    },
    enumerable: true,
    configurable: true,
  });
}

/**
 * Compiles a document object (schema and semantic checks included). Throws a
 * ValidationError whose `details.diagnostics` lists every problem when it is not valid;
 * loadWorkflow and validateWorkflowObject return those diagnostics instead of throwing.
 */
export function compileWorkflow(document: WorkflowDocument): CompiledWorkflow {
  const schemaProblems = validateAgainstSchema(document);
  const r =
    schemaProblems.length > 0
      ? { diagnostics: schemaProblems, workflow: undefined }
      : analyzeWorkflow(document);
  if (!r.workflow) {
    const diagnostics: Diagnostic[] = r.diagnostics.map(({ atKey: _a, offset: _o, ...d }) => d);
    throw new ValidationError(
      `workflow is not valid: ${diagnostics.map((d) => `${d.code} ${d.message} (at ${d.pointer || '/'})`).join('; ')}`,
      { details: { diagnostics } },
    );
  }
  return r.workflow;
}
