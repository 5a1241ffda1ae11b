/**
 * Sub-workflows started by a step on a worker: launched into the queue like any execution
 * (their steps run on any worker), followed until they finish.
 */
import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import type { AgentRegistry, ExecutionResult, StepTaskRunner } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import type { PostgresStore } from '@orchestr8/store-postgres';
import type { Coordinator } from './coordinator.js';
import type { ExecutionWatcher } from './watcher.js';

export interface ChildHost {
  readonly store: PostgresStore;
  readonly runner: StepTaskRunner;
  readonly coordinator: Coordinator;
  readonly registry: AgentRegistry;
  /** The worker's watcher of executions, started on first use. */
  watcher(): Promise<ExecutionWatcher>;
}

/** Starts a sub-workflow for a step and returns its id and its result to come. */
export async function runChild(
  host: ChildHost,
  req: {
    document: unknown;
    inputs: unknown;
    parentExecutionId: string;
    parentStepId: string;
    idempotencyKey: string;
    signal: AbortSignal;
  },
): Promise<{ id: string; result: Promise<ExecutionResult> }> {
  // A step here does not know its execution's depth: count the chain of parents.
  const limit = host.runner.base.capabilities.maxWorkflowDepth;
  let depth = 1;
  let parent = (await host.store.getExecution(req.parentExecutionId))?.parentExecutionId;
  while (parent !== undefined && depth <= limit) {
    depth++;
    parent = (await host.store.getExecution(parent))?.parentExecutionId;
  }
  if (depth > limit) {
    throw new Orchestr8Error(
      ErrorCode.LIMIT_EXCEEDED,
      `sub-workflows nest ${depth} deep, beyond the limit of ${limit} ` +
        '(a workflow that calls itself?); the operator sets the limit with capabilities.maxWorkflowDepth',
      { retryable: false, details: { depth, limit } },
    );
  }
  const loaded = validateWorkflowObject(req.document, {
    knownAgents: host.registry.list().map((a) => a.id),
  });
  if (!loaded.ok || !loaded.workflow) {
    const first = loaded.diagnostics[0];
    throw new ValidationError(
      `sub-workflow is invalid: ${first ? `${first.pointer} ${first.message}` : 'unknown problem'}`,
      { details: loaded.diagnostics },
    );
  }
  const { id } = await host.coordinator.launch(loaded.workflow, {
    inputs: req.inputs ?? {},
    parentExecutionId: req.parentExecutionId,
    parentStepId: req.parentStepId,
    idempotencyKey: req.idempotencyKey,
  });
  const watcher = await host.watcher();
  // The child's steps need free slots (here or on other workers) while this step waits.
  req.signal.addEventListener('abort', () => void host.coordinator.cancel(id, 'parent step stopped'), {
    once: true,
  });
  return { id, result: watcher.wait(id) };
}
