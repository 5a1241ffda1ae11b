import { ErrorCode, Orchestr8Error } from '@orchestr8/common';

/**
 * How many steps a worker keeps leased beyond its free slots: only while its steps are
 * short (a slot held under shortStepMs, 25 ms by default, on average), and then as many as
 * start within about that long.
 */

/**
 * A step holding its slot less than this on average lets the worker claim ahead; and steps
 * its commits release stay here as long as they start within about this long. The default of
 * WorkerOptions.shortStepMs.
 */
export const SHORT_STEP_MS = 25;
/**
 * Released steps held here at most, in multiples of the concurrency. Large: the steps of a
 * wide fan that a commit here leaves to the queue go to other workers, whose commits of the
 * same execution then conflict with this one's (at 8, two workers ran a fan of 300 short
 * steps at 0.69 of one worker's speed). Held steps that do not start soon go back anyway.
 */
const MAX_HELD = 32;

/**
 * Whether steps here are short enough to lease more of them than there are free slots.
 * `slotMs`: how long a step holds a slot on the worker, on average (undefined before the first).
 */
export function claimsAhead(slotMs: number | undefined, shortMs = SHORT_STEP_MS): boolean {
  return slotMs !== undefined && slotMs < shortMs;
}

/**
 * How many steps not finished running this worker holds at most when its commits release
 * more: its concurrency, and when steps are short, as many more as start within about
 * `shortMs` (up to MAX_HELD times the concurrency). An execution's steps kept on one
 * worker commit without contending with another worker's commits of it, and start without
 * a claim; steps that take long go to the queue for whichever worker is free.
 */
export function holdLimit(concurrency: number, slotMs: number | undefined, shortMs = SHORT_STEP_MS): number {
  if (!claimsAhead(slotMs, shortMs) || slotMs === undefined) return concurrency;
  const ahead = Math.floor((concurrency * shortMs) / Math.max(slotMs, 0.001));
  return concurrency + Math.max(concurrency, Math.min((MAX_HELD - 1) * concurrency, ahead));
}

/** WorkerOptions.shortStepMs checked: a number of ms above 0 and at most a minute. */
export function shortStepMs(value: number | undefined): number {
  if (value === undefined) return SHORT_STEP_MS;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 60_000) {
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      `shortStepMs must be a number of milliseconds above 0 and at most 60000, got ${String(value)}`,
    );
  }
  return value;
}
