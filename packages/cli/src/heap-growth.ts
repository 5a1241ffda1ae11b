import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The growth `serve` allows its heap past what a full collection left alive: 30%. */
export const SERVE_HEAP_GROWING_PERCENT = 30;

/**
 * A long-running `serve` keeps its V8 heap close to what is alive. By default V8 lets a young
 * process's heap grow to several times what survived its last full collection before it
 * collects again: starting 10,000 executions that park on waits (each leaving about half a
 * kilobyte alive) took the process from ~135 MB to a peak of ~215 MB, most of it garbage not
 * yet collected; with 30% growth the peak stays near 160 MB, for a few more (short) full
 * collections. `ORCHESTR8_HEAP_GROWING_PERCENT` sets another percentage (0: V8's own
 * heuristics), and so does node's `--heap-growing-percent` on the command line (NODE_OPTIONS
 * does not take it). It also starts the idle trim (`trimHeapWhenIdle`), unless the
 * percentage is 0. Returns the percentage set, or undefined when V8 decides.
 */
export function moderateHeapGrowth(
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
  startTrim: () => unknown = () => trimHeapWhenIdle(),
): number | undefined {
  const given = env.ORCHESTR8_HEAP_GROWING_PERCENT?.trim();
  let percent = SERVE_HEAP_GROWING_PERCENT;
  if (given !== undefined && given !== '') {
    if (!/^\d{1,4}$/.test(given))
      throw new Error(`ORCHESTR8_HEAP_GROWING_PERCENT must be a whole number of percent, got "${given}"`);
    percent = Number(given);
  }
  if (percent === 0) return undefined;
  startTrim();
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return undefined;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}

/** What the idle trim reads and does; injectable for tests. */
export interface HeapTrimHooks {
  /** Bytes V8 holds for its heap, and bytes of it in use. */
  heap(): { committed: number; used: number };
  /** Share of the last interval the event loop was busy, 0..1. */
  busy(): number;
  /** A full, compacting collection. */
  collect(): void;
}

export interface HeapTrim {
  /** One look: collects when the process was idle and the heap holds much more than it uses. */
  check(): boolean;
  stop(): void;
}

/** Idle share below which a look may collect, and the slack (bytes) that makes it worth it. */
export const HEAP_TRIM_IDLE_BUSY = 0.05;
export const HEAP_TRIM_SLACK_BYTES = 16 * 1024 * 1024;
/** Looks skipped after a collection that gave back less than half the slack. */
export const HEAP_TRIM_BACKOFF_LOOKS = 5;

/**
 * V8 gives memory back only when it collects, and it collects only when the process
 * allocates: after a burst (10,000 executions started and parked on waits), a quiet `serve`
 * kept ~25 MB of young space and fragmented old space that held ~3 MB of live objects, for
 * as long as it stayed quiet. Every `intervalMs` (unref'd) this looks at the heap: when the
 * event loop was idle over the last interval and the heap holds more than `slack` bytes it
 * does not use, a full collection (two if the first leaves much unused) shrinks it
 * (measured: 162 -> 119 MB resident, a pause of a few tens of ms while nothing was served). A collection that gave back little (V8 kept
 * its young space) makes it skip its next few looks, so a heap V8 will not shrink costs a
 * collection a minute at most.
 */
export function trimHeapWhenIdle(
  o: { intervalMs?: number; slack?: number; hooks?: HeapTrimHooks } = {},
): HeapTrim {
  const slack = o.slack ?? HEAP_TRIM_SLACK_BYTES;
  const hooks = o.hooks ?? nodeHeapHooks();
  let skip = 0; // looks left to skip after a collection that gave little back
  const trim: HeapTrim = {
    check() {
      const busy = hooks.busy();
      if (skip > 0) {
        skip--;
        return false;
      }
      const { committed, used } = hooks.heap();
      if (busy >= HEAP_TRIM_IDLE_BUSY || committed - used <= slack) return false;
      hooks.collect();
      // The first collection may only shrink the young space (promoting what it held); a second
      // one compacts the old space it left fragmented.
      let after = hooks.heap();
      if (after.committed - after.used > slack) {
        hooks.collect();
        after = hooks.heap();
      }
      if (committed - after.committed < slack / 2) skip = HEAP_TRIM_BACKOFF_LOOKS;
      return true;
    },
    stop() {
      clearInterval(timer);
    },
  };
  const timer = setInterval(() => trim.check(), o.intervalMs ?? 10_000);
  timer.unref();
  return trim;
}

function nodeHeapHooks(): HeapTrimHooks {
  let last = performance.eventLoopUtilization();
  let gc: (() => void) | undefined;
  return {
    heap() {
      const s = getHeapStatistics();
      return { committed: s.total_heap_size, used: s.used_heap_size };
    },
    busy() {
      const now = performance.eventLoopUtilization();
      const busy = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return busy;
    },
    collect() {
      gc ??= exposedGc();
      gc();
    },
  };
}

/** V8's `gc()`, without exposing it to the process's own global scope. */
function exposedGc(): () => void {
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === 'function') return own;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
