import type { CompiledStep } from '@orchestr8/schema';
import type { StepStatus } from './types.js';

const TERMINAL: ReadonlySet<StepStatus> = new Set(['completed', 'failed', 'skipped', 'cancelled']);

export type Readiness = { kind: 'wait' } | { kind: 'run' } | { kind: 'skip'; reason: string };

/**
 * What a step does given its dependencies' states: wait (one is not finished), run, or
 * skip with the reason. Pure, so the in-process scheduler and distributed workers decide
 * the same way.
 */
export function decideStep(
  step: CompiledStep,
  statusOf: (stepId: string) => StepStatus,
  onErrorOf: (stepId: string) => CompiledStep['onError'],
): Readiness {
  let skip: string | undefined;
  for (const d of step.dependencies) {
    const st = statusOf(d);
    if (!TERMINAL.has(st)) return WAIT;
    if (skip !== undefined || step.trigger === 'all_done') continue;
    if (st === 'completed') continue;
    if (st === 'failed' && onErrorOf(d) === 'continue') continue;
    skip =
      st === 'skipped'
        ? `dependency "${d}" was skipped`
        : st === 'cancelled'
          ? `dependency "${d}" was cancelled`
          : `dependency "${d}" failed`;
  }
  return skip === undefined ? RUN : { kind: 'skip', reason: skip };
}

const WAIT: Readiness = { kind: 'wait' };
const RUN: Readiness = { kind: 'run' };
