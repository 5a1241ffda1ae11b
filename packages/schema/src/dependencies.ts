// The ids and dependencies pass: step ids indexed, dependencies resolved, the graph and its cycles.
import { DiagnosticCode, error, listNames, type PendingDiagnostic } from './diagnostics.js';
import type { StepDocument } from './document-schema.js';
import { buildGraph, type StepGraph } from './graph.js';
import { FORBIDDEN_KEYS } from './path.js';
import { closest } from './suggest.js';

// Shared by every step without dependencies or dependents: a compiled workflow is read-only,
// and a 10,000-step fan would otherwise hold 10,000 empty arrays.
export const NO_STEPS: readonly string[] = Object.freeze([]);
const NO_INDICES: readonly number[] = Object.freeze([]);

const stepPtr = (i: number) => `/steps/${i}`;

export interface StepIds {
  /** Step id -> its position in the steps (the first one, when an id is used twice). */
  indexById: Map<string, number>;
  /** The hint of a diagnostic naming a step that does not exist: the closest id, or the ids. */
  unknownStepHint: (id: string) => string;
}

/** Step ids: each unique, and none a forbidden key. */
export function indexStepIds(
  steps: readonly StepDocument[],
  report: (d: PendingDiagnostic) => void,
): StepIds {
  const n = steps.length;
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
  return { indexById, unknownStepHint };
}

export interface Dependencies {
  /** Each step's dependencies as positions in the steps (unknown and repeated ids left out). */
  deps: (readonly number[])[];
  /** Each step's dependency ids without repeats: the document's own array when nothing was dropped. */
  depIds: (readonly string[])[];
  graph: StepGraph;
}

/** Dependencies: each names a step; the graph they make has no cycle. */
export function resolveDependencies(
  steps: readonly StepDocument[],
  { indexById, unknownStepHint }: StepIds,
  report: (d: PendingDiagnostic) => void,
): Dependencies {
  const n = steps.length;
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
  return { deps, depIds, graph };
}
