// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { ValidationError } from '@orchestr8/common';
import {
  type CompiledStep,
  type CompiledWorkflow,
  hashDocument,
  type ResolvedStepPolicies,
  resolveStepPolicies,
  WAIT_AGENT_ID,
  workflowPolicyBase,
} from './compiled.js';
import { DEFAULTS } from './defaults.js';
import {
  type Diagnostic,
  DiagnosticCode,
  error,
  listNames,
  type PendingDiagnostic,
  toPointer,
} from './diagnostics.js';
import type { StepDocument, WorkflowDocument } from './document-schema.js';
import { parseDuration } from './duration.js';
import { type CompiledExpression, compileExpression, ExpressionError } from './expression.js';
import { checkFallbacks } from './fallbacks.js';
import { checkForEachSource } from './foreach-source.js';
import { buildGraph } from './graph.js';
import { FORBIDDEN_KEYS, formatPath, lookupPath, type PathSegment, parseCapturePath } from './path.js';
import { checkUserSchema, validateAgainstSchema } from './schema-validator.js';
import { closest } from './suggest.js';
import { type CompiledValue, compileValueWith, type TemplateProblem, type TemplateRef } from './template.js';
import { analyzeExecuteFlow, analyzeTriggers } from './triggers.js';
import { compileStepWait } from './waits.js';

/**
 * Semantic checks of a schema-valid document (ids, graph, templates, conditions,
 * fallbacks), done in one pass that also produces the compiled workflow, so nothing is
 * parsed twice. Every problem is collected; nothing is thrown.
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

/** Whether an agent id is (or looks like it was meant to be) in one of the scopes. */
function inScope(id: string, scopes: readonly string[], known: ReadonlySet<string>): boolean {
  const slash = id.indexOf('/');
  if (slash < 0) return scopes.some((sc) => known.has(`${sc}/${id}`));
  const scope = id.slice(0, slash);
  return scopes.includes(scope) || closest(scope, scopes) !== undefined;
}

/** What an absent `input` means: an empty object (shared, so frozen). */
const EMPTY_INPUT = Object.freeze({});
// Shared by every step without agent config, dependencies or dependents: a compiled workflow
// is read-only, and a 10,000-step fan would otherwise hold 10,000 empty objects and arrays.
const NO_CONFIG = Object.freeze({}) as Record<string, unknown>;
const NO_STEPS: readonly string[] = Object.freeze([]);
const NO_INDICES: readonly number[] = Object.freeze([]);

interface RefContext {
  /** The reading step, or undefined for workflow outputs. */
  step?: number;
  /** Whether ${item} / ${index} exist here. */
  itemAllowed: boolean;
  /** Where the value sits, e.g. 'input', for messages. */
  what: string;
}

function agentOf(step: StepDocument): {
  id: string;
  version?: string;
  config?: Record<string, unknown>;
  url?: string;
} {
  if (step.agent === undefined) return { id: WAIT_AGENT_ID };
  return typeof step.agent === 'string' ? { id: step.agent } : step.agent;
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
  const n = steps.length;
  const stepPtr = (i: number) => `/steps/${i}`;

  // Ids.
  const indexById = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = steps[i]!.id;
    if (FORBIDDEN_KEYS.has(id)) {
      report(
        error(DiagnosticCode.FORBIDDEN_PATH, `${stepPtr(i)}/id`, `"${id}" may not be used as a step id`),
      );
    }
    const first = indexById.get(id);
    if (first !== undefined) {
      report(
        error(
          DiagnosticCode.DUPLICATE_STEP_ID,
          `${stepPtr(i)}/id`,
          `duplicate step id "${id}" (first used at /steps/${first})`,
          {
            hint: 'step ids must be unique',
          },
        ),
      );
    } else indexById.set(id, i);
  }
  const unknownStepHint = (id: string) => {
    const guess = closest(id, indexById.keys());
    return guess ? `did you mean "${guess}"?` : `steps: ${listNames([...indexById.keys()])}`;
  };

  // Agents.
  const unchecked = new Set<string>();
  if (options.knownAgents) {
    const known = new Set(options.knownAgents);
    const scopes = options.knownAgentScopes;
    for (let i = 0; i < n; i++) {
      const step = steps[i]!;
      const agent = agentOf(step);
      // A remote agent (agent.url) is resolved by its service, not the local registry.
      if (step.agent === undefined || known.has(agent.id) || agent.url !== undefined) continue;
      const sure = scopes === undefined || inScope(agent.id, scopes, known);
      if (!sure) {
        unchecked.add(agent.id);
        continue;
      }
      const bare = agent.id.startsWith('@')
        ? undefined
        : scopes?.find((sc) => known.has(`${sc}/${agent.id}`));
      const guess = bare ? `${bare}/${agent.id}` : closest(agent.id, known);
      report(
        error(
          DiagnosticCode.UNKNOWN_AGENT,
          `${stepPtr(i)}/agent${typeof step.agent === 'string' ? '' : '/id'}`,
          `step "${step.id}" uses agent "${agent.id}", which is not registered`,
          {
            hint: `${guess ? `did you mean "${guess}"? ` : ''}known agents: ${listNames([...options.knownAgents].sort(), 20)}`,
          },
        ),
      );
    }
  }

  // Dependencies and the graph.
  const deps: (readonly number[])[] = new Array(n);
  const depIds: (readonly string[])[] = new Array(n);
  // Duplicates are dropped in linear time: known steps by a mark per step (the reader's
  // index), unknown ids by a set made only when there are some.
  const listedBy = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const list = steps[i]!.dependencies;
    if (list === undefined || list.length === 0) {
      deps[i] = NO_INDICES;
      depIds[i] = NO_STEPS;
      continue;
    }
    // Exact-size lists (an array grown by push keeps room for 16), trimmed at the end.
    const idx = new Array<number>(list.length);
    const ids = new Array<string>(list.length);
    let ni = 0;
    let nids = 0;
    let unknown: Set<string> | undefined;
    for (let k = 0; k < list.length; k++) {
      const id = list[k]!;
      const d = indexById.get(id);
      if (d !== undefined) {
        if (listedBy[d] === i) continue;
        listedBy[d] = i;
      } else {
        unknown ??= new Set();
        if (unknown.has(id)) continue;
        unknown.add(id);
      }
      ids[nids++] = id;
      if (d === undefined) {
        report(
          error(
            DiagnosticCode.UNKNOWN_STEP,
            `${stepPtr(i)}/dependencies/${k}`,
            `step "${steps[i]!.id}" depends on "${id}", which does not exist`,
            { hint: unknownStepHint(id) },
          ),
        );
      } else idx[ni++] = d;
    }
    idx.length = ni;
    ids.length = nids;
    deps[i] = idx;
    // As written when nothing was dropped: the document's own array.
    depIds[i] = nids === 0 ? NO_STEPS : nids === list.length ? list : ids;
  }
  const graph = buildGraph(deps);
  for (const cycle of graph.cycles) {
    const first = cycle[0]!;
    const next = cycle[1 % cycle.length]!;
    const names = [...cycle, first].map((i) => steps[i]!.id);
    const k = (steps[first]!.dependencies ?? []).indexOf(steps[next]!.id);
    report(
      error(
        DiagnosticCode.CYCLE,
        `${stepPtr(first)}/dependencies${k >= 0 ? `/${k}` : ''}`,
        `dependency cycle: ${names.join(' -> ')}`,
        {
          hint: 'each step depends on the next one; remove one of these dependencies',
        },
      ),
    );
  }

  const fallbackOwner = checkFallbacks(steps, indexById, graph, report, unknownStepHint);

  // Context.
  const variables = (doc.context?.variables ?? {}) as Record<string, unknown>;
  const allow = new Set(doc.context?.environment ?? []);
  const secretRefs: Record<string, string> = {};
  for (const [name, ref] of Object.entries(doc.context?.secretRefs ?? {})) secretRefs[name] = ref.env;
  const inputsSchema = doc.inputs;
  if (inputsSchema) {
    const problems = checkUserSchema(inputsSchema);
    if (problems.length)
      report(
        error(DiagnosticCode.SCHEMA, '/inputs', `inputs is not a valid JSON Schema: ${problems.join('; ')}`),
      );
  }
  const closedInputs =
    inputsSchema && inputsSchema.additionalProperties === false && typeof inputsSchema.properties === 'object'
      ? new Set(Object.keys(inputsSchema.properties as object))
      : undefined;

  const checkRef = (ref: TemplateRef, pointer: () => string, ctx: RefContext) => {
    // Message parts are built only when there is something to report (this runs per ref).
    const reader = () => (ctx.step === undefined ? 'outputs' : `step "${steps[ctx.step]!.id}"`);
    const shown = () =>
      `${ref.root}${ref.stepId === undefined ? '' : `.${ref.stepId}`}${formatPath(ref.path)}`;
    switch (ref.root) {
      case 'steps': {
        const x = indexById.get(ref.stepId!);
        if (x === undefined) {
          report(
            error(
              DiagnosticCode.UNKNOWN_STEP,
              pointer(),
              `${reader()} reads steps.${ref.stepId}, which does not exist`,
              {
                hint: unknownStepHint(ref.stepId!),
              },
            ),
          );
        } else if (ctx.step !== undefined) {
          if (x === ctx.step) {
            report(
              error(
                DiagnosticCode.NOT_UPSTREAM,
                pointer(),
                `${reader()} reads its own ${String(ref.path[0])} (${shown()})`,
                {
                  hint: 'a step can read only steps upstream of it',
                },
              ),
            );
          } else if (
            !graph.blocked.has(x) &&
            !graph.blocked.has(ctx.step) &&
            !graph.isUpstream(x, ctx.step)
          ) {
            report(
              error(
                DiagnosticCode.NOT_UPSTREAM,
                pointer(),
                `${reader()} reads steps.${ref.stepId}, which is not upstream of it`,
                {
                  hint: `add "${ref.stepId}" to dependencies`,
                },
              ),
            );
          }
        }
        return;
      }
      case 'env': {
        const name = String(ref.path[0]);
        if (!allow.has(name))
          report(
            error(
              DiagnosticCode.ENV_NOT_ALLOWED,
              pointer(),
              `${reader()} reads env.${name}, which is not in context.environment`,
              {
                hint: `add "${name}" to context.environment`,
              },
            ),
          );
        return;
      }
      case 'secrets': {
        const name = String(ref.path[0]);
        if (!Object.hasOwn(secretRefs, name))
          report(
            error(
              DiagnosticCode.UNKNOWN_SECRET,
              pointer(),
              `${reader()} reads secrets.${name}, which is not in context.secretRefs`,
              {
                hint: `add ${name}: { env: <VARIABLE> } to context.secretRefs`,
              },
            ),
          );
        return;
      }
      case 'variables':
        if (!ref.hasDefault && ref.path.length > 0 && lookupPath(variables, ref.path) === undefined)
          report(
            error(
              DiagnosticCode.UNKNOWN_VARIABLE,
              pointer(),
              `${reader()} reads ${shown()}, which is not defined`,
              {
                hint: Object.keys(variables).length
                  ? `variables: ${listNames(Object.keys(variables))}`
                  : 'define it under context.variables, or add a ?? default',
              },
            ),
          );
        return;
      case 'inputs': {
        const first = ref.path[0];
        if (closedInputs && typeof first === 'string' && !closedInputs.has(first))
          report(
            error(
              DiagnosticCode.UNKNOWN_INPUT,
              pointer(),
              `${reader()} reads inputs.${first}, which the inputs schema does not allow`,
              {
                hint: closedInputs.size ? `inputs: ${listNames([...closedInputs])}` : undefined,
              },
            ),
          );
        return;
      }
      case 'event':
        report(
          error(
            DiagnosticCode.WAIT,
            pointer(),
            `\${${ref.source}} in the ${ctx.what} of ${reader()}: event.* exists only in a wait's match`,
          ),
        );
        return;
      case 'trigger':
        report(
          error(
            DiagnosticCode.TEMPLATE,
            pointer(),
            `\${${ref.source}} in the ${ctx.what} of ${reader()}: trigger.* exists only in the document's triggers`,
            {
              hint: 'map what the trigger carries into the inputs in triggers[].inputs, then read ${inputs.<name>}',
            },
          ),
        );
        return;
      case 'item':
      case 'index':
        if (!ctx.itemAllowed)
          report(
            error(
              DiagnosticCode.ITEM_OUTSIDE_FOREACH,
              pointer(),
              `\${${ref.source}} in the ${ctx.what} of ${reader()}: ${ref.root} exists only in the input and idempotencyKey of a forEach step`,
            ),
          );
        return;
    }
  };

  const compileAt = (value: unknown, base: string, ctx: RefContext): CompiledValue =>
    compileValueWith(value, {
      onRef: (ref, at) => checkRef(ref, () => base + toPointer(at), ctx),
      onProblem: (p: TemplateProblem, at) => report(error(p.code, base + toPointer(at), p.message)),
    });

  const compileCondition = (
    source: string | undefined,
    at: string,
    step: number,
  ): CompiledExpression | undefined => {
    if (source === undefined) return undefined;
    try {
      const expr = compileExpression(source);
      for (const ref of expr.refs) checkRef(ref, () => at, { step, itemAllowed: false, what: 'condition' });
      return expr;
    } catch (e) {
      if (e instanceof ExpressionError) {
        report(error(e.diagnosticCode as typeof DiagnosticCode.EXPRESSION, at, e.message));
        return undefined;
      }
      throw e;
    }
  };

  // Per-step values.
  const policyBase = workflowPolicyBase(doc);
  const compiled: CompiledStep[] = new Array(n);
  // Exact-size lists, filled in document order.
  const dependentCount = new Int32Array(n);
  for (let i = 0; i < n; i++) for (const d of deps[i]!) dependentCount[d]!++;
  const dependents: (readonly string[])[] = new Array(n);
  const filled = new Int32Array(n);
  for (let i = 0; i < n; i++)
    dependents[i] = dependentCount[i] === 0 ? NO_STEPS : new Array(dependentCount[i]);
  for (let i = 0; i < n; i++)
    for (const d of deps[i]!) (dependents[d] as string[])[filled[d]!++] = steps[i]!.id;
  // One frozen policies object for every step that sets none of its own.
  let sharedPolicies: ResolvedStepPolicies | undefined;

  for (let i = 0; i < n; i++) {
    const step = steps[i]!;
    const base = stepPtr(i);
    const hasForEach = step.forEach !== undefined;
    const input = compileAt(step.input ?? EMPTY_INPUT, `${base}/input`, {
      step: i,
      itemAllowed: hasForEach,
      what: 'input',
    });

    let condition: CompiledStep['condition'];
    if (step.condition) {
      const ifExpr = compileCondition(step.condition.if, `${base}/condition/if`, i);
      const unlessExpr = compileCondition(step.condition.unless, `${base}/condition/unless`, i);
      condition = {};
      if (ifExpr) condition.if = ifExpr;
      if (unlessExpr) condition.unless = unlessExpr;
    }

    let forEach: CompiledStep['forEach'];
    if (step.forEach) {
      const at = `${base}/forEach/items`;
      const ctx: RefContext = { step: i, itemAllowed: false, what: 'forEach.items' };
      const items = compileAt(step.forEach.items, at, ctx);
      forEach = { items, concurrency: step.forEach.concurrency ?? DEFAULTS.forEachConcurrency };
      checkForEachSource(step, items, at, variables, inputsSchema, report);
    }

    let idempotencyKey: CompiledValue | undefined;
    if (step.policies?.idempotencyKey !== undefined)
      idempotencyKey = compileAt(step.policies.idempotencyKey, `${base}/policies/idempotencyKey`, {
        step: i,
        itemAllowed: hasForEach,
        what: 'idempotencyKey',
      });

    let capture: readonly PathSegment[] | undefined;
    if (step.output?.capture !== undefined) {
      const r = parseCapturePath(step.output.capture);
      if ('error' in r) {
        report(error(DiagnosticCode.TEMPLATE, `${base}/output/capture`, `invalid capture path: ${r.error}`));
      } else if (r.segments.some((s) => typeof s === 'string' && FORBIDDEN_KEYS.has(s))) {
        report(
          error(DiagnosticCode.FORBIDDEN_PATH, `${base}/output/capture`, 'capture path uses a forbidden key'),
        );
      } else capture = r.segments;
    }
    if (step.output?.schema) {
      const problems = checkUserSchema(step.output.schema);
      if (problems.length)
        report(
          error(
            DiagnosticCode.SCHEMA,
            `${base}/output/schema`,
            `output.schema is not a valid JSON Schema: ${problems.join('; ')}`,
          ),
        );
    }

    // Only steps that wait, or lack an agent (reported there), need the helpers' closures.
    const wait =
      step.wait === undefined && step.agent !== undefined
        ? undefined
        : compileStepWait(step, base, {
            report,
            compileAt: (value, at, what) => compileAt(value, at, { step: i, itemAllowed: false, what }),
            checkRefs: (expr, at) => {
              for (const ref of expr.refs)
                if (ref.root !== 'event')
                  checkRef(ref, () => at, { step: i, itemAllowed: false, what: 'wait match' });
            },
          });
    const agent = agentOf(step);
    let policies: ResolvedStepPolicies;
    if (step.policies === undefined && idempotencyKey === undefined) {
      sharedPolicies ??= Object.freeze(resolveStepPolicies(policyBase, step, undefined));
      policies = sharedPolicies;
    } else policies = resolveStepPolicies(policyBase, step, idempotencyKey);
    const c: CompiledStep = {
      id: step.id,
      index: i,
      document: step,
      agentId: agent.id,
      agentConfig: agent.config ?? NO_CONFIG,
      input,
      dependencies: depIds[i]!,
      dependents: dependents[i]!,
      onError: step.onError ?? DEFAULTS.onError,
      trigger: step.trigger ?? DEFAULTS.trigger,
      fallbackOnly: fallbackOwner.has(i),
      policies,
    };
    if (step.name !== undefined) c.name = step.name;
    if (agent.version !== undefined) c.agentVersion = agent.version;
    if (agent.url !== undefined) c.agentUrl = agent.url;
    if (condition) c.condition = condition;
    if (forEach) c.forEach = forEach;
    if (step.fallbackStepId !== undefined) c.fallbackStepId = step.fallbackStepId;
    if (capture) c.capture = capture;
    if (step.output?.schema) c.outputSchema = step.output.schema;
    if (step.queue !== undefined) c.queue = step.queue;
    if (wait) c.wait = wait;
    compiled[i] = c;
  }

  // Workflow outputs: any step may be read.
  let outputs: CompiledValue | undefined;
  if (doc.outputs !== undefined)
    outputs = compileAt(doc.outputs, '/outputs', { itemAllowed: false, what: 'outputs' });

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
