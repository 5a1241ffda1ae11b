/**
 * What a worker remembers of the executions it claims and commits: each one's state as of
 * its last claim or commit here (the next commit plans on it without a read), and the full
 * records of its finished steps (they do not change, so a step released here reads its
 * dependencies' outputs, and a commit that finishes the execution renders its outputs,
 * without a read). Both are bounded: the oldest entries go first.
 */
import type { StepStateRecord } from '@orchestr8/core';
import type { ExecutionState } from '@orchestr8/store-postgres';
import { TERMINAL_STEP } from './leased-steps.js';

const MAX_STATES = 10_000;
const MAX_RECORDS = 1_000;

export class ExecutionMemory {
  private readonly states = new Map<string, ExecutionState>();
  private readonly records = new Map<string, Map<string, StepStateRecord>>();

  state(executionId: string): ExecutionState | undefined {
    return this.states.get(executionId);
  }

  /** The finished records known of an execution's steps. */
  recordsOf(executionId: string): ReadonlyMap<string, StepStateRecord> | undefined {
    return this.records.get(executionId);
  }

  /** Keeps the newest known state of an execution. */
  remember(state: ExecutionState): void {
    const id = state.execution.id;
    const current = this.states.get(id);
    if (current && current.journalSeq > state.journalSeq) return;
    this.states.delete(id);
    this.states.set(id, state);
    if (this.states.size > MAX_STATES) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
    }
  }

  /** The state is no longer to be trusted (a commit did not go as planned, or the execution stops). */
  forgetState(executionId: string): void {
    this.states.delete(executionId);
  }

  /** Records are dropped once the execution has no step here (outputs may be large). */
  forgetRecords(executionId: string): void {
    this.records.delete(executionId);
  }

  /** Keeps the finished ones of `recs`. */
  keepRecords(executionId: string, recs: Iterable<StepStateRecord>): void {
    let m = this.records.get(executionId);
    for (const r of recs) {
      if (!TERMINAL_STEP.has(r.status)) continue;
      if (!m) {
        m = new Map();
        this.records.set(executionId, m);
        if (this.records.size > MAX_RECORDS) {
          const oldest = this.records.keys().next().value;
          if (oldest !== undefined) this.records.delete(oldest);
        }
      }
      m.set(r.stepId, r);
    }
  }

  /**
   * Every step's full record for a plan on `light` (the remembered statuses), or undefined
   * when some finished step's record is not known here. Steps not finished in `light` are
   * the ones being committed: their outcomes carry their records.
   */
  fullSteps(executionId: string, light: readonly StepStateRecord[]): StepStateRecord[] | undefined {
    const m = this.records.get(executionId);
    const out: StepStateRecord[] = [];
    for (const s of light) {
      const r = m?.get(s.stepId);
      if (r && r.status === s.status) out.push(r);
      else if (!TERMINAL_STEP.has(s.status)) out.push(s);
      else return undefined;
    }
    return out;
  }
}
