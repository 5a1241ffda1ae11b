/**
 * The timeline (Gantt) of an execution: one row per step that ran, a bar per attempt, and
 * after a failed attempt that was retried, the back-off it waited. Times are relative to the
 * first attempt, as fractions of the whole span, so the view only scales them.
 */
import type { StepView } from './execution-state.js';

export interface Bar {
  kind: 'attempt' | 'backoff';
  attempt: number;
  outcome: string;
  /** Start and end, in ms from the timeline's start. */
  start: number;
  end: number;
  /** Still going (drawn up to now). */
  open: boolean;
}

export interface TimelineRow {
  stepId: string;
  bars: Bar[];
}

export interface Timeline {
  rows: TimelineRow[];
  /** Epoch ms of the timeline's start. */
  origin: number;
  /** ms from start to the last end (or now). */
  span: number;
}

export function buildTimeline(steps: readonly StepView[], now: number): Timeline {
  let origin = Number.POSITIVE_INFINITY;
  for (const s of steps) for (const a of s.attempts) origin = Math.min(origin, a.startedAt);
  if (!Number.isFinite(origin)) return { rows: [], origin: now, span: 0 };
  let last = origin;
  const rows: TimelineRow[] = [];
  for (const s of steps) {
    if (s.attempts.length === 0) continue;
    const bars: Bar[] = [];
    s.attempts.forEach((a, i) => {
      const open = a.finishedAt === undefined;
      const end = a.finishedAt ?? now;
      bars.push({
        kind: 'attempt',
        attempt: a.attempt,
        outcome: a.outcome,
        start: a.startedAt - origin,
        end: end - origin,
        open,
      });
      last = Math.max(last, end);
      if (a.backoff) {
        // The back-off lasts until the next attempt starts (or its planned delay, while waiting).
        const next = s.attempts[i + 1];
        const bEnd = next ? next.startedAt : Math.min(now, a.backoff.startedAt + a.backoff.delayMs);
        bars.push({
          kind: 'backoff',
          attempt: a.attempt,
          outcome: 'backoff',
          start: a.backoff.startedAt - origin,
          end: Math.max(a.backoff.startedAt, bEnd) - origin,
          open: !next,
        });
        last = Math.max(last, bEnd);
      }
    });
    rows.push({ stepId: s.id, bars });
  }
  rows.sort((a, b) => (a.bars[0]?.start ?? 0) - (b.bars[0]?.start ?? 0));
  return { rows, origin, span: Math.max(1, last - origin) };
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}
