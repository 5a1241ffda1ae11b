/**
 * How many steps a worker keeps leased beyond its free slots: only while its steps are
 * short (a slot held under SHORT_STEP_MS on average), and then as many as start within
 * about that long.
 */

/**
 * A step holding its slot less than this on average lets the worker claim ahead; and steps
 * its commits release stay here as long as they start within about this long.
 */
export const SHORT_STEP_MS = 25;
/** Released steps held here at most, in multiples of the concurrency. */
const MAX_HELD = 8;

/**
 * Whether steps here are short enough to lease more of them than there are free slots.
 * `slotMs`: how long a step holds a slot on the worker, on average (undefined before the first).
 */
export function claimsAhead(slotMs: number | undefined): boolean {
  return slotMs !== undefined && slotMs < SHORT_STEP_MS;
}

/**
 * How many steps not finished running this worker holds at most when its commits release
 * more: its concurrency, and when steps are short, as many more as start within about
 * SHORT_STEP_MS (up to MAX_HELD times the concurrency). An execution's steps kept on one
 * worker commit without contending with another worker's commits of it, and start without
 * a claim; steps that take long go to the queue for whichever worker is free.
 */
export function holdLimit(concurrency: number, slotMs: number | undefined): number {
  if (!claimsAhead(slotMs) || slotMs === undefined) return concurrency;
  const ahead = Math.floor((concurrency * SHORT_STEP_MS) / Math.max(slotMs, 0.001));
  return concurrency + Math.max(concurrency, Math.min((MAX_HELD - 1) * concurrency, ahead));
}
