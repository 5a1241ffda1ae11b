import { CancelledError, ErrorCode, Orchestr8Error, TimeoutError } from '@orchestr8/common';
import { renderValue } from '@orchestr8/schema';
import { EventType } from './events.js';
import { buildResult, type ExecutionResult, resultOf } from './execution-result.js';
import { StoppableExecution } from './execution-stop.js';
import { decideStep } from './readiness.js';
import type { RunHost, StepRun } from './run-host.js';
import { runStep } from './step-runner.js';
import { graphOf, type StepGraph } from './step-runs.js';
import { endSpan, startExecutionSpan } from './tracing.js';
import type { ExecutionStatus, StepStateRecord } from './types.js';
import { registerDeadline } from './wait-deadline.js';
import { runWaitStep } from './wait-step.js';
import type { CommitWaiter } from './write-batcher.js';

// Where they lived before: other modules import them from here.
export { buildResult, type ExecutionResult, type StepResultView } from './execution-result.js';
export type { StepRun } from './run-host.js';

/**
 * One execution: the DAG state machine. A step is released as soon as its last dependency
 * reaches a terminal state (not level by level) and its completion is durable; ready steps
 * start in FIFO order under `maxConcurrentSteps`.
 */
export class ExecutionRun extends StoppableExecution implements CommitWaiter<StepRun>, RunHost {
  /** Told once the execution is finished and committed, just before its result resolves. */
  onFinished: ((run: ExecutionRun) => void) | undefined;
  /** Told once the run has left memory for its waits (status `waiting` committed). */
  onParked: ((run: ExecutionRun) => void) | undefined;
  private stepGraph: StepGraph | undefined;

  /** The workflow's steps by position (made on first use: a worker's one-step run never schedules). */
  private get graph(): StepGraph {
    if (this.stepGraph === undefined) this.stepGraph = graphOf(this.workflow);
    return this.stepGraph;
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /** Starts (or resumes) scheduling. The execution record must already be stored. */
  begin(resumed: boolean, cancelReason?: string): void {
    const rt = this.rt;
    // The journal's start (taken when the run was made, just before): one clock read fewer.
    this.startMono = this.journal.startMono;
    if (this.record.status !== 'running') {
      this.record.status = 'running';
      this.record.startedAt ??= rt.clock.now();
      this.record.statusReason = resumed ? 'resumed' : 'started';
      this.saveExecution();
    }
    if (this.tracing) {
      this.span = startExecutionSpan(rt.tracer, this.traceParent, {
        workflowId: this.workflow.id,
        workflowVersion: this.workflow.version,
        executionId: this.record.id,
        resumed,
      });
    }
    this.log(
      resumed ? EventType.executionResumed : EventType.executionStarted,
      undefined,
      undefined,
      {
        workflowId: this.workflow.id,
        workflowVersion: this.workflow.version,
        inputs: this.record.inputs,
      },
      this.startMono,
    );
    // A resumed execution already past its deadline (it waited through it) stops before any step runs.
    let overdue = false;
    if (this.workflow.globalTimeoutMs !== undefined) {
      const elapsed = resumed && this.record.startedAt ? rt.clock.now() - this.record.startedAt : 0;
      overdue = resumed && elapsed >= this.workflow.globalTimeoutMs;
      if (!overdue)
        this.globalTimer = rt.clock.setTimeout(
          () => this.globalTimeout(),
          this.workflow.globalTimeoutMs - elapsed,
        );
    }
    for (const sr of this.steps) {
      if (sr.compiled.fallbackOnly) continue;
      if (!sr.terminal) this.unfinished++;
    }
    // Release steps whose dependencies are all terminal already (roots, or after a resume).
    const steps = this.steps;
    const dependencies = this.graph.dependencies;
    for (let i = 0; i < steps.length; i++) {
      const sr = steps[i]!;
      if (sr.terminal || sr.compiled.fallbackOnly) continue;
      const deps = dependencies[i]!;
      let waiting = 0;
      for (let j = 0; j < deps.length; j++) if (!steps[deps[j]!]!.terminal) waiting++;
      sr.waiting = waiting;
    }
    if (cancelReason !== undefined) {
      // A cancel request recorded while no process ran it: honour it before any step starts.
      this.halt('cancelled', new CancelledError(cancelReason), cancelReason);
      return;
    }
    if (overdue) {
      this.globalTimeout();
      return;
    }
    for (const sr of this.steps) {
      if (!sr.terminal && !sr.compiled.fallbackOnly && sr.waiting === 0) this.release(sr);
    }
    if (this.unfinished === 0) void this.finalize();
    else this.pump();
  }

  /** A method, not a closure made by every begin(): most workflows have no global timeout. */
  private globalTimeout(): void {
    this.log(EventType.timeoutExceeded, undefined, undefined, { timeoutMs: this.workflow.globalTimeoutMs });
    this.halt(
      'failed',
      new TimeoutError(`workflow exceeded its global timeout of ${this.workflow.globalTimeoutMs} ms`),
      'global timeout exceeded',
    );
  }

  /** Decides what a step whose dependencies are all terminal does: run, or skip with the reason. */
  private release(sr: StepRun): void {
    if (this.stop) return;
    // The common case, decided without decideStep's callbacks: every dependency completed.
    const deps = this.graph.dependencies[sr.index]!;
    const steps = this.steps;
    let allCompleted = true;
    for (let i = 0; i < deps.length; i++) {
      if (steps[deps[i]!]!.record.status !== 'completed') {
        allCompleted = false;
        break;
      }
    }
    if (allCompleted) {
      this.ready.push(sr);
      return;
    }
    const r = decideStep(
      sr.compiled,
      (id) => this.stepRun(id)!.record.status,
      (id) => this.stepRun(id)!.compiled.onError,
    );
    if (r.kind === 'run') this.ready.push(sr);
    else if (r.kind === 'skip') this.skip(sr, r.reason);
  }

  skip(sr: StepRun, reason: string): void {
    const rec = sr.record;
    rec.status = 'skipped';
    rec.statusReason = reason;
    rec.skipReason = reason;
    rec.finishedAt = this.rt.clock.now();
    this.log(EventType.stepSkipped, sr.compiled.id, undefined, { reason });
    this.saveStep(sr);
    this.settle(sr, false);
  }

  private pump(): void {
    if (this.suspended !== undefined) {
      this.checkSuspended();
      return;
    }
    // A step whose agent returns synchronously finishes inside runStep and pumps again: the
    // loop below picks up what it released, instead of recursing once per step.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.running < this.maxConcurrent && this.readyHead < this.ready.length && !this.stop) {
        const sr = this.ready[this.readyHead++]!;
        this.running++;
        runStep(this, sr);
      }
    } finally {
      this.pumping = false;
    }
    if (this.readyHead > 256 && this.readyHead === this.ready.length) {
      this.ready = [];
      this.readyHead = 0;
    }
    if (this.waitingSteps > 0 && this.running === 0 && this.readyHead >= this.ready.length && !this.stop)
      void this.park();
  }

  runWaitStep(sr: StepRun): void {
    runWaitStep(this, sr);
  }

  /** Called by a wait step that registered its wait: it gives back its slot and waits. */
  stepWaiting(_sr: StepRun): void {
    this.running--;
    this.waitingSteps++;
    if (this.detached) return;
    if (this.stop) this.afterGrace();
    else this.pump();
  }

  /**
   * A wait of a step of this (live) run was woken: the step runs again and takes the
   * outcome. False when the run is leaving memory (the engine resumes it from the store).
   */
  wakeStep(stepId: string): boolean {
    if (this.parking || this.detached || this.stop || this.finalizing) return false;
    const sr = this.stepRun(stepId);
    if (sr === undefined || sr.record.status !== 'waiting') return false;
    this.waitingSteps--;
    this.running++;
    runStep(this, sr);
    return true;
  }

  /** Every unfinished step waits: commit status `waiting`, then leave memory. */
  private async park(): Promise<void> {
    if (this.parking || this.suspended !== undefined) return;
    this.parking = true;
    const waiting = this.steps.filter((s) => s.record.status === 'waiting').map((s) => s.compiled.id);
    try {
      await registerDeadline(this);
    } catch (e) {
      // Stays in memory with its own timer rather than leave without its deadline.
      this.parking = false;
      this.rt.logger.warn(
        `could not record the global timeout of ${this.record.id}: ${(e as Error).message}`,
      );
      return;
    }
    this.record.status = 'waiting';
    this.record.statusReason = `waiting: ${waiting.join(', ')}`;
    this.log(EventType.executionWaiting, undefined, undefined, { steps: waiting });
    this.saveExecution();
    try {
      await this.rt.batcher.barrier();
    } catch {
      // The store is failing; the run still leaves memory (its state is what was committed).
    }
    if (this.stop || this.finalizing) return;
    this.detached = true;
    this.graceTimer?.cancel();
    this.globalTimer?.cancel();
    if (this.span !== undefined) {
      for (const sr of this.steps) if (sr.span !== undefined) endSpan(sr.span, 'waiting');
      endSpan(this.span, 'waiting');
    }
    this.onParked?.(this);
  }

  /** The resolver of this run's result, for the run that resumes the execution after its waits. */
  resultResolver(): (r: ExecutionResult) => void {
    return this.resolveResult;
  }

  private releaseOne(sr: StepRun): void {
    if (this.stop) return;
    const dependents = this.graph.dependents[sr.index]!;
    const steps = this.steps;
    for (let i = 0; i < dependents.length; i++) {
      const d = steps[dependents[i]!]!;
      if (d.terminal || d.compiled.fallbackOnly) continue;
      if (--d.waiting === 0) this.release(d);
    }
  }

  get runningSteps(): number {
    return this.running;
  }

  /** Called by runStep when the step reached a terminal state (or was abandoned). */
  stepDone(sr: StepRun): void {
    this.running--;
    if (this.detached) return;
    // A step abandoned after the grace period is already terminal; its late outcome is ignored.
    if (sr.terminal) this.afterGrace();
    else this.settle(sr, true);
  }

  /** Called by runStep when even recording the step's failure threw (an engine bug). */
  stepCrashed(error: unknown): void {
    this.running--;
    this.halt(
      'failed',
      new Orchestr8Error(ErrorCode.INTERNAL, 'engine error while running a step', { cause: error }),
      'internal error',
    );
  }

  /**
   * Marks a step terminal and releases its dependents. With `durable`, dependents start
   * only after the step's state is committed to the store.
   */
  settle(sr: StepRun, durable: boolean): void {
    if (sr.terminal) return;
    sr.terminal = true;
    if (!sr.compiled.fallbackOnly) this.unfinished--;
    const dependents = sr.compiled.dependents;
    if (this.stop) {
      this.afterGrace();
      return;
    }
    if (dependents.length === 0 || !durable) {
      this.releaseDependents(sr);
      return;
    }
    this.rt.batcher.afterCommit(this, sr);
  }

  /** The batch holding a settled step's state is committed: its dependents may start. */
  committed(sr: StepRun): void {
    this.releaseDependents(sr);
  }

  commitFailed(_sr: StepRun, error: unknown): void {
    this.halt('failed', storeError(error), 'store write failed');
  }

  private releaseDependents(sr: StepRun): void {
    // Skips cascade (a skipped step releases its dependents at once): queued, not recursed
    // into, so a long chain of skipped steps cannot overflow the stack.
    if (this.releasing) {
      if (this.cascade === undefined) this.cascade = [sr];
      else this.cascade.push(sr);
      return;
    }
    this.releasing = true;
    try {
      this.releaseOne(sr);
      const cascade = this.cascade;
      if (cascade !== undefined) {
        for (let q = 0; q < cascade.length && !this.stop; q++) this.releaseOne(cascade[q]!);
      }
    } finally {
      this.releasing = false;
      if (this.cascade !== undefined) this.cascade.length = 0;
    }
    if (this.unfinished === 0) void this.finalize();
    else if (this.stop) this.afterGrace();
    else this.pump();
  }

  // ---- completion ---------------------------------------------------------------------

  protected async finalize(): Promise<void> {
    if (this.finalizing || this.detached) return;
    this.finalizing = true;
    this.graceTimer?.cancel();
    this.globalTimer?.cancel();
    const rt = this.rt;
    const rec = this.record;
    let outputs: unknown;
    let status: ExecutionStatus;
    let error: Orchestr8Error | undefined;
    if (this.stop) {
      status = this.stop.status;
      error = this.stop.error;
      rec.statusReason = this.stop.reason;
    } else {
      status = 'completed';
      try {
        outputs = this.renderOutputs();
      } catch (e) {
        status = 'failed';
        error =
          e instanceof Orchestr8Error
            ? e
            : new Orchestr8Error(ErrorCode.EXPRESSION, 'could not render the workflow outputs', { cause: e });
        rec.statusReason = 'outputs could not be rendered';
      }
    }
    // Fallback-only steps that were never needed are recorded as skipped.
    for (const sr of this.steps) {
      if (sr.compiled.fallbackOnly && sr.record.status === 'pending') {
        sr.record.status = 'skipped';
        sr.record.statusReason = sr.record.skipReason = 'fallback not needed';
        sr.terminal = true;
        this.saveStep(sr);
      }
    }
    rec.status = status;
    const now = rt.clock.now();
    rec.finishedAt = now;
    if (status === 'completed') {
      rec.result = outputs;
      rec.statusReason ??= 'all steps finished';
      // reasons that describe how the run began, not how it ended
      const r = rec.statusReason;
      if (r === 'started' || r === 'resumed' || r === 'woken') rec.statusReason = 'all steps finished';
    } else if (error) rec.error = this.errorRecord(error);
    const type =
      status === 'completed'
        ? EventType.executionCompleted
        : status === 'failed'
          ? EventType.executionFailed
          : EventType.executionCancelled;
    const mono = rt.clock.monotonic();
    const data: Record<string, unknown> = { durationMs: round(mono - this.startMono) };
    if (status === 'completed') data.outputs = outputs;
    else data.error = rec.error;
    if (this.journal.dropped > 0) data.journalDropped = this.journal.dropped;
    this.log(type, undefined, undefined, data, mono);
    this.saveExecution(now);
    if (this.span !== undefined) {
      for (const sr of this.steps)
        if (sr.span !== undefined) endSpan(sr.span, sr.record.status, sr.record.error);
      endSpan(this.span, status, rec.error);
    }
    try {
      await rt.batcher.barrier();
    } catch {
      // The store is failing; the in-memory result is still returned to the caller.
    }
    this.onFinished?.(this);
    // The run is over: the scope's view of the steps (the same records) is the result's.
    this.resolveResult(
      resultOf(rec, this.scope.steps as Record<string, StepStateRecord>, this.journal.dropped),
    );
  }

  private renderOutputs(): unknown {
    if (this.workflow.outputs !== undefined) return renderValue(this.workflow.outputs, this.scope);
    const out: Record<string, unknown> = {};
    for (const sr of this.steps) {
      if (
        sr.compiled.dependents.length === 0 &&
        !sr.compiled.fallbackOnly &&
        sr.record.status === 'completed'
      ) {
        out[sr.compiled.id] = sr.record.output;
      }
    }
    return out;
  }

  toResult(): ExecutionResult {
    return buildResult(
      this.record,
      this.steps.map((s) => s.record),
      this.journal.dropped,
    );
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function storeError(error: unknown): Orchestr8Error {
  return new Orchestr8Error(ErrorCode.STORE, 'the store failed to commit a write', {
    cause: error,
    retryable: false,
  });
}
