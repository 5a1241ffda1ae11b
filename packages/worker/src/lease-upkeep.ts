/**
 * A worker's upkeep of its leases: heartbeats extend the leases of the steps it holds (and
 * tell it which it lost, and of stops and cancels), stop requests reach its running steps,
 * and sweeps return expired leases to the queue and apply cancels and global timeouts.
 */
import { ErrorCode } from '@orchestr8/common';
import type { StepStateRecord, StopRecord } from '@orchestr8/core';
import type { Coordinator } from './coordinator.js';
import { key, type Running } from './leased-steps.js';

export interface UpkeepHost {
  readonly id: string;
  readonly leaseMs: number;
  readonly coordinator: Coordinator;
  /** Every step the worker holds a lease on. */
  readonly active: ReadonlyMap<string, Running>;
  stopping(): boolean;
  /** Looks for work (after expired leases came back to the queue). */
  fill(): void;
  report(message: string, error: unknown): void;
}

export class LeaseUpkeep {
  private beating = false;
  private sweeping = false;
  private sweeps = 0;

  constructor(private readonly host: UpkeepHost) {}

  async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      const leases: { executionId: string; stepId: string }[] = [];
      const progress: {
        executionId: string;
        stepId: string;
        status: StepStateRecord['status'];
        attempts: number;
      }[] = [];
      const held = new Map<string, Running>();
      for (const e of this.host.active.values()) {
        if (e.abandoned) continue;
        const ids = { executionId: e.claimed.executionId, stepId: e.claimed.stepId };
        leases.push(ids);
        held.set(key(ids.executionId, ids.stepId), e);
        if (e.task && !e.finished) progress.push({ ...ids, ...e.task.progress() });
      }
      const sentAt = Date.now();
      const r = await this.host.coordinator.queue.heartbeat(
        this.host.id,
        leases,
        progress,
        this.host.leaseMs,
      );
      for (const lost of r.lost) {
        const k = key(lost.executionId, lost.stepId);
        const e = held.get(k);
        held.delete(k);
        if (!e) continue;
        e.abandoned = true;
        e.task?.stop({
          status: 'cancelled',
          reason: 'lease lost to another worker',
          error: {
            name: 'Orchestr8Error',
            code: ErrorCode.CANCELLED,
            message: 'lease lost',
            retryable: false,
          },
        });
      }
      for (const e of held.values()) e.leaseUntil = Math.max(e.leaseUntil, sentAt + this.host.leaseMs);
      for (const [id, stop] of r.stops) this.applyStop(id, stop);
      for (const c of r.cancels) await this.host.coordinator.cancel(c.executionId, c.reason);
    } catch (error) {
      this.host.report('heartbeat failed', error);
    } finally {
      this.beating = false;
    }
  }

  onStop(executionId: string): void {
    let mine = false;
    for (const e of this.host.active.values()) if (e.claimed.executionId === executionId) mine = true;
    if (!mine) return;
    this.host.coordinator.queue.stops([executionId]).then(
      (stops) => {
        for (const [id, stop] of stops) this.applyStop(id, stop);
      },
      (error: unknown) => this.host.report('reading a stop failed', error),
    );
  }

  private applyStop(executionId: string, stop: StopRecord): void {
    for (const e of this.host.active.values()) {
      if (e.claimed.executionId !== executionId || e.stop) continue;
      e.stop = stop;
      e.task?.stop(stop);
    }
  }

  /** Expired leases back to the queue; cancel requests and global timeouts applied. */
  async sweep(cancelsOnly: boolean): Promise<void> {
    if (this.sweeping || this.host.stopping()) return;
    this.sweeping = true;
    const queue = this.host.coordinator.queue;
    try {
      if (!cancelsOnly && (await queue.reclaimExpired()) > 0) this.host.fill();
      for (const c of await queue.unhandledCancels())
        await this.host.coordinator.cancel(c.executionId, c.reason);
      if (cancelsOnly) return;
      for (const o of await queue.overdue()) await this.host.coordinator.timeout(o.id);
      if (++this.sweeps % 60 === 0) await queue.forgetDeadWorkers(Math.max(60_000, this.host.leaseMs * 4));
    } catch (error) {
      this.host.report('sweep failed', error);
    } finally {
      this.sweeping = false;
    }
  }
}
