/**
 * Peak RSS of one run in this process, printed as one JSON line for the parent
 * (packages/core/bench/wide-fan-rss.ts). Loaded RSS is taken once the library is imported: what
 * a program holds before it runs anything. The peak is both a 5 ms sample of RSS (it misses the
 * stretches in which the run never yields) and the kernel's high-water mark,
 * process.resourceUsage().maxRSS (KiB), which misses nothing. `run` may return an object of
 * further figures, printed with these.
 */
export async function measure(run) {
  const mb = (bytes) => bytes / 1024 / 1024;
  const loaded = process.memoryUsage.rss();
  let sampled = loaded;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage.rss());
  }, 5);
  const t0 = performance.now();
  // A run may add figures of its own (orchestr8: RSS once the document is compiled).
  const extra = (await run()) ?? {};
  const ms = performance.now() - t0;
  clearInterval(timer);
  sampled = Math.max(sampled, process.memoryUsage.rss());
  const heap = process.memoryUsage();
  console.log(
    JSON.stringify({
      loadedRssMb: mb(loaded),
      sampledPeakRssMb: mb(sampled),
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      heapUsedMb: mb(heap.heapUsed),
      ms,
      ...extra,
    }),
  );
}

/** The fan's width: W2 at 10,000 parallel steps (plus a start and a join). */
export const WIDTH = 10_000;

/** The no-op agent every library runs per step. */
export const agent = (v) => Promise.resolve(v);
