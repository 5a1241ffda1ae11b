import { ValidationError } from '@orchestr8/common';

/** A non-negative duration string: `"0ms"`, `"250ms"`, `"1.5s"`, `"5m"`, `"1h"`, `"3d"`. */
export const DURATION_PATTERN = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:ms|s|m|h|d)$/;
/** The same, but greater than zero (timeouts). */
export const POSITIVE_DURATION_PATTERN = /^(?:[1-9][0-9]*(?:\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*)(?:ms|s|m|h|d)$/;

/** A day is 24 hours of elapsed time (not a calendar day: no time zone, no DST). */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PARSE = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/;

/**
 * Milliseconds from a number of milliseconds or a string like `"500ms"`, `"30s"`, `"5m"`,
 * `"1h"`, `"3d"`. Throws a VALIDATION error for anything else (negative, NaN, unknown unit).
 */
export function parseDuration(v: number | string): number {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && v >= 0) return v;
  } else if (typeof v === 'string') {
    const m = PARSE.exec(v.trim());
    if (m) return Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  throw new ValidationError(`invalid duration ${JSON.stringify(v)}: use milliseconds or a string like "30s"`);
}
