/**
 * The scheduler's lifecycle: a timer loop that re-reads the active workflows every sync
 * interval and, while this scheduler holds the lease, fires what is due; start and stop.
 */
import type { TimerHandle } from '@orchestr8/common';
import { nextDue, tickSchedules } from './schedule-firing.js';
import type { SchedulerContext } from './scheduler-context.js';
import { closeFlow } from './trigger-runs.js';

const LEASE = 'scheduler';

export interface SchedulerLoopOptions {
  syncIntervalMs: number;
  leaseTtlMs: number;
  /** This scheduler's lease owner id. */
  owner: string;
  /** Re-reads the active workflows. */
  sync: () => Promise<void>;
}

export interface SchedulerLoop {
  /** Whether this scheduler holds the lease. */
  readonly leader: boolean;
  /** Fires what is due now if this scheduler holds (or takes) the lease; ticks in flight are shared. */
  tick(): Promise<boolean>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createSchedulerLoop(sc: SchedulerContext, options: SchedulerLoopOptions): SchedulerLoop {
  const { clock, store, logger, active } = sc;
  const { syncIntervalMs, leaseTtlMs, owner, sync } = options;
  let timer: TimerHandle | undefined;
  let running = false;
  let leader = false;
  let ticking: Promise<boolean> | undefined;

  const tick = async (): Promise<boolean> => {
    ticking ??= (async () => {
      try {
        leader = await store.acquireLease(LEASE, owner, clock.now(), leaseTtlMs);
        if (!leader) return false;
        await tickSchedules(sc);
        return true;
      } finally {
        ticking = undefined;
      }
    })();
    return ticking;
  };

  let lastSync = Number.NEGATIVE_INFINITY;
  const loop = async () => {
    if (!running) return;
    try {
      if (clock.now() - lastSync >= syncIntervalMs) {
        lastSync = clock.now();
        await sync();
      }
      await tick();
    } catch (e) {
      logger?.warn({ error: (e as Error).message }, 'scheduler tick failed');
    }
    if (!running) return;
    const next = await nextDue(sc);
    const wait = Math.max(
      0,
      Math.min(syncIntervalMs, leaseTtlMs / 3, next === undefined ? syncIntervalMs : next - clock.now()),
    );
    timer = clock.setTimeout(() => void loop(), wait, { unref: true });
  };

  return {
    get leader() {
      return leader;
    },
    tick,
    async start() {
      running = true;
      await loop();
    },
    async stop() {
      running = false;
      timer?.cancel();
      await ticking;
      for (const a of active.values()) closeFlow(sc, a, 'the scheduler stopped');
      if (leader) await store.releaseLease(LEASE, owner);
      leader = false;
    },
  };
}
