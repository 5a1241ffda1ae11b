import { DiagnosticCode, type PendingDiagnostic, parsePointer, toPointer } from './diagnostics.js';
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
 *   may be missing (E_UNKNOWN_VARIABLE, E_ENV_NOT_ALLOWED, E_UNKNOWN_SECRET, and the
 *   E_TRIGGER of a signing secret).
 *
 * A malformed value removed (well-formed-part.ts) is surely missing, and its neighbours may
 * be checked against it (`onTimeout needs a timeout`): besides the above, what is reported
 * inside the object that held it (inside the value itself, for a field of a step), or on its
 * way up, is dropped; a step made a stub counts as a step with an unknown field, and
 * everything reported inside it is dropped.
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

function isSigningSecret(d: PendingDiagnostic): boolean {
  return d.code === DiagnosticCode.TRIGGER && d.pointer.endsWith('/webhook/signature/secret');
}

/** Whether pointer `a` is `b` or inside it. */
function within(a: string, b: string): boolean {
  return a === b || b === '' || a.startsWith(`${b}/`);
}

function stepIndex(pointer: string): number | undefined {
  const m = /^\/steps\/(\d+)(?:\/|$)/.exec(pointer);
  return m ? Number(m[1]) : undefined;
}

/** `diagnostics` without those that may follow from the unknown fields at `removed` pointers. */
export function withoutConsequences(
  removed: readonly string[],
  diagnostics: readonly PendingDiagnostic[],
  doc: WorkflowDocument,
  pruned: readonly string[] = [],
): PendingDiagnostic[] {
  if (removed.length === 0 && pruned.length === 0) return [...diagnostics];
  const uncertain = new Set<number>();
  let contextUncertain = false;
  for (const pointer of removed) {
    const segs = parsePointer(pointer);
    if (segs.length === 1 || (segs.length === 2 && segs[0] === 'context')) contextUncertain = true;
    if (segs.length === 3 && segs[0] === 'steps') uncertain.add(Number(segs[1]));
  }
  // Where a malformed value was: the object that held it (the step, for a stub; the value
  // itself, at the top), and the objects above it.
  const regions: string[] = [];
  const above: string[] = [];
  for (const pointer of pruned) {
    const segs = parsePointer(pointer);
    if (segs[0] === 'context') contextUncertain = true;
    if (segs[0] === 'steps' && segs.length >= 2) uncertain.add(Number(segs[1]));
    // A field of a step: what its neighbours are checked against is covered by the rules
    // above (E_WAIT for a step without agent or wait is reported on the step, above it).
    const ownRegion = segs.length <= 1 || (segs[0] === 'steps' && segs.length <= 3);
    regions.push(ownRegion ? pointer : toPointer(segs.slice(0, -1)));
    above.push(pointer);
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
    if (contextUncertain && (OF_CONTEXT.has(d.code) || isSigningSecret(d))) return false;
    if (regions.some((r) => within(d.pointer, r)) || above.some((p) => within(p, d.pointer))) return false;
    const i = stepIndex(d.pointer);
    if (i === undefined) return true;
    if (d.code === DiagnosticCode.NOT_UPSTREAM) return !downstream.has(i);
    return !(OF_STEP_ONLY.has(d.code) && uncertain.has(i));
  });
}
