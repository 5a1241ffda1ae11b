/**
 * Replaying an execution's decisions against its recorded step outputs: the document (the
 * one it ran, or a new version) runs again on a private in-memory engine whose every
 * agent returns what the step returned in the recorded run (or fails as it failed), so no
 * agent is called. Conditions, forEach items, resolved inputs and the steps that run are
 * decided again and compared with the journal: what Temporal users check before deploying
 * a new version of a workflow that has executions in flight or to be re-run.
 */
import { ErrorCode, Orchestr8Error, type SerializedError } from '@orchestr8/common';
import {
  type Agent,
  type AgentRegistry,
  createEngine,
  createMemoryStore,
  type ExecutionRecord,
  type ExecutionResult,
  type JournalEntry,
  type StepStateRecord,
  type Store,
} from '@orchestr8/core';
import { type CompiledWorkflow, canonicalJson, validateWorkflowObject } from '@orchestr8/schema';

/** What a replay may find different in one step. */
export type ReplayDifferenceKind =
  /** It ran in one and was skipped (by its condition, or an upstream failure) in the other. */
  | 'decision'
  /** A forEach step had another number of items. */
  | 'items'
  /** Its input resolved to another value. */
  | 'inputs'
  /** The step is in the replayed document only: it has no recorded output. */
  | 'new'
  /** The step was recorded but is not in the replayed document. */
  | 'removed'
  /** The execution ended with another status. */
  | 'status';

export interface ReplayDifference {
  kind: ReplayDifferenceKind;
  /** Absent for `status`. */
  stepId?: string;
  message: string;
  recorded?: unknown;
  replayed?: unknown;
}

export interface ExecutionReplayReport {
  executionId: string;
  workflowId: string;
  /** The version recorded, and the one replayed (the same unless another document was given). */
  recordedVersion: string;
  replayedVersion: string;
  /** True when no decision differs and the replay ends with the recorded status. */
  ok: boolean;
  /** Steps compared (recorded and in the replayed document). */
  stepsCompared: number;
  differences: ReplayDifference[];
  /** The replayed execution's status and its steps' statuses. */
  replayedStatus: string;
  /** Why the replayed execution failed (its error and the step it came from), when it did. */
  replayedError?: { code: string; message: string; stepId?: string };
  steps: { stepId: string; recorded?: string; replayed?: string }[];
}

export interface ReplayExecutionOptions {
  /** The store holding the execution, its steps, journal and definition. */
  store: Store;
  executionId: string;
  /**
   * The document to replay (a new version); default: the definition the execution ran.
   * A compiled workflow or a document object.
   */
  workflow?: CompiledWorkflow | unknown;
  /**
   * The real agents, when at hand: the replay keeps their input schemas and secret fields
   * (so inputs are validated and redacted as they were), never their code.
   */
  agents?: AgentRegistry;
}

/** What one step did in the recorded run, from its state and the journal. */
interface RecordedStep {
  state?: StepStateRecord;
  /** The resolved input of its last start (redacted as journaled); forEach: `{items}`. */
  input?: unknown;
  started: boolean;
}

async function readWholeJournal(store: Store, executionId: string): Promise<JournalEntry[]> {
  const all: JournalEntry[] = [];
  for (;;) {
    const page = await store.readJournal(executionId, {
      afterSeq: all.length > 0 ? all[all.length - 1]!.seq : 0,
      limit: 1000,
    });
    all.push(...page);
    if (page.length < 1000) return all;
  }
}

function recordedSteps(steps: StepStateRecord[], journal: JournalEntry[]): Map<string, RecordedStep> {
  const out = new Map<string, RecordedStep>();
  for (const s of steps)
    out.set(s.stepId, { state: s, started: s.status !== 'skipped' && s.status !== 'pending' });
  for (const e of journal) {
    if (e.type !== 'step.started' || e.stepId === undefined) continue;
    const r = out.get(e.stepId) ?? { started: true };
    r.started = true;
    r.input = (e.data as { input?: unknown } | undefined)?.input;
    out.set(e.stepId, r);
  }
  return out;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
const RAN = new Set(['completed', 'failed', 'running', 'waiting']);
const ranOf = (status: string | undefined) => status !== undefined && RAN.has(status);
const itemCount = (input: unknown): number | undefined => {
  const items = (input as { items?: unknown } | undefined)?.items;
  return Array.isArray(items) ? items.length : undefined;
};

/** Turns wait steps into steps of the replay agent: their recorded output (the event, the decision) stands in. */
function withoutWaits(document: unknown): unknown {
  const doc = structuredClone(document) as { steps?: Record<string, unknown>[] };
  if (!Array.isArray(doc.steps)) return doc;
  doc.steps = doc.steps.map((s) => {
    if (s === null || typeof s !== 'object' || !('wait' in s)) return s;
    const { wait: _wait, ...rest } = s as Record<string, unknown>;
    return { ...rest, agent: REPLAY_WAIT_AGENT };
  });
  return doc;
}

const REPLAY_WAIT_AGENT = '@orchestr8/replay-wait';

class ReplayedFailure extends Orchestr8Error {
  constructor(error: SerializedError | undefined) {
    super(
      (error?.code as ErrorCode | undefined) ?? ErrorCode.AGENT_FAILED,
      error?.message ?? 'failed in the recorded run',
      {
        retryable: false,
      },
    );
  }
}

export interface RecordedRunOptions {
  /** The store holding the recorded execution. */
  store: Store;
  executionId: string;
  /** The document to run (default: the definition the execution ran); compiled or an object. */
  workflow?: CompiledWorkflow | unknown;
  /** The inputs to run with (default: the recorded execution's). */
  inputs?: unknown;
  /** The real agents, for their input schemas and secret fields (never their code). */
  agents?: AgentRegistry;
}

export interface RecordedRun {
  execution: ExecutionRecord;
  workflow: CompiledWorkflow;
  /** The recorded steps' states and journal. */
  recorded: { steps: StepStateRecord[]; journal: JournalEntry[] };
  /** The new run's result, steps and journal (on a private in-memory store). */
  result: ExecutionResult;
  steps: StepStateRecord[];
  journal: JournalEntry[];
}

/**
 * Runs a document against an execution's recorded step outputs: every agent answers with
 * what the step returned in the recorded run (per item for forEach), or fails as it
 * failed; a step with no record answers null. No agent is called, nothing is written to
 * `store`. The stream replay (`--recorded-outputs`) runs crews this way.
 */
export async function runRecorded(options: RecordedRunOptions): Promise<RecordedRun> {
  const { store, executionId } = options;
  const execution: ExecutionRecord | undefined = await store.getExecution(executionId);
  if (!execution) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}" in the store`);
  const [steps, journal] = await Promise.all([
    store.getSteps(executionId),
    readWholeJournal(store, executionId),
  ]);
  const byId = new Map(steps.map((s) => [s.stepId, s]));
  let document: unknown;
  if (options.workflow === undefined) {
    const definition = await store.getDefinitionByHash(execution.definitionHash);
    if (!definition)
      throw new Orchestr8Error(
        ErrorCode.NOT_FOUND,
        `the definition of execution "${executionId}" (${execution.workflowId}@${execution.workflowVersion}) is not in the store; pass the document to replay`,
      );
    document = definition.document;
  } else {
    const w = options.workflow as Partial<CompiledWorkflow>;
    document = w.document !== undefined && w.steps !== undefined ? w.document : options.workflow;
  }
  const loaded = validateWorkflowObject(withoutWaits(document));
  if (!loaded.ok || !loaded.workflow)
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      `the document to replay is invalid: ${loaded.diagnostics.map((d) => `${d.pointer || '/'}: ${d.message}`).join('; ')}`,
    );
  const workflow = loaded.workflow;

  const stand = new Map<string, Agent>();
  const agentFor = (id: string): Agent => {
    let a = stand.get(id);
    if (a) return a;
    const real = options.agents?.get(id);
    a = {
      id,
      ...(real?.inputSchema !== undefined ? { inputSchema: real.inputSchema } : {}),
      ...(real?.secretFields ? { secretFields: real.secretFields } : {}),
      execute: (_input, ctx) => {
        const state = byId.get(ctx.stepId);
        if (!state || state.status === 'skipped' || state.status === 'pending') return null;
        if (state.status === 'failed' || state.status === 'cancelled') throw new ReplayedFailure(state.error);
        return ctx.index !== undefined && Array.isArray(state.output)
          ? state.output[ctx.index]
          : state.output;
      },
    };
    stand.set(id, a);
    return a;
  };
  const registry: AgentRegistry = {
    get: (id) => agentFor(id),
    has: () => true,
    list: () => [...stand.values()],
  };
  const engine = createEngine({ registry, store: createMemoryStore() });
  try {
    const handle = await engine.start(workflow, {
      inputs: options.inputs === undefined ? execution.inputs : options.inputs,
    });
    const result = await handle.result;
    return {
      execution,
      workflow,
      recorded: { steps, journal },
      result,
      steps: await engine.store.getSteps(handle.id),
      journal: await readWholeJournal(engine.store, handle.id),
    };
  } finally {
    await engine.close();
  }
}

/** The replayed execution's error and the failed step it came from (the one with the same error, else the first). */
function replayedErrorOf(
  result: ExecutionResult,
  steps: StepStateRecord[],
): ExecutionReplayReport['replayedError'] {
  if (result.status !== 'failed') return undefined;
  const failed = steps.filter((s) => s.status === 'failed');
  const error = result.error ?? failed[0]?.error;
  if (!error) return undefined;
  const step =
    failed.find((s) => s.error?.code === error.code && s.error?.message === error.message) ?? failed[0];
  return { code: error.code, message: error.message, ...(step ? { stepId: step.stepId } : {}) };
}

/**
 * Re-runs an execution's decisions against its recorded step outputs and reports every
 * step whose decision differs. Nothing is written to `store`.
 */
export async function replayExecution(options: ReplayExecutionOptions): Promise<ExecutionReplayReport> {
  const { executionId } = options;
  // An unfinished execution has no final decisions to compare: its waiting steps never ran,
  // and the replay would run them to the end on stand-in outputs.
  const current = await options.store.getExecution(executionId);
  if (current && !FINISHED.has(current.status))
    throw new Orchestr8Error(
      ErrorCode.CONFLICT,
      `execution "${executionId}" is ${current.status}: only a finished execution (completed, failed or cancelled) can be replayed`,
    );
  const run = await runRecorded(options);
  const { execution, workflow, result: replayed } = run;
  const recorded = recordedSteps(run.recorded.steps, run.recorded.journal);
  const now = recordedSteps(run.steps, run.journal);

  const differences: ReplayDifference[] = [];
  const order = [...workflow.steps.map((s) => s.id)];
  for (const id of recorded.keys()) if (!order.includes(id)) order.push(id);
  const table: ExecutionReplayReport['steps'] = [];
  let compared = 0;
  for (const stepId of order) {
    const before = recorded.get(stepId);
    const after = now.get(stepId);
    const inDocument = workflow.steps.some((s) => s.id === stepId);
    table.push({
      stepId,
      ...(before?.state ? { recorded: before.state.status } : {}),
      ...(after?.state ? { replayed: after.state.status } : {}),
    });
    if (!inDocument) {
      differences.push({
        kind: 'removed',
        stepId,
        message: `step "${stepId}" was recorded (${before?.state?.status ?? 'started'}) but is not in the replayed document`,
      });
      continue;
    }
    if (!before?.state) {
      if (ranOf(after?.state?.status))
        differences.push({
          kind: 'new',
          stepId,
          message: `step "${stepId}" is new: it runs in the replay but has no recorded output (null stood in)`,
        });
      continue;
    }
    compared++;
    const ranBefore = ranOf(before.state.status);
    const ranAfter = ranOf(after?.state?.status);
    if (ranBefore !== ranAfter) {
      const why = (s?: StepStateRecord) =>
        (s?.skipReason ?? s?.statusReason) ? `: ${s?.skipReason ?? s?.statusReason}` : '';
      differences.push({
        kind: 'decision',
        stepId,
        message: ranBefore
          ? `step "${stepId}" ran in the recorded execution but is skipped in the replay${why(after?.state)}`
          : `step "${stepId}" was skipped in the recorded execution${why(before.state)} but runs in the replay`,
        recorded: before.state.status,
        replayed: after?.state?.status ?? 'not reached',
      });
      continue;
    }
    if (!ranBefore || before.input === undefined) continue;
    const n0 = itemCount(before.input);
    const n1 = itemCount(after?.input);
    if (n0 !== undefined || n1 !== undefined) {
      if (n0 !== n1)
        differences.push({
          kind: 'items',
          stepId,
          message: `forEach step "${stepId}" had ${n0 ?? 0} items; the replay has ${n1 ?? 0}`,
          recorded: n0,
          replayed: n1,
        });
      else if (canonicalJson(before.input) !== canonicalJson(after?.input))
        differences.push({
          kind: 'inputs',
          stepId,
          message: `forEach step "${stepId}" iterates over other items`,
          recorded: before.input,
          replayed: after?.input,
        });
      continue;
    }
    if (canonicalJson(before.input) !== canonicalJson(after?.input))
      differences.push({
        kind: 'inputs',
        stepId,
        message: `step "${stepId}" resolves its input differently`,
        recorded: before.input,
        replayed: after?.input,
      });
  }
  const replayedError = replayedErrorOf(replayed, run.steps);
  if (replayed.status !== execution.status)
    differences.push({
      kind: 'status',
      message: `the execution ended ${execution.status}; the replay ends ${replayed.status}${
        replayedError
          ? ` (${replayedError.code}${replayedError.stepId ? ` in step "${replayedError.stepId}"` : ''}: ${replayedError.message})`
          : ''
      }`,
      recorded: execution.status,
      replayed: replayed.status,
    });
  return {
    executionId,
    workflowId: execution.workflowId,
    ...(replayedError ? { replayedError } : {}),
    recordedVersion: execution.workflowVersion,
    replayedVersion: workflow.version,
    ok: differences.length === 0,
    stepsCompared: compared,
    differences,
    replayedStatus: replayed.status,
    steps: table,
  };
}
