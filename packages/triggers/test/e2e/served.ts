/**
 * What the triggers end-to-end tests share: `orchestr8 serve` of the built CLI started through
 * the CLI tests' harness (packages/cli/test/fixtures/harness.ts), killed after the file's
 * tests if a test left it running; bounded polls for state (vitest's waitFor).
 */
import { afterAll } from 'vitest';
import { type Served, serve, until } from '../../../cli/test/fixtures/harness.js';

export { assertBuilt, type Served, until, useTempRoot } from '../../../cli/test/fixtures/harness.js';

const started: Served[] = [];
afterAll(() => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
});

/** `orchestr8 serve --port 0 --log-level warn <args>` with no API keys, once it listens. */
export async function startServe(args: readonly string[], env: Record<string, string> = {}): Promise<Served> {
  const s = await serve(['--port', '0', '--log-level', 'warn', ...args], {
    env: { ORCHESTR8_API_KEYS: '', ...env },
  });
  started.push(s);
  return s;
}

export interface ListedTrigger {
  name: string;
  workflowId: string;
}

/** The first trigger `GET /triggers` lists that `match` accepts, once the scheduler has registered it. */
export function listedTrigger(
  url: string,
  what: string,
  match: (t: ListedTrigger) => boolean,
): Promise<ListedTrigger> {
  return until(what, async () => {
    const r = (await (await fetch(`${url}/triggers`)).json()) as { items: ListedTrigger[] };
    return r.items.find(match);
  });
}
