/**
 * `orchestr8 serve` for the benchmarks that load it over HTTP (this package's http.bench.ts,
 * packages/triggers/bench): the built CLI (dist), or its sources under tsx when this process
 * runs with `--conditions=source` (see conditionsArgv), in its own process; its URL from the `orchestr8 listening on <url>` line; its CPU time from
 * /proc. ORCHESTR8_BENCH_PROF=<dir> writes a CPU profile of each child when it stops.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { conditionsArgv } from '../../core/bench/in-child.js';

const BIN = fileURLToPath(new URL('../../cli/src/bin.ts', import.meta.url));
const BUILT_BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

/**
 * Node options for a child that runs a TypeScript file (and is profiled when asked): under
 * tsx, with this process's export conditions (the packages' builds unless `--conditions=source`).
 */
export function childExecArgv(): string[] {
  return [...conditionsArgv(), '--import', 'tsx', ...profileArgv()];
}

const fromSource = () =>
  conditionsArgv().some(
    (a, i, all) =>
      a === '--conditions=source' || a === '-C=source' || (a.startsWith('-') && all[i + 1] === 'source'),
  );

/** `--cpu-prof` into ORCHESTR8_BENCH_PROF=<dir> when it is set. */
function profileArgv(): string[] {
  const prof = process.env.ORCHESTR8_BENCH_PROF;
  return prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
}

/** CPU time (user + system) a process has used so far, in µs (Linux /proc, 10 ms ticks; NaN elsewhere). */
export function processCpuUs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

export interface BenchServer {
  url: string;
  /** CPU time (user + system) the server process has used so far, in µs. */
  cpuUs: () => Promise<number>;
  stop: () => Promise<void>;
}

export interface ServeProcess extends BenchServer {
  child: ChildProcess;
}

/**
 * `orchestr8 serve --port 0 --log-level warn <args>` with no API keys (a later `--log-level`
 * in `args` wins); resolves once it listens. `built`: the built CLI (dist) even when this
 * process runs from source; `cwd`: the project directory it serves.
 */
export function startServe(
  args: readonly string[],
  options: { built?: boolean; cwd?: string } = {},
): Promise<ServeProcess> {
  const bin = options.built || !fromSource() ? [...profileArgv(), BUILT_BIN] : [...childExecArgv(), BIN];
  const child = spawn(process.execPath, [...bin, 'serve', '--port', '0', '--log-level', 'warn', ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      // Keep draining stdout without holding it: a full pipe would block the server.
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      child.removeAllListeners('exit');
      resolve({
        url: m[1]!,
        child,
        cpuUs: async () => processCpuUs(child.pid),
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
}
