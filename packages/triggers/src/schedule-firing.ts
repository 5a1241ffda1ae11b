/**
 * Schedules: what is due at a tick (missed occurrences caught up by policy, the state moved
 * before anything fires), one occurrence fired with its overlap policy, and when the next is due.
 */
import type { Outcome, TriggerContext } from './flow-control.js';
import type { Active, SchedulerContext } from './scheduler-context.js';
import { iso } from './trigger-correlation.js';
import type { TriggerState } from './trigger-store.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
export const CATCH_UP_SCAN_LIMIT = 100_000;

/** Whether an execution this trigger started is still going (here, or per the store after a restart). */
const liveRuns = async (sc: SchedulerContext, a: Active): Promise<string[]> => {
  const { engine, store } = sc;
  if (a.live.size > 0) return [...a.live];
  const st = await store.get(a.key);
  if (!st?.lastExecutionId) return [];
  const rec = await engine.store.getExecution(st.lastExecutionId);
  return rec && !TERMINAL.has(rec.status) ? [rec.id] : [];
};

const scheduleContext = (a: Active, t: number): TriggerContext => ({
  name: a.trigger.name,
  kind: 'schedule',
  time: iso(t),
  timestamp: t,
});

/** One occurrence of a schedule, with its overlap policy. */
export const fireOccurrence = async (
  sc: SchedulerContext,
  a: Active,
  t: number,
  fromBuffer = false,
): Promise<Outcome> => {
  const { engine, clock, logger } = sc;
  const overlap = a.trigger.schedule?.overlap ?? 'allowAll';
  if (overlap !== 'allowAll') {
    const live = await liveRuns(sc, a);
    if (live.length > 0) {
      if (overlap === 'skip' || (overlap === 'bufferOne' && !fromBuffer && a.buffered !== undefined)) {
        logger?.info(
          { workflowId: a.workflow.id, trigger: a.trigger.name, time: iso(t) },
          'occurrence skipped: the previous run is still going',
        );
        return { status: 'dropped', reason: 'skipped' };
      }
      if (overlap === 'bufferOne') {
        a.buffered = t;
        return { status: 'queued' };
      }
      for (const id of live)
        if (
          !engine.cancel(id, {
            reason: `cancelled by trigger ${a.trigger.name}: the next occurrence is due`,
          })
        )
          await engine.store.requestCancel(id, `cancelled by trigger ${a.trigger.name}`, clock.now());
    }
  }
  return a.flow.submit(scheduleContext(a, t));
};

export const tickSchedules = async (sc: SchedulerContext) => {
  const { clock, store, logger, active, toleranceMs } = sc;
  const now = clock.now();
  // One read of every state per tick and one write of those that move, not one of each per trigger.
  const states = new Map((await store.list()).map((st) => [st.key, st]));
  const writes: TriggerState[] = [];
  const due: { a: Active; times: number[] }[] = [];
  for (const a of active.values()) {
    const s = a.trigger.schedule;
    if (!s || !a.calendar) continue;
    let st = states.get(a.key);
    if (!st) {
      // First activation: occurrences before now are not "missed".
      st = { key: a.key, paused: false, lastFireAt: now, updatedAt: now };
      writes.push(st);
      continue;
    }
    if (st.paused) continue;
    const last = st.lastFireAt ?? now;
    if (last >= now) continue;
    const horizon = Math.max(s.catchUp.windowMs, toleranceMs);
    const from = Math.max(last, now - horizon);
    // Most triggers are not due: the next occurrence settles it without a scan.
    const next = a.calendar.next(from);
    const times = next === undefined || next > now ? [] : a.calendar.between(from, now, CATCH_UP_SCAN_LIMIT);
    if (times.length === 0) {
      if (from > last) writes.push({ ...st, lastFireAt: from, updatedAt: now });
      continue;
    }
    const onTime = times.filter((t) => now - t <= toleranceMs);
    const missed = times.filter((t) => now - t > toleranceMs && now - t <= s.catchUp.windowMs);
    let caughtUp: number[] = [];
    if (s.catchUp.policy === 'last') caughtUp = missed.slice(-1);
    else if (s.catchUp.policy === 'all') caughtUp = missed.slice(-s.catchUp.max);
    if (missed.length > caughtUp.length)
      logger?.info(
        {
          workflowId: a.workflow.id,
          trigger: a.trigger.name,
          missed: missed.length,
          caughtUp: caughtUp.length,
        },
        'missed occurrences: the catch-up policy decided',
      );
    writes.push({ ...st, lastFireAt: times[times.length - 1]!, updatedAt: now });
    due.push({ a, times: [...caughtUp, ...onTime] });
  }
  // The state moves first: a crash mid-way must not fire these again beyond the idempotency keys.
  await store.putMany(writes);
  // Triggers fire side by side (their starts share the engine's commits); one trigger's
  // occurrences stay in order.
  await Promise.all(
    due.map(async ({ a, times }) => {
      for (const t of times) await fireOccurrence(sc, a, t);
    }),
  );
};

/** The next occurrence of any active schedule after now. */
export const nextDue = async (sc: SchedulerContext): Promise<number | undefined> => {
  const { clock, active } = sc;
  let next: number | undefined;
  const now = clock.now();
  for (const a of active.values()) {
    if (!a.calendar) continue;
    const t = a.calendar.next(now);
    if (t !== undefined && (next === undefined || t < next)) next = t;
  }
  return next;
};
