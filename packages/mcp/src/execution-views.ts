/**
 * What tools show of executions: the same views as the HTTP API (results, summaries,
 * journal entries), redacted with each execution's secrets, and a bounded wait for a result.
 */
import {
  createViewRedaction,
  type Engine,
  type ExecutionRecord,
  type ExecutionResult,
  noRedaction,
  type Redactor,
  type Store,
  TERMINAL_EXECUTION_STATUSES,
  type ViewRedaction,
} from '@orchestr8/core';

export function isTerminal(status: string): boolean {
  return TERMINAL_EXECUTION_STATUSES.has(status as never);
}

export class ExecutionViews {
  private readonly redaction: ViewRedaction;

  constructor(
    private readonly engine: Engine,
    private readonly store: Store,
  ) {
    this.redaction = createViewRedaction(store);
  }

  async redactor(executionId: string): Promise<Redactor> {
    const record = await this.store.getExecution(executionId);
    return record === undefined ? noRedaction : this.redaction.forExecution(record);
  }

  /** The execution's result, redacted; undefined when there is no such execution. */
  async result(executionId: string): Promise<ExecutionResult | undefined> {
    const result = await this.engine.getResult(executionId);
    if (result === undefined) return undefined;
    return (await this.redactor(executionId)).redact(result) as ExecutionResult;
  }

  /**
   * The result once the execution is terminal, or its current state after `ms`: follows it
   * by polling the engine, so it works for executions run by another process on the store.
   */
  async waitFor(executionId: string, ms: number, signal?: AbortSignal): Promise<ExecutionResult | undefined> {
    const deadline = Date.now() + ms;
    let delay = 25;
    for (;;) {
      const r = await this.engine.getResult(executionId);
      if (r === undefined || isTerminal(r.status) || Date.now() >= deadline || signal?.aborted)
        return r === undefined
          ? undefined
          : ((await this.redactor(executionId)).redact(r) as ExecutionResult);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))),
      );
      delay = Math.min(delay * 2, 500);
    }
  }
}

/** What a workflow tool answers: outputs when done, else how to follow the execution. */
export function resultView(r: ExecutionResult): Record<string, unknown> {
  const view: Record<string, unknown> = {
    executionId: r.executionId,
    workflowId: r.workflowId,
    workflowVersion: r.workflowVersion,
    status: r.status,
  };
  if (r.outputs !== undefined) view.outputs = r.outputs;
  if (r.error !== undefined) view.error = r.error;
  if (r.statusReason !== undefined) view.statusReason = r.statusReason;
  if (r.durationMs !== undefined) view.durationMs = r.durationMs;
  view.steps = Object.fromEntries(
    Object.entries(r.steps).map(([id, s]) => [
      id,
      { status: s.status, ...(s.error !== undefined ? { error: s.error } : {}) },
    ]),
  );
  if (!isTerminal(r.status))
    view.next = `still ${r.status}: follow it with orchestr8_get_execution {"executionId": "${r.executionId}", "waitSeconds": 30}`;
  return view;
}

export function summary(r: ExecutionRecord): Record<string, unknown> {
  const s: Record<string, unknown> = {
    executionId: r.id,
    workflowId: r.workflowId,
    workflowVersion: r.workflowVersion,
    status: r.status,
    createdAt: new Date(r.createdAt).toISOString(),
  };
  if (r.statusReason !== undefined) s.statusReason = r.statusReason;
  if (r.finishedAt !== undefined) s.finishedAt = new Date(r.finishedAt).toISOString();
  if (r.error !== undefined) s.error = r.error;
  return s;
}
