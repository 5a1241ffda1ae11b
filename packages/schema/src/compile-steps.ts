// The per-step pass: each step's input, condition, forEach, key, output, wait and policies, compiled.
import { agentOf } from './agent-check.js';
import {
  type CompiledStep,
  type ResolvedStepPolicies,
  resolveStepPolicies,
  workflowPolicyBase,
} from './compiled.js';
import { DEFAULTS } from './defaults.js';
import { type Dependencies, NO_STEPS } from './dependencies.js';
import { DiagnosticCode, error, type PendingDiagnostic } from './diagnostics.js';
import type { WorkflowDocument } from './document-schema.js';
import { checkForEachSource } from './foreach-source.js';
import { FORBIDDEN_KEYS, type PathSegment, parseCapturePath } from './path.js';
import type { DocumentContext, RefContext, ReferenceCheck } from './reference-check.js';
import { checkUserSchema } from './schema-validator.js';
import type { CompiledValue } from './template.js';
import { compileStepWait } from './waits.js';

/** What an absent `input` means: an empty object (shared, so frozen). */
const EMPTY_INPUT = Object.freeze({});
// Shared by every step without agent config: a compiled workflow is read-only, and a
// 10,000-step fan would otherwise hold 10,000 empty objects.
const NO_CONFIG = Object.freeze({}) as Record<string, unknown>;

/**
 * Checks and compiles every step, in document order. `fallbackOwner` maps each fallback step
 * to the step it stands in for.
 */
export function compileSteps(
  doc: WorkflowDocument,
  { deps, depIds }: Dependencies,
  fallbackOwner: ReadonlyMap<number, number>,
  { variables, inputsSchema }: DocumentContext,
  { checkRef, compileAt, compileCondition }: ReferenceCheck,
  report: (d: PendingDiagnostic) => void,
): CompiledStep[] {
  const steps = doc.steps;
  const n = steps.length;
  const stepPtr = (i: number) => `/steps/${i}`;
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
  return compiled;
}
