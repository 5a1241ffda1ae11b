import { DEFAULTS } from './defaults.js';
import { DiagnosticCode, error, type PendingDiagnostic } from './diagnostics.js';
import type { StepDocument } from './document-schema.js';
import type { StepGraph } from './graph.js';

/**
 * Fallback rules: a fallback step runs only in place of the one step that names it, after
 * that step failed. So it must exist, differ from that step, serve no other step, not be
 * upstream of it (it would never run, so the step could never start), depend only on
 * what is finished by then (the step itself or its upstream), and chains must not loop.
 * Returns fallback step -> the step it stands in for.
 */
export function checkFallbacks(
  steps: readonly StepDocument[],
  indexById: ReadonlyMap<string, number>,
  graph: StepGraph,
  report: (d: PendingDiagnostic) => void,
  unknownStepHint: (id: string) => string,
): Map<number, number> {
  const n = steps.length;
  const stepPtr = (i: number) => `/steps/${i}`;
  const fallbackOwner = new Map<number, number>();
  const fallbackOf = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const step = steps[i]!;
    const onError = step.onError ?? DEFAULTS.onError;
    if (onError === 'fallback' && step.fallbackStepId === undefined) {
      report(
        error(
          DiagnosticCode.FALLBACK_MISSING,
          `${stepPtr(i)}/onError`,
          `step "${step.id}" has onError "fallback" but no fallbackStepId`,
          {
            hint: 'add fallbackStepId: <id of the step to run instead>',
          },
        ),
      );
    }
    if (step.fallbackStepId === undefined) continue;
    const at = `${stepPtr(i)}/fallbackStepId`;
    if (onError !== 'fallback') {
      report(
        error(
          DiagnosticCode.FALLBACK_INVALID,
          at,
          `step "${step.id}" names a fallbackStepId but its onError is "${onError}"`,
          {
            hint: 'set onError: fallback, or remove fallbackStepId',
          },
        ),
      );
      continue;
    }
    const f = indexById.get(step.fallbackStepId);
    if (f === undefined) {
      report(
        error(
          DiagnosticCode.UNKNOWN_STEP,
          at,
          `step "${step.id}" falls back to "${step.fallbackStepId}", which does not exist`,
          {
            hint: unknownStepHint(step.fallbackStepId),
          },
        ),
      );
      continue;
    }
    if (f === i) {
      report(error(DiagnosticCode.FALLBACK_INVALID, at, `step "${step.id}" cannot be its own fallback`));
      continue;
    }
    const owner = fallbackOwner.get(f);
    if (owner !== undefined) {
      report(
        error(
          DiagnosticCode.FALLBACK_INVALID,
          at,
          `step "${steps[f]!.id}" is already the fallback of "${steps[owner]!.id}"`,
          {
            hint: 'a fallback step stands in for one step only; copy it under another id',
          },
        ),
      );
      continue;
    }
    if (graph.isUpstream(f, i)) {
      report(
        error(
          DiagnosticCode.FALLBACK_INVALID,
          at,
          `fallback step "${steps[f]!.id}" is upstream of "${step.id}": a fallback never runs on its own, so "${step.id}" could never start`,
        ),
      );
      continue;
    }
    fallbackOwner.set(f, i);
    fallbackOf.set(i, f);
    const fDeps = steps[f]!.dependencies ?? [];
    for (let k = 0; k < fDeps.length; k++) {
      const d = indexById.get(fDeps[k]!);
      if (
        d === undefined ||
        d === i ||
        graph.isUpstream(d, i) ||
        graph.blocked.has(i) ||
        graph.blocked.has(d)
      )
        continue;
      report(
        error(
          DiagnosticCode.FALLBACK_INVALID,
          `${stepPtr(f)}/dependencies/${k}`,
          `fallback step "${steps[f]!.id}" depends on "${fDeps[k]}", which is not upstream of "${step.id}" (the step it stands in for)`,
          { hint: `add "${fDeps[k]}" to the dependencies of "${step.id}", or remove it here` },
        ),
      );
    }
  }
  // Each step serves as the fallback of one step at most, so chains never merge: a walk
  // that meets a step seen before has either closed its own cycle or run into an earlier
  // chain. Every step is walked once.
  const walked = new Set<number>();
  for (const start of fallbackOf.keys()) {
    if (walked.has(start)) continue;
    const chain = [start];
    walked.add(start);
    let cur = fallbackOf.get(start);
    while (cur !== undefined && !walked.has(cur)) {
      walked.add(cur);
      chain.push(cur);
      cur = fallbackOf.get(cur);
    }
    if (cur !== start) continue;
    report(
      error(
        DiagnosticCode.FALLBACK_INVALID,
        `${stepPtr(start)}/fallbackStepId`,
        `fallback cycle: ${[...chain, start].map((c) => steps[c]!.id).join(' -> ')}`,
      ),
    );
  }

  return fallbackOwner;
}
