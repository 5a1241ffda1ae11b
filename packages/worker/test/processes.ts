import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Proc {
  child: ChildProcess;
  /** What followed READY on its first line (a worker id, an URL). */
  info: string;
  output(): string;
  /** Graceful stop (SIGTERM), waiting for the exit. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Runs a TypeScript fixture under tsx in a new Node process and waits for its READY line. The
 * packages it imports load from source (tests need no build) unless `conditions` says
 * otherwise (benchmarks pass their own: none, the packages' builds).
 */
export async function spawnFixture(
  file: string,
  env: Record<string, string>,
  conditions: readonly string[] = ['--conditions=source'],
): Promise<Proc> {
  // e.g. ORCHESTR8_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the children.
  const extra = (process.env.ORCHESTR8_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...extra, ...conditions, '--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const info = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${file} did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /READY (\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}:\n${out}`));
    });
  });
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  return { child, info, output: () => out, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}
