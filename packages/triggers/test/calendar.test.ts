import { describe, expect, it } from 'vitest';
import { calendarOf } from '../src/index.js';

const at = (s: string) => Date.parse(s);
const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString());
const cron = (expr: string, timezone = 'UTC') => calendarOf({ cron: expr, timezone });

describe('the calendar', () => {
  it('reads a cron expression in its timezone', () => {
    const c = cron('0 9 * * *', 'America/New_York');
    expect(iso(c.between(at('2025-01-06T00:00:00Z'), at('2025-01-08T00:00:00Z'), 10))).toEqual([
      '2025-01-06T14:00:00.000Z',
      '2025-01-07T14:00:00.000Z',
    ]);
  });

  it('takes seconds as an optional sixth field, first', () => {
    const c = cron('*/20 * * * * *');
    expect(iso(c.between(at('2025-01-01T00:00:00Z'), at('2025-01-01T00:01:00Z'), 10))).toEqual([
      '2025-01-01T00:00:20.000Z',
      '2025-01-01T00:00:40.000Z',
      '2025-01-01T00:01:00.000Z',
    ]);
  });

  it('skips months without the day, and L is the last day of each month', () => {
    expect(
      iso(cron('0 0 31 * *').between(at('2025-01-01T00:00:00Z'), at('2025-06-01T00:00:00Z'), 10)),
    ).toEqual(['2025-01-31T00:00:00.000Z', '2025-03-31T00:00:00.000Z', '2025-05-31T00:00:00.000Z']);
    expect(
      iso(cron('0 0 L * *').between(at('2024-01-15T00:00:00Z'), at('2024-03-01T00:00:00Z'), 10)),
    ).toEqual(['2024-01-31T00:00:00.000Z', '2024-02-29T00:00:00.000Z']);
  });

  it('skips a local time that does not exist (DST gap)', () => {
    // Europe/Berlin springs forward on 2025-03-30: 02:00-03:00 local does not exist.
    const c = cron('30 2 * * *', 'Europe/Berlin');
    expect(iso(c.between(at('2025-03-28T12:00:00Z'), at('2025-04-01T00:00:00Z'), 10))).toEqual([
      '2025-03-29T01:30:00.000Z',
      '2025-03-31T00:30:00.000Z',
    ]);
  });

  it('runs a local time that occurs twice (DST overlap) once, at its first occurrence', () => {
    // Europe/Berlin falls back on 2025-10-26: 02:00-03:00 local happens twice.
    expect(
      iso(
        cron('30 2 * * *', 'Europe/Berlin').between(
          at('2025-10-25T12:00:00Z'),
          at('2025-10-27T00:00:00Z'),
          10,
        ),
      ),
    ).toEqual(['2025-10-26T00:30:00.000Z']);
    expect(
      iso(
        cron('0 * * * *', 'Europe/Berlin').between(
          at('2025-10-25T23:30:00Z'),
          at('2025-10-26T02:30:00Z'),
          10,
        ),
      ),
    ).toEqual([
      '2025-10-26T00:00:00.000Z', // 02:00 CEST
      // 01:00Z is 02:00 CET again: not run twice
      '2025-10-26T02:00:00.000Z', // 03:00 CET
    ]);
  });

  it('places intervals at multiples since the epoch, and keeps the newest when a range is cut', () => {
    const c = calendarOf({ everyMs: 60_000, timezone: 'UTC' });
    expect(c.next(at('2025-01-01T00:00:30Z'))).toBe(at('2025-01-01T00:01:00Z'));
    expect(iso(c.between(at('2025-01-01T00:00:00Z'), at('2025-01-01T00:10:00Z'), 2))).toEqual([
      '2025-01-01T00:09:00.000Z',
      '2025-01-01T00:10:00.000Z',
    ]);
    expect(iso(cron('0 * * * *').between(at('2025-01-01T00:00:00Z'), at('2025-01-01T05:00:00Z'), 2))).toEqual(
      ['2025-01-01T04:00:00.000Z', '2025-01-01T05:00:00.000Z'],
    );
  });
});
