import { setFlagsFromString } from 'node:v8';

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
 * does not take it). Returns the percentage set, or undefined when V8 decides.
 */
export function moderateHeapGrowth(
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return undefined;
  const given = env.ORCHESTR8_HEAP_GROWING_PERCENT?.trim();
  let percent = SERVE_HEAP_GROWING_PERCENT;
  if (given !== undefined && given !== '') {
    if (!/^\d{1,4}$/.test(given))
      throw new Error(`ORCHESTR8_HEAP_GROWING_PERCENT must be a whole number of percent, got "${given}"`);
    percent = Number(given);
  }
  if (percent === 0) return undefined;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
