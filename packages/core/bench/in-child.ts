/**
 * A measurement in a child process of its own: what V8 does (inline caches, the young
 * generation's size, which allocation sites it pretenures) depends on what the process ran
 * before, and a user's process runs one thing. The module forks itself under tsx, as
 * `pnpm bench` runs; its child side answers `childSide`'s call with one message.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Forks `moduleUrl` with `args`; resolves with the message its child side sends. */
export function inChild<T>(
  moduleUrl: string,
  args: readonly string[],
  what: string,
  /** Node/V8 flags for the child, before the ones that load the sources. */
  flags: readonly string[] = [],
): Promise<T> {
  const child = fork(fileURLToPath(moduleUrl), [...args], {
    execArgv: [...flags, '--expose-gc', '--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${what} failed: exit ${code}`));
    });
  });
}

/**
 * The child side: when this process was forked by `inChild` with `tag` as its first
 * argument, runs `measure` on the arguments after it, sends the result and exits.
 */
export async function childSide<T>(tag: string, measure: (args: string[]) => Promise<T>): Promise<void> {
  if (process.argv[2] !== tag || !process.send) return;
  const result = await measure(process.argv.slice(3));
  process.send(result, () => process.exit(0));
}
