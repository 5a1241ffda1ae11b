import { describe, expect, it } from 'vitest';
import { moderateHeapGrowth } from '../src/heap-growth.js';

describe("serve's heap growth", () => {
  it('is moderated unless the operator set their own, on the command line or in NODE_OPTIONS', () => {
    expect(moderateHeapGrowth(['--heap-growing-percent=80'], '')).toBe(false);
    expect(moderateHeapGrowth([], '--max-old-space-size=512 --heap_growing_percent=10')).toBe(false);
    expect(moderateHeapGrowth(['--enable-source-maps'], '--max-old-space-size=512')).toBe(true);
  });
});
