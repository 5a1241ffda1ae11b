import type { CompiledSchedule } from '@orchestr8/schema';
import { Cron } from 'croner';

/**
 * The calendar of a schedule: its occurrences as epoch milliseconds. Cron expressions go
 * through croner (seconds, `L`/`W`/`#`, names, IANA timezones); intervals are multiples of
 * `everyMs` since the epoch, so every instance and every restart agrees on them.
 *
 * DST, the same for every expression: a local time that does not exist (the spring-forward
 * gap) is skipped, and a local time that occurs twice (fall back) runs once, at its first
 * occurrence. croner shifts a fixed-time job out of the gap and runs interval-like jobs on
 * both occurrences of a repeated hour; the filter below makes both cases follow that rule.
 */
export interface Calendar {
  /** The first occurrence strictly after `after`, or undefined when there is none. */
  next(after: number): number | undefined;
  /** Occurrences in (from, to], oldest first, at most `limit` (the newest ones when cut). */
  between(from: number, to: number, limit: number): number[];
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock time at `t` in `tz`, as if it were UTC (ms, whole seconds). */
function wallClock(t: number, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(t)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

const HOUR = 3_600_000;

/** Whether the wall-clock time at `t` was already shown at an earlier instant (DST fall back). */
function isRepeatedWallTime(t: number, tz: string): boolean {
  const local = wallClock(t, tz);
  // Offsets change by at most a few hours: look for the same wall time up to 3 h earlier.
  for (const back of [HOUR / 2, HOUR, 2 * HOUR, 3 * HOUR]) {
    const earlier = t - back;
    if (wallClock(earlier, tz) === local) return true;
  }
  return false;
}

function cronCalendar(expression: string, timezone: string): Calendar {
  const cron = new Cron(expression, { paused: true, timezone, mode: '5-or-6-parts' });
  // The whole second: croner's `match` reads the local time in the timezone.
  const valid = (t: number) => cron.match(new Date(t)) && !isRepeatedWallTime(t, timezone);
  const next = (after: number): number | undefined => {
    let cursor = after;
    for (let guard = 0; guard < 1000; guard++) {
      const d = cron.nextRun(new Date(cursor));
      if (!d) return undefined;
      const t = d.getTime();
      if (valid(t)) return t;
      cursor = t;
    }
    return undefined;
  };
  return {
    next,
    between(from, to, limit) {
      const out: number[] = [];
      let t = next(from);
      while (t !== undefined && t <= to) {
        out.push(t);
        if (out.length > limit) out.shift();
        t = next(t);
      }
      return out;
    },
  };
}

function intervalCalendar(everyMs: number): Calendar {
  const next = (after: number) => (Math.floor(after / everyMs) + 1) * everyMs;
  return {
    next,
    between(from, to, limit) {
      const out: number[] = [];
      const last = Math.floor(to / everyMs) * everyMs;
      const first = Math.max(next(from), last - (limit - 1) * everyMs);
      for (let t = first; t <= to; t += everyMs) out.push(t);
      return out;
    },
  };
}

/** The calendar of a compiled schedule. */
export function calendarOf(schedule: Pick<CompiledSchedule, 'cron' | 'everyMs' | 'timezone'>): Calendar {
  if (schedule.cron !== undefined) return cronCalendar(schedule.cron, schedule.timezone);
  return intervalCalendar(schedule.everyMs!);
}
