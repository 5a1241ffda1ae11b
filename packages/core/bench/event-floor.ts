/**
 * What the event contract alone costs: async.auto running the W3/W4 DAG while doing only what
 * the engine's contract asks of every execution — an entry object for each journal entry the
 * engine writes (execution started and finished, each step started and completed: 22 for the
 * 10-step diamond, with the same fields and data), kept in the execution's journal while it
 * runs and published through the engine's own EventBus to a subscriber. No store, no
 * templates, no policies, no retention; written plainly (closures per execution), not tuned.
 * Its ratio to plain async.auto shows, in the same run, how much of async.auto's speed that
 * contract alone leaves.
 */

import { type EngineEvent, EventBus } from '@orchestr8/core';
import asyncLib from 'async';
import { NOOP, type PlainStep } from './workloads.js';

interface Run {
  id: string;
  seq: number;
  startMono: number;
  epochBase: number;
  journal: EngineEvent[];
}

const auto = asyncLib.auto as unknown as (
  tasks: Record<string, unknown>,
  concurrency: number,
) => Promise<Record<string, { v: unknown }>>;

/** One W3 execution at a time or many: each call runs the DAG once, journalling as the engine does. */
export function eventContractRunner(
  steps: readonly PlainStep[],
  workflowId: string,
): { run: (n: number) => Promise<void>; bus: EventBus } {
  const bus = new EventBus();
  bus.subscribe(() => {});
  let ids = 0;
  const entry = (r: Run, type: string, stepId: string | undefined, data: Record<string, unknown>) => {
    const mono = performance.now();
    const e: EngineEvent = {
      seq: ++r.seq,
      ts: Math.round(r.epochBase + mono),
      elapsedMs: Math.round((mono - r.startMono) * 1000) / 1000,
      type,
      stepId,
      attempt: stepId === undefined ? undefined : 1,
      data,
      executionId: r.id,
      workflowId,
    };
    r.journal.push(e);
    bus.publish(e);
  };
  const step = async (r: Run, stepId: string, input: { v: unknown }) => {
    const t = performance.now();
    entry(r, 'step.started', stepId, { agent: NOOP, input });
    const output = await Promise.resolve(input);
    entry(r, 'step.completed', stepId, { output, durationMs: performance.now() - t });
    return output;
  };
  const tasksFor = (r: Run, n: number) => {
    const tasks: Record<string, unknown> = {};
    for (const s of steps) {
      if (s.deps.length === 0) tasks[s.id] = async () => step(r, s.id, { v: n });
      else {
        const first = s.deps[0]!;
        tasks[s.id] = [
          ...s.deps,
          async (results: Record<string, { v: unknown }>) => step(r, s.id, { v: results[first]!.v }),
        ];
      }
    }
    return tasks;
  };
  const last = steps[steps.length - 1]!.id;
  const run = async (n: number) => {
    const startMono = performance.now();
    const r: Run = { id: `x${++ids}`, seq: 0, startMono, epochBase: Date.now() - startMono, journal: [] };
    entry(r, 'execution.started', undefined, { workflowId, workflowVersion: '1.0.0', inputs: { n } });
    const results = await auto(tasksFor(r, n), Number.POSITIVE_INFINITY);
    entry(r, 'execution.completed', undefined, {
      durationMs: performance.now() - startMono,
      outputs: { [last]: results[last] },
    });
  };
  return { run, bus };
}
