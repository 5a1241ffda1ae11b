import type { CompiledWorkflow } from '@orchestr8/schema';
import type { StepRun } from './run-host.js';
import type { StepStateRecord, StepStatus } from './types.js';

const TERMINAL: ReadonlySet<StepStatus> = new Set(['completed', 'failed', 'skipped', 'cancelled']);

/**
 * The run state of each step of an execution, in document order, and the same records by id
 * (what templates read as `steps`). `previous`: the stored records of a resumed execution.
 */
export function stepRunsOf(
  workflow: CompiledWorkflow,
  executionId: string,
  previous: readonly StepStateRecord[] | undefined,
): { steps: StepRun[]; view: Record<string, StepStateRecord> } {
  // A copy of an object with every step id already in it: filling it stores into existing
  // properties instead of adding ten and growing the object each time.
  // (Up to 64 steps: a larger object is a hash table, which a copy does not make cheaper.)
  const view: Record<string, StepStateRecord> =
    workflow.steps.length <= 64 ? { ...viewTemplate(workflow) } : {};
  const byId = previous ? new Map(previous.map((s) => [s.stepId, s])) : undefined;
  const steps: StepRun[] = new Array(workflow.steps.length);
  for (let i = 0; i < workflow.steps.length; i++) {
    const c = workflow.steps[i]!;
    const prev = byId?.get(c.id);
    // A fresh record is pending: only a stored one can be terminal.
    const terminal = prev !== undefined && TERMINAL.has(prev.status);
    let rec: StepStateRecord;
    if (terminal) rec = prev;
    else {
      // Steps that were running when the process died run again, keeping their attempt count.
      // The fields a run sets later are in the literal (undefined until then), so V8 keeps them in
      // the object instead of a separate property array: one object fewer per step for the
      // garbage collector to copy while a long-lived store keeps the record.
      rec = {
        executionId,
        stepId: c.id,
        status: 'pending',
        attempts: prev?.attempts ?? 0,
        output: undefined,
        startedAt: undefined,
        finishedAt: undefined,
        idempotencyKey: undefined,
      };
      if (prev?.idempotencyKey) rec.idempotencyKey = prev.idempotencyKey;
      // The rest of an interrupted back-off is still owed (step-runner waits it out).
      if (prev?.nextAttemptAt !== undefined) rec.nextAttemptAt = prev.nextAttemptAt;
      // A wait step began when it first waited, not when its execution came back.
      if (prev?.status === 'waiting' && prev.startedAt !== undefined) rec.startedAt = prev.startedAt;
    }
    steps[i] = {
      compiled: c,
      index: i,
      record: rec,
      waiting: c.dependencies.length,
      terminal,
      startMono: 0,
      span: undefined,
      savedEpoch: 0,
      write: { kind: 'step', step: rec },
      resumeFrom:
        prev === undefined || terminal
          ? 0
          : prev.status === 'retrying'
            ? prev.attempts
            : Math.max(0, prev.attempts - 1),
    };
    view[c.id] = rec;
  }
  return { steps, view };
}

const viewTemplates = new WeakMap<CompiledWorkflow, Record<string, undefined>>();

/** An object with a property per step id, in document order (what `steps` in templates lists). */
function viewTemplate(workflow: CompiledWorkflow): Record<string, StepStateRecord> {
  let t = viewTemplates.get(workflow);
  if (t === undefined) {
    t = {};
    for (const c of workflow.steps) t[c.id] = undefined;
    viewTemplates.set(workflow, t);
  }
  return t as unknown as Record<string, StepStateRecord>;
}

const positions = new WeakMap<CompiledWorkflow, Map<string, number>>();

/** Step id -> position in `workflow.steps` (a worker's view holds only some of the steps). */
export function positionsOf(workflow: CompiledWorkflow): Map<string, number> {
  let m = positions.get(workflow);
  if (m === undefined) {
    m = new Map(workflow.steps.map((c, i) => [c.id, i]));
    positions.set(workflow, m);
  }
  return m;
}

/** `${secrets.NAME}` reads the environment variable that `context.secretRefs.NAME` names. */
export function secretsFor(
  workflow: CompiledWorkflow,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string | undefined> | undefined {
  const refs = workflow.secretRefs;
  let out: Record<string, string | undefined> | undefined;
  for (const name in refs) {
    out ??= {};
    out[name] = env[refs[name]!];
  }
  return out;
}

/** Each step's dependencies and dependents, as positions in `workflow.steps`. */
export interface StepGraph {
  readonly dependencies: readonly (readonly number[])[];
  readonly dependents: readonly (readonly number[])[];
}

const graphs = new WeakMap<CompiledWorkflow, StepGraph>();

/**
 * The dependency graph by position, made once per compiled workflow: the scheduler follows
 * edges by index instead of looking each step id up in a Map (W3: some 50 lookups per
 * execution). A step outside a worker's view of the workflow is at -1.
 */
export function graphOf(workflow: CompiledWorkflow): StepGraph {
  let g = graphs.get(workflow);
  if (g === undefined) {
    const at = positionsOf(workflow);
    const positions = (ids: readonly string[]) => ids.map((id) => at.get(id) ?? -1);
    g = {
      dependencies: workflow.steps.map((c) => positions(c.dependencies)),
      dependents: workflow.steps.map((c) => positions(c.dependents)),
    };
    graphs.set(workflow, g);
  }
  return g;
}
