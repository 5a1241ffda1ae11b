import type { RunHost } from './run-host.js';
import { type WaitRecord, waitId } from './waits.js';

/**
 * `policies.timeout.global` of an execution that leaves memory for its waits. The run's
 * in-memory timer goes with it, so the deadline is stored as a timer wait of its own (step
 * id `#deadline`, which no step can have): it fires durably like any timer (after a restart,
 * once, on any process sharing the store), and the execution it wakes is past its deadline,
 * so its resume fails it with TIMEOUT before any step runs. Taking the execution from
 * `waiting` for any other reason drops the deadline (the resumed run times itself again).
 */
export const DEADLINE_STEP = '#deadline';

export async function registerDeadline(run: RunHost): Promise<void> {
  const ms = run.workflow.globalTimeoutMs;
  const ws = run.rt.store.waits;
  const startedAt = run.record.startedAt;
  if (ms === undefined || ws === undefined || startedAt === undefined) return;
  const w: WaitRecord = {
    id: waitId(run.record.id, DEADLINE_STEP),
    executionId: run.record.id,
    stepId: DEADLINE_STEP,
    workflowId: run.record.workflowId,
    kind: 'timer',
    state: 'pending',
    dueAt: startedAt + ms,
    version: 0,
    createdAt: run.rt.clock.now(),
  };
  await ws.putWait(w);
  run.rt.waitRegistered?.(w);
}
