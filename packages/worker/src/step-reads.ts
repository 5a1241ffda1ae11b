/**
 * The stored step states a step needs to run: its own (attempts, idempotency key), its
 * fallback's, and those its templates and conditions read. A worker loads only these, so
 * a step of a wide workflow does not load every other step's output.
 */
import type { CompiledStep, CompiledValue, CompiledWorkflow } from '@orchestr8/schema';

interface Ref {
  root: string;
  stepId?: string;
}

const cache = new WeakMap<CompiledWorkflow, Map<string, readonly string[]>>();

/** Step ids whose states running `stepId` needs (its own included). */
export function stepReads(workflow: CompiledWorkflow, stepId: string): readonly string[] {
  let byStep = cache.get(workflow);
  if (!byStep) {
    byStep = new Map();
    cache.set(workflow, byStep);
  }
  let reads = byStep.get(stepId);
  if (!reads) {
    reads = compute(workflow, workflow.stepById.get(stepId)!);
    byStep.set(stepId, reads);
  }
  return reads;
}

function compute(workflow: CompiledWorkflow, step: CompiledStep): readonly string[] {
  const ids = new Set<string>([step.id]);
  let all = false;
  const ref = (r: Ref) => {
    if (r.root !== 'steps') return;
    if (r.stepId === undefined) all = true;
    else ids.add(r.stepId);
  };
  const value = (v: CompiledValue | undefined) => {
    if (v === undefined) return;
    switch (v.kind) {
      case 'ref':
        ref(v.ref);
        return;
      case 'concat':
        for (const p of v.parts) if (typeof p !== 'string') ref(p);
        return;
      case 'array':
        for (const item of v.items) value(item);
        return;
      case 'object':
        for (const [, item] of v.entries) value(item);
        return;
      default:
        return;
    }
  };
  for (const s of [step, ...(step.fallbackStepId ? [workflow.stepById.get(step.fallbackStepId)!] : [])]) {
    ids.add(s.id);
    value(s.input);
    value(s.forEach?.items);
    value(s.policies.idempotencyKey);
    for (const e of [s.condition?.if, s.condition?.unless]) for (const r of e?.refs ?? []) ref(r);
    // A wait renders its time, title and timeout output, and copies what its matches read.
    const w = s.wait;
    if (w !== undefined) {
      value(w.until);
      value(w.approval?.title);
      value(w.approval?.description);
      value(w.onTimeoutOutput);
      for (const e of w.events ?? []) for (const r of e.match?.refs ?? []) ref(r);
    }
  }
  // Something reads `steps` as a whole: give it every step.
  return all ? workflow.steps.map((s) => s.id) : [...ids];
}
