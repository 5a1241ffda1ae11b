/** Load over loopback HTTP with autocannon, for the benchmarks of orchestr8 serve and its API. */
import autocannon from 'autocannon';
import type { BenchServer } from './serve-process.js';

export type { Options as LoadOptions, Request as LoadRequest, Result as LoadResult } from 'autocannon';

/** One autocannon run, as a promise. */
export function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

export interface Measured {
  /** Requests per second (autocannon's average over the run's seconds). */
  perSec: number;
  /** The server's CPU time per 2xx answer, in µs: steadier than the rate on a busy machine. */
  serverCpuUsPer: number;
  result: autocannon.Result;
}

/** One run against `server`, with the server's CPU time over the run. */
export async function measure(server: BenchServer, opts: autocannon.Options): Promise<Measured> {
  const cpuBefore = await server.cpuUs();
  const result = await cannon(opts);
  const cpuUs = (await server.cpuUs()) - cpuBefore;
  return { perSec: result.requests.average, serverCpuUsPer: cpuUs / Math.max(1, result['2xx']), result };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
