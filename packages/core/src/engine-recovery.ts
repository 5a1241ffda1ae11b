/**
 * Bringing executions back from the store (after a restart or a crash, or when a wait woke
 * them): `resume` and `resumeAll`, the definition an execution started with, and its depth.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import type { ResolvedCapabilities } from './capabilities.js';
import type { Engine, ExecutionHandle } from './engine-api.js';
import { handleOf } from './engine-operations.js';
import { ExecutionRun } from './execution-run.js';
import type { WorkflowGrants } from './grants.js';
import type { Redactor } from './redaction.js';
import type { EngineRuntime } from './runtime.js';
import type { Store } from './store.js';
import { type ExecutionRecord, TERMINAL_EXECUTION_STATUSES } from './types.js';

/** What recovery uses of the engine that made it. */
export interface RecoveryContext {
  store: Store;
  rt: EngineRuntime;
  runs: ReadonlyMap<string, ExecutionRun>;
  capabilities: ResolvedCapabilities;
  /** Definition hash -> stored version, shared with the engine. */
  savedDefinitions: Map<string, string>;
  loadCircuits(): Promise<void>;
  grantsFor(workflow: CompiledWorkflow): WorkflowGrants;
  redactorFor(workflow: CompiledWorkflow): { redactor: Redactor; values: string[] };
  launch(run: ExecutionRun, resumed: boolean, signal?: AbortSignal, cancelReason?: string): ExecutionRun;
  existingHandle(executionId: string): ExecutionHandle;
  assertOpen(): void;
  /** The engine itself (resumeAll resumes through it). */
  self(): Engine;
}

export function createRecovery(ctx: RecoveryContext) {
  const { store, rt, runs, capabilities, savedDefinitions, loadCircuits, grantsFor, redactorFor } = ctx;
  const { launch, existingHandle, assertOpen } = ctx;

  const methods: Pick<Engine, 'resume' | 'resumeAll'> = {
    async resume(executionId, opts = {}) {
      assertOpen();
      const live = runs.get(executionId);
      if (live) return handleOf(live, false);
      const record = await store.getExecution(executionId);
      if (!record) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`);
      if (TERMINAL_EXECUTION_STATUSES.has(record.status)) return existingHandle(executionId);
      const workflow = await storedWorkflow(record);
      await loadCircuits();
      const [steps, journal] = await Promise.all([
        store.getSteps(executionId),
        store.readJournal(executionId),
      ]);
      const lastSeq = journal.length > 0 ? journal[journal.length - 1]!.seq : 0;
      const [request] = await store.pendingCancels([executionId]);
      // The operator's grants may have changed since it started: they apply to what runs now.
      const grants = grantsFor(workflow);
      const { redactor, values } = redactorFor(workflow);
      const run = new ExecutionRun(
        rt,
        workflow,
        record,
        redactor,
        values,
        {
          journalSeq: lastSeq,
          previous: steps,
          depth: await depthOf(record),
          ...(opts.maxConcurrentSteps !== undefined ? { maxConcurrentSteps: opts.maxConcurrentSteps } : {}),
        },
        grants,
      );
      return handleOf(launch(run, true, undefined, request?.reason), true);
    },

    async resumeAll() {
      const engine = ctx.self();
      const handles: ExecutionHandle[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listExecutions({
          status: ['running', 'queued'],
          limit: 100,
          ...(cursor ? { cursor } : {}),
        });
        for (const e of page.items) if (!runs.has(e.id)) handles.push(await engine.resume(e.id));
        cursor = page.nextCursor;
      } while (cursor);
      return handles;
    },
  };

  /** The definition an execution was started with, compiled again. */
  async function storedWorkflow(record: ExecutionRecord): Promise<CompiledWorkflow> {
    const def = await store.getDefinitionByHash(record.definitionHash);
    if (!def) {
      throw new Orchestr8Error(
        ErrorCode.NOT_FOUND,
        `the definition of execution "${record.id}" is missing from the store`,
      );
    }
    const loaded = validateWorkflowObject(def.document);
    if (!loaded.ok || !loaded.workflow) {
      throw new Orchestr8Error(
        ErrorCode.VALIDATION,
        `the stored definition of execution "${record.id}" no longer validates`,
        { details: loaded.diagnostics },
      );
    }
    // The stored definition is the one that started it; keep its content hash as the key.
    savedDefinitions.set(loaded.workflow.hash, def.version);
    return loaded.workflow;
  }

  async function requireRecord(executionId: string): Promise<ExecutionRecord> {
    const record = await store.getExecution(executionId);
    if (!record) throw new Orchestr8Error(ErrorCode.NOT_FOUND, `no execution "${executionId}"`);
    return record;
  }

  /** A resumed execution's nesting depth: its chain of parents in the store. */
  async function depthOf(record: ExecutionRecord): Promise<number> {
    let depth = 0;
    let parent = record.parentExecutionId;
    while (parent !== undefined && depth <= capabilities.maxWorkflowDepth) {
      depth++;
      parent = (await store.getExecution(parent))?.parentExecutionId;
    }
    return depth;
  }

  return { resume: methods.resume, resumeAll: methods.resumeAll, storedWorkflow, requireRecord };
}
