import { setFlagsFromString } from 'node:v8';

/** The growth `serve` allows its heap past what a full collection left alive: 30%. */
export const SERVE_HEAP_GROWING_PERCENT = 30;

/**
 * A long-running `serve` keeps its V8 heap close to what is alive. By default V8 lets a young
 * process's heap grow to several times what survived its last full collection before it
 * collects again: starting 10,000 executions that park on waits (each leaving about half a
 * kilobyte alive) took the process from ~135 MB to a peak of ~215 MB of which most was garbage
 * not yet collected; with 30% growth the peak stays near 160 MB, for a few more (short) full
 * collections. An operator's own `--heap-growing-percent` (command line or NODE_OPTIONS) wins.
 */
export function moderateHeapGrowth(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): boolean {
  const given = (s: string) => /--heap[-_]growing[-_]percent/.test(s);
  if (execArgv.some(given) || given(nodeOptions)) return false;
  setFlagsFromString(`--heap-growing-percent=${SERVE_HEAP_GROWING_PERCENT}`);
  return true;
}
