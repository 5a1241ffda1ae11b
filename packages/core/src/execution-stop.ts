import { CancelledError, type Orchestr8Error, serializeError } from '@orchestr8/common';
import { EventType } from './events.js';
import { ExecutionState } from './execution-state.js';
import type { StepRun } from './run-host.js';
import { endSpan } from './tracing.js';

/**
 * Stopping an execution: halting it (a failed step, a cancel, the global timeout) with the
 * grace period for running steps, cancelling the steps that will not run, and suspending it
 * for a process shutdown. Finishing it once stopped is the run's (`finalize`).
 */
export abstract class StoppableExecution extends ExecutionState {
  /** Records the outcome, commits it and resolves the result (once). */
  protected abstract finalize(): Promise<void>;

  /** Stops the execution: no new step starts; running steps are aborted and given the grace period. */
  halt(status: 'failed' | 'cancelled', error: Orchestr8Error, reason: string): void {
    if (this.stop || this.finalizing) return;
    if (this.redactor.active) reason = this.redactor.redact(reason) as string;
    this.stop = { status, error, reason };
    this.log(EventType.executionCancelling, undefined, undefined, {
      status,
      reason,
      gracePeriodMs: this.workflow.gracePeriodMs,
      error: serializeError(error),
    });
    const abortReason =
      status === 'cancelled'
        ? new CancelledError(reason)
        : new CancelledError(`execution stopping: ${reason}`);
    this.cancelToken.abort(abortReason);
    // Steps that never started are cancelled now.
    const verb = status === 'cancelled' ? 'cancelled' : 'failed';
    for (const sr of this.steps) {
      if (sr.terminal || sr.record.status !== 'pending') continue;
      if (sr.compiled.fallbackOnly) continue;
      // A pending step with attempts is one a resume put back after its process stopped: it
      // had started, so "before the step started" would not be true.
      this.cancelStep(
        sr,
        sr.compiled.wait !== undefined && sr.record.attempts > 0
          ? `execution ${verb} while this step waited`
          : sr.record.attempts > 0
            ? `execution ${verb} while this step was interrupted (the process running it stopped); not run again`
            : `execution ${verb} before the step started`,
      );
    }
    if (this.running > 0) {
      this.graceTimer = this.rt.clock.setTimeout(() => this.forceStop(), this.workflow.gracePeriodMs);
    }
    this.afterGrace();
  }

  /** Cancelled by a caller: graceful, or forced (no grace period). */
  cancel(reason: string, force = false): void {
    if (!this.stop) this.halt('cancelled', new CancelledError(reason), reason);
    if (force) this.forceStop();
  }

  cancelStep(sr: StepRun, reason: string): void {
    if (sr.record.status === 'waiting') this.waitingSteps--;
    // A wait step's registered wait (this run's, or one it resumed with) goes with it.
    const ws = this.rt.store.waits;
    if (sr.compiled.wait !== undefined && sr.record.attempts > 0 && ws !== undefined)
      void ws.deleteWait(`${this.record.id}/${sr.compiled.id}`).catch(() => {});
    this.recordCancelled(sr, reason);
    sr.terminal = true;
    if (!sr.compiled.fallbackOnly) this.unfinished--;
  }

  /** Records a step as cancelled without settling it (the caller settles). */
  recordCancelled(sr: StepRun, reason: string): void {
    const rec = sr.record;
    rec.status = 'cancelled';
    rec.statusReason = reason;
    rec.finishedAt = this.rt.clock.now();
    this.log(EventType.stepCancelled, sr.compiled.id, rec.attempts || undefined, { reason });
    this.saveStep(sr);
    if (sr.span !== undefined) {
      endSpan(sr.span, 'cancelled');
      sr.span = undefined;
    }
  }

  /** After the grace period: steps still running are recorded cancelled and abandoned. */
  protected forceStop(): void {
    this.graceTimer = undefined;
    for (const sr of this.steps) {
      if (sr.terminal) continue;
      if (sr.record.status === 'running' || sr.record.status === 'retrying') {
        this.cancelStep(sr, 'did not stop within the grace period');
      }
    }
    this.afterGrace(true);
  }

  protected afterGrace(forced = false): void {
    if (!this.stop || this.finalizing) return;
    if (this.running > 0 && !forced) return;
    for (const sr of this.steps) {
      if (
        !sr.terminal &&
        !sr.compiled.fallbackOnly &&
        sr.record.status !== 'running' &&
        sr.record.status !== 'retrying'
      ) {
        this.cancelStep(sr, 'execution stopped');
      }
    }
    void this.finalize();
  }

  isAbandoned(sr: StepRun): boolean {
    return sr.terminal || this.detached;
  }

  /**
   * For a graceful process shutdown: starts no new step, lets running steps finish within
   * `graceMs`, then detaches. The execution stays `running` in the store and resumes on
   * the next start; steps still running then run again (at-least-once).
   */
  suspend(graceMs: number): Promise<void> {
    if (this.finalizing) return this.result.then(() => {});
    if (this.suspended !== undefined) return this.suspendedPromise!;
    this.suspendedPromise = new Promise<void>((resolve) => {
      const timer = this.running > 0 ? this.rt.clock.setTimeout(() => this.detach(), graceMs) : undefined;
      this.suspended = { resolve, timer };
    });
    this.log(EventType.executionSuspended, undefined, undefined, { graceMs, running: this.running });
    this.checkSuspended();
    return this.suspendedPromise;
  }

  protected checkSuspended(): void {
    if (this.suspended !== undefined && this.running === 0 && !this.detached) this.detach();
  }

  protected detach(): void {
    if (this.detached || !this.suspended) return;
    this.detached = true;
    if (this.span !== undefined) {
      for (const sr of this.steps) if (sr.span !== undefined) endSpan(sr.span, 'suspended');
      endSpan(this.span, 'suspended');
    }
    // Abandoned attempts and backoff sleeps stop; their outcomes are ignored.
    this.cancelToken.abort(new CancelledError('engine shut down; the execution resumes on the next start'));
    this.suspended.timer?.cancel();
    this.graceTimer?.cancel();
    this.globalTimer?.cancel();
    this.suspended.resolve();
  }
}
