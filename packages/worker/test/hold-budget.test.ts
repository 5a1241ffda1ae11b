/**
 * What counts as a short step (WorkerOptions.shortStepMs) decides how many steps a worker
 * holds: its concurrency while steps are slow, more while they are short.
 */
import { describe, expect, it } from 'vitest';
import { claimsAhead, holdLimit, SHORT_STEP_MS } from '../src/hold-budget.js';

describe('hold budget', () => {
  it('holds only its concurrency until a step was timed, and while steps take shortStepMs or more', () => {
    expect(holdLimit(4, undefined)).toBe(4);
    expect(holdLimit(4, SHORT_STEP_MS)).toBe(4);
    expect(claimsAhead(SHORT_STEP_MS - 1)).toBe(true);
    // 3 ms steps are short by default, slow when shortStepMs is 1 ms.
    expect(holdLimit(4, 3)).toBeGreaterThan(4);
    expect(claimsAhead(3, 1)).toBe(false);
    expect(holdLimit(4, 3, 1)).toBe(4);
  });

  it('holds as many more as start within about shortStepMs, up to 32 times its concurrency in all', () => {
    // 4 slots of 10 ms steps start 4 * 25 / 10 = 10 more within 25 ms.
    expect(holdLimit(4, 10)).toBe(4 + 10);
    // 20 ms steps: 4 * 25 / 20 = 5 more.
    expect(holdLimit(4, 20)).toBe(4 + 5);
    // A larger shortStepMs: more start within it (4 * 100 / 10 = 40).
    expect(holdLimit(4, 10, 100)).toBe(4 + 40);
    // Steps of microseconds: at most 32 times the concurrency.
    expect(holdLimit(4, 0.001)).toBe(32 * 4);
  });
});
