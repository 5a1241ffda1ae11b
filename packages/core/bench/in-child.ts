/**
 * A measurement in a child process of its own: what V8 does (inline caches, the young
 * generation's size, which allocation sites it pretenures) depends on what the process ran
 * before, and a user's process runs one thing. The module forks itself under tsx, with this
 * process's export conditions (see `conditionsArgv`); its child side answers `childSide`'s
 * call with one message.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * This process's `--conditions` flags, for the children it starts. `pnpm bench` has none: the
 * packages load from their builds (dist), the code users run; `--conditions=source` measures
 * the TypeScript sources under tsx instead, which adds a `__name` call wherever a function is
 * created (tsx keeps function names), a cost the built code does not have.
 */
export function conditionsArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--conditions=') || a.startsWith('-C=')) out.push(a);
    else if ((a === '--conditions' || a === '-C') && argv[i + 1] !== undefined) out.push(a, argv[++i]!);
  }
  return out;
}

/** Forks `moduleUrl` with `args`; resolves with the message its child side sends. */
export function inChild<T>(
  moduleUrl: string,
  args: readonly string[],
  what: string,
  /** Node/V8 flags for the child, before the ones that load the sources. */
  flags: readonly string[] = [],
): Promise<T> {
  const child = fork(fileURLToPath(moduleUrl), [...args], {
    execArgv: [...flags, '--expose-gc', ...conditionsArgv(), '--import', 'tsx'],
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
