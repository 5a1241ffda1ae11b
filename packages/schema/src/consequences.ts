import { DiagnosticCode, type PendingDiagnostic, parsePointer } from './diagnostics.js';
import type { WorkflowDocument } from './document-schema.js';

/**
 * A document with unknown fields is still checked without them, so one run reports every
 * problem. But what the field was meant to say is unknown: `dependsOn: [a]` was surely
 * meant as dependencies, and reading `a` is then no mistake. So the diagnostics that
 * could follow from a field already reported as unknown are dropped; the rest are real.
 *
 * - an unknown field of a step: that step and everything downstream of it may lack
 *   dependencies (E_NOT_UPSTREAM); the step itself may lack `forEach`, `onError` or
 *   `fallbackStepId` (E_ITEM_OUTSIDE_FOREACH, E_FALLBACK_*).
 * - an unknown field at the top or under `context`: variables, environment and secrets
 *   may be missing (E_UNKNOWN_VARIABLE, E_ENV_NOT_ALLOWED, E_UNKNOWN_SECRET).
 */
const OF_STEP_ONLY: ReadonlySet<string> = new Set([
  DiagnosticCode.ITEM_OUTSIDE_FOREACH,
  DiagnosticCode.FALLBACK_MISSING,
  DiagnosticCode.FALLBACK_INVALID,
]);
const OF_CONTEXT: ReadonlySet<string> = new Set([
  DiagnosticCode.UNKNOWN_VARIABLE,
  DiagnosticCode.ENV_NOT_ALLOWED,
  DiagnosticCode.UNKNOWN_SECRET,
]);

function stepIndex(pointer: string): number | undefined {
  const m = /^\/steps\/(\d+)(?:\/|$)/.exec(pointer);
  return m ? Number(m[1]) : undefined;
}

/** `diagnostics` without those that may follow from the unknown fields at `removed` pointers. */
export function withoutConsequences(
  removed: readonly string[],
  diagnostics: readonly PendingDiagnostic[],
  doc: WorkflowDocument,
): PendingDiagnostic[] {
  if (removed.length === 0) return [...diagnostics];
  const uncertain = new Set<number>();
  let contextUncertain = false;
  for (const pointer of removed) {
    const segs = parsePointer(pointer);
    if (segs.length === 1 || (segs.length === 2 && segs[0] === 'context')) contextUncertain = true;
    if (segs.length === 3 && segs[0] === 'steps') uncertain.add(Number(segs[1]));
  }

  // Everything downstream of an uncertain step, along the dependencies that were written.
  const downstream = new Set(uncertain);
  if (uncertain.size > 0) {
    const indexById = new Map<string, number>();
    doc.steps.forEach((s, i) => {
      if (!indexById.has(s.id)) indexById.set(s.id, i);
    });
    const dependents: number[][] = doc.steps.map(() => []);
    doc.steps.forEach((s, i) => {
      for (const id of s.dependencies ?? []) {
        const d = indexById.get(id);
        if (d !== undefined) dependents[d]!.push(i);
      }
    });
    const queue = [...uncertain];
    for (let k = 0; k < queue.length; k++)
      for (const j of dependents[queue[k]!]!)
        if (!downstream.has(j)) {
          downstream.add(j);
          queue.push(j);
        }
  }

  return diagnostics.filter((d) => {
    if (contextUncertain && OF_CONTEXT.has(d.code)) return false;
    const i = stepIndex(d.pointer);
    if (i === undefined) return true;
    if (d.code === DiagnosticCode.NOT_UPSTREAM) return !downstream.has(i);
    return !(OF_STEP_ONLY.has(d.code) && uncertain.has(i));
  });
}
