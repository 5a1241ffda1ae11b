/**
 * CPU seconds used by the processes of a distributed run, read from /proc (Linux): on a
 * machine shared with other work, CPU per step is the figure that load does not move much.
 * PostgreSQL is counted as the bench's own server only (its postmaster, its live backends,
 * and the backends it reaped), not every `postgres` process on the machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TICK = 100; // USER_HZ on Linux

/** Fields of /proc/PID/stat after the command name (index 0 is the state). */
function statOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime of a process, in seconds (0 once it is gone). */
export function cpuOf(pid: number): number {
  const f = statOf(pid);
  return f ? (Number(f[11]) + Number(f[12])) / TICK : 0;
}

/** CPU seconds of the PostgreSQL server whose data directory is `dir` (its postmaster.pid). */
export function serverCpu(dir: string): number {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return 0;
  }
  const own = statOf(postmaster);
  if (!own) return 0;
  // Its own time and that of the backends it reaped (cutime + cstime).
  let sum = (Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])) / TICK;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const f = statOf(Number(p));
    if (f && Number(f[1]) === postmaster) sum += (Number(f[11]) + Number(f[12])) / TICK;
  }
  return sum;
}
