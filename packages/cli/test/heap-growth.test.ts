import { describe, expect, it } from 'vitest';
import { moderateHeapGrowth, SERVE_HEAP_GROWING_PERCENT } from '../src/heap-growth.js';

describe("serve's heap growth", () => {
  it('is moderated by default, set by ORCHESTR8_HEAP_GROWING_PERCENT, left to V8 with 0 or a node flag', () => {
    expect(moderateHeapGrowth([], {})).toBe(SERVE_HEAP_GROWING_PERCENT);
    expect(moderateHeapGrowth([], { ORCHESTR8_HEAP_GROWING_PERCENT: '50' })).toBe(50);
    expect(moderateHeapGrowth([], { ORCHESTR8_HEAP_GROWING_PERCENT: '0' })).toBeUndefined();
    expect(moderateHeapGrowth(['--heap-growing-percent=80'], {})).toBeUndefined();
    expect(() => moderateHeapGrowth([], { ORCHESTR8_HEAP_GROWING_PERCENT: 'lots' })).toThrow(
      'ORCHESTR8_HEAP_GROWING_PERCENT must be a whole number of percent, got "lots"',
    );
  });
});
