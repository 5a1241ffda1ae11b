import { getHeapStatistics } from 'node:v8';
import { describe, expect, it, vi } from 'vitest';
import {
  HEAP_TRIM_BACKOFF_LOOKS,
  type HeapTrimHooks,
  moderateHeapGrowth,
  SERVE_HEAP_GROWING_PERCENT,
  trimHeapWhenIdle,
} from '../src/heap-growth.js';

const MB = 1024 * 1024;

describe("serve's heap growth", () => {
  it('is moderated by default, set by ORCHESTR8_HEAP_GROWING_PERCENT, left to V8 with 0 or a node flag', () => {
    const none = () => {};
    expect(moderateHeapGrowth([], {}, none)).toBe(SERVE_HEAP_GROWING_PERCENT);
    expect(moderateHeapGrowth([], { ORCHESTR8_HEAP_GROWING_PERCENT: '50' }, none)).toBe(50);
    expect(moderateHeapGrowth([], { ORCHESTR8_HEAP_GROWING_PERCENT: '0' }, none)).toBeUndefined();
    expect(moderateHeapGrowth(['--heap-growing-percent=80'], {}, none)).toBeUndefined();
    expect(() => moderateHeapGrowth([], { ORCHESTR8_HEAP_GROWING_PERCENT: 'lots' }, none)).toThrow(
      'ORCHESTR8_HEAP_GROWING_PERCENT must be a whole number of percent, got "lots"',
    );
  });

  it('starts the idle trim unless ORCHESTR8_HEAP_GROWING_PERCENT is 0', () => {
    let started = 0;
    const start = () => started++;
    moderateHeapGrowth([], {}, start);
    moderateHeapGrowth(['--heap-growing-percent=80'], {}, start);
    expect(started).toBe(2);
    moderateHeapGrowth([], { ORCHESTR8_HEAP_GROWING_PERCENT: '0' }, start);
    expect(started).toBe(2);
  });
});

/** A heap that holds `committed` MB with `used` MB in use; a collection leaves `after` MB. */
function fakeHeap(s: { committed: number; used: number; busy: number; after: number }) {
  let collections = 0;
  const hooks: HeapTrimHooks = {
    heap: () => ({ committed: s.committed * MB, used: s.used * MB }),
    busy: () => s.busy,
    collect: () => {
      collections++;
      s.committed = s.after;
    },
  };
  return { s, hooks, collections: () => collections };
}

describe('the idle trim', () => {
  it('collects when the process was idle and the heap holds much more than it uses', () => {
    const h = fakeHeap({ committed: 85, used: 36, busy: 0.01, after: 41 });
    const trim = trimHeapWhenIdle({ hooks: h.hooks, intervalMs: 3_600_000 });
    try {
      expect(trim.check()).toBe(true);
      expect(h.collections()).toBe(1);
      // What is left is in use: nothing to give back.
      expect(trim.check()).toBe(false);
      expect(h.collections()).toBe(1);
    } finally {
      trim.stop();
    }
  });

  it('does not collect while the process is busy, nor for a small slack', () => {
    const h = fakeHeap({ committed: 85, used: 36, busy: 0.5, after: 41 });
    const trim = trimHeapWhenIdle({ hooks: h.hooks, intervalMs: 3_600_000 });
    try {
      expect(trim.check()).toBe(false);
      h.s.busy = 0;
      h.s.committed = 45;
      expect(trim.check()).toBe(false);
      expect(h.collections()).toBe(0);
      h.s.committed = 85;
      expect(trim.check()).toBe(true);
    } finally {
      trim.stop();
    }
  });

  it('backs off after a collection that gave little back', () => {
    const h = fakeHeap({ committed: 85, used: 36, busy: 0, after: 80 });
    const trim = trimHeapWhenIdle({ hooks: h.hooks, intervalMs: 3_600_000 });
    try {
      // Still much slack after the first collection: a second one in the same look.
      expect(trim.check()).toBe(true);
      expect(h.collections()).toBe(2);
      for (let i = 0; i < HEAP_TRIM_BACKOFF_LOOKS; i++) expect(trim.check()).toBe(false);
      expect(h.collections()).toBe(2);
      expect(trim.check()).toBe(true);
      expect(h.collections()).toBe(4);
    } finally {
      trim.stop();
    }
  });

  it("runs V8's full collection with node's own hooks", async () => {
    const trim = trimHeapWhenIdle({ slack: 0, intervalMs: 3_600_000 });
    try {
      // Garbage the collection can free; the first look measures the loop since the trim began.
      let junk: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i }));
      const before = getHeapStatistics().used_heap_size;
      junk = undefined;
      expect(junk).toBeUndefined();
      // A look collects only after an idle interval: let the loop idle, up to 10 s on a loaded machine.
      await vi.waitFor(() => expect(trim.check()).toBe(true), { timeout: 10_000, interval: 100 });
      expect(getHeapStatistics().used_heap_size).toBeLessThan(before);
      expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    } finally {
      trim.stop();
    }
  });
});
