/**
 * What a retry or a rerun runs again, and what it keeps. Pure: the same workflow and step
 * records give the same plan, so a dry run shows exactly what the real one will do.
 *
 * - Retry (same execution): the steps that did not finish well (failed, cancelled, never
 *   run) and every step downstream of them. Completed steps elsewhere keep their outputs.
 * - Rerun (new execution): the chosen step, the steps that read an input whose value
 *   changed, the steps that did not finish well, and every step downstream of any of them.
 *   The others' records (outputs, or skips) are copied into the new execution.
 */
import type { CompiledStep, CompiledWorkflow, TemplateRef } from '@orchestr8/schema';
import { canonicalJson, collectRefs } from '@orchestr8/schema';
import type { StepStateRecord, StepStatus } from './types.js';

/** Statuses whose records a retry or rerun keeps (when nothing upstream of them runs again). */
const KEPT: ReadonlySet<StepStatus> = new Set(['completed', 'skipped']);

export interface RerunPlan {
  /** The steps that run again, in document order. */
  rerun: string[];
  /** The steps whose records (outputs, skips) are copied from the original, in document order. */
  reused: string[];
  /** Top-level inputs whose value differs from the original's. */
  changedInputs: string[];
  /** Steps that run again because a template or condition of theirs reads a changed input. */
  invalidated: { stepId: string; inputs: string[] }[];
}

/** The steps a retry of this execution runs again (fallback-only steps are reset with their step, not listed). */
export function retryPlan(workflow: CompiledWorkflow, steps: readonly StepStateRecord[]): string[] {
  const status = statusMap(steps);
  const seeds: string[] = [];
  for (const c of workflow.steps) {
    if (c.fallbackOnly) continue;
    if (!KEPT.has(status.get(c.id) ?? 'pending')) seeds.push(c.id);
  }
  const again = downstream(workflow, seeds);
  return workflow.steps.filter((c) => again.has(c.id) && !c.fallbackOnly).map((c) => c.id);
}

/** Fallback-only steps that go with the given steps (their fallbacks), for resetting or copying. */
export function fallbacksOf(workflow: CompiledWorkflow, stepIds: Iterable<string>): string[] {
  const byId = stepsById(workflow);
  const out: string[] = [];
  for (const id of stepIds) {
    const f = byId.get(id)?.fallbackStepId;
    if (f !== undefined) out.push(f);
  }
  return out;
}

export function rerunPlan(
  workflow: CompiledWorkflow,
  steps: readonly StepStateRecord[],
  fromStep: string,
  oldInputs: unknown,
  newInputs: unknown,
): RerunPlan {
  const status = statusMap(steps);
  const changedInputs = changedKeys(oldInputs, newInputs);
  const changed = new Set(changedInputs);
  const invalidated: RerunPlan['invalidated'] = [];
  const seeds = [fromStep];
  for (const c of workflow.steps) {
    if (c.fallbackOnly) continue;
    if (!KEPT.has(status.get(c.id) ?? 'pending')) seeds.push(c.id);
    if (changed.size === 0) continue;
    const reads = inputsRead(c, changedInputs);
    if (reads.length > 0) {
      invalidated.push({ stepId: c.id, inputs: reads });
      seeds.push(c.id);
    }
  }
  const again = downstream(workflow, seeds);
  const rerun: string[] = [];
  const reused: string[] = [];
  for (const c of workflow.steps) {
    if (c.fallbackOnly) continue;
    (again.has(c.id) ? rerun : reused).push(c.id);
  }
  return { rerun, reused, changedInputs, invalidated };
}

/** The steps given and every step that depends on them, directly or not. */
function downstream(workflow: CompiledWorkflow, seeds: readonly string[]): Set<string> {
  const byId = stepsById(workflow);
  const out = new Set<string>();
  const queue = [...seeds];
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    for (const d of byId.get(id)?.dependents ?? []) queue.push(d);
  }
  return out;
}

function statusMap(steps: readonly StepStateRecord[]): Map<string, StepStatus> {
  return new Map(steps.map((s) => [s.stepId, s.status]));
}

const byIdCache = new WeakMap<CompiledWorkflow, Map<string, CompiledStep>>();
function stepsById(workflow: CompiledWorkflow): Map<string, CompiledStep> {
  let m = byIdCache.get(workflow);
  if (m === undefined) {
    m = new Map(workflow.steps.map((c) => [c.id, c]));
    byIdCache.set(workflow, m);
  }
  return m;
}

/** Top-level keys whose values differ (canonical JSON: key order does not count). */
export function changedKeys(before: unknown, after: unknown): string[] {
  const a = asObject(before);
  const b = asObject(after);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null)).sort();
}

function asObject(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * The changed inputs a step reads: in its input, condition, forEach items, idempotency key
 * or wait. `${inputs}` as a whole reads every input.
 */
function inputsRead(c: CompiledStep, changed: readonly string[]): string[] {
  const refs: TemplateRef[] = [];
  collectRefs(c.input, refs);
  if (c.condition?.if) refs.push(...c.condition.if.refs);
  if (c.condition?.unless) refs.push(...c.condition.unless.refs);
  if (c.forEach) collectRefs(c.forEach.items, refs);
  if (c.policies.idempotencyKey) collectRefs(c.policies.idempotencyKey, refs);
  const w = c.wait;
  if (w) {
    if (w.until) collectRefs(w.until, refs);
    for (const e of w.events ?? []) if (e.match) refs.push(...e.match.refs);
    if (w.approval) {
      collectRefs(w.approval.title, refs);
      if (w.approval.description) collectRefs(w.approval.description, refs);
    }
    if (w.onTimeoutOutput) collectRefs(w.onTimeoutOutput, refs);
  }
  const read = new Set<string>();
  for (const r of refs) {
    if (r.root !== 'inputs') continue;
    const first = r.path[0];
    if (first === undefined) return [...changed];
    if (changed.includes(String(first))) read.add(String(first));
  }
  return [...read].sort();
}
