/**
 * The project's local server: an `orchestr8 serve` started in the background by
 * `orchestr8 server start`, found through the state file it writes into the project's
 * `.orchestr8/` once it listens (`server.json`: pid, URL, store, agents, ...) and removes
 * when it stops. The file is written by the server itself, so a file whose process is gone
 * (a crash, a SIGKILL) is recognisably stale. `server status|stop|logs` and `run` use it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { loadWorkflowFile } from '@orchestr8/schema';
import { parseStoreUrl } from '@orchestr8/store-sqlite';
import { configuredStore, loadProjectConfig } from './config.js';
import { defaultApiKey } from './server-call.js';

export { defaultApiKey };

export interface ServerState {
  pid: number;
  url: string;
  host: string;
  port: number;
  /** The store URL the server records executions in. */
  store: string;
  /** ISO time the server started listening. */
  startedAt: string;
  version: string;
  /** Ids of the agents the server loaded (built-in and the project's). */
  agents: string[];
  /** Whether the API requires a key (`--api-keys` / `$ORCHESTR8_API_KEYS`). */
  apiKeys: boolean;
  /** `--grace`: how long `server stop` waits for running steps before it forces. */
  graceMs: number;
  /** The arguments the server was started with (after `node <bin>`), for `server restart`. */
  argv: string[];
}

/** This CLI's version (package.json), as `orchestr8 --version` prints it. */
export function cliVersion(): string {
  return (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
}

/** A store URL with a relative SQLite path made absolute (against `cwd`), for comparing two. */
export function absoluteStore(spec: string, cwd = process.cwd()): string {
  try {
    const parsed = parseStoreUrl(spec);
    if (parsed.kind === 'sqlite' && !isAbsolute(parsed.path)) return `sqlite:${resolve(cwd, parsed.path)}`;
  } catch {
    // left as written
  }
  return spec;
}

/** The project directory's `.orchestr8/` folder. */
export function stateDir(projectDir: string): string {
  return join(resolve(projectDir), '.orchestr8');
}
export function serverStateFile(projectDir: string): string {
  return join(stateDir(projectDir), 'server.json');
}
export function serverLogFile(projectDir: string): string {
  return join(stateDir(projectDir), 'server.log');
}

/** Written by `serve --state-file` once it listens (atomically; owner-only: argv may hold keys). */
export function writeServerState(file: string, state: ServerState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes the state file if it still describes process `pid` (a newer server may own it). */
export function removeServerState(file: string, pid: number): void {
  if (readServerState(file)?.pid === pid) rmSync(file, { force: true });
}

export function readServerState(file: string): ServerState | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as ServerState;
    return typeof s?.pid === 'number' && typeof s.url === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of `pid`: /proc on Linux, `ps` elsewhere; undefined when it cannot be read. */
function commandLine(pid: number): string | undefined {
  if (existsSync('/proc/self/cmdline')) {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      return '';
    }
  }
  if (process.platform === 'win32') return undefined;
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/**
 * Whether process `pid` is the server this state file belongs to: alive, and its command
 * line is `... serve ... --state-file <file>` (a pid reused by another program is not; nor
 * is a zombie, whose command line is empty). Where command lines cannot be read (Windows),
 * alive is enough.
 */
export function isServerProcess(pid: number, file: string): boolean {
  if (!alive(pid)) return false;
  const cmd = commandLine(pid);
  if (cmd === undefined) return true;
  return cmd.includes(' serve ') && cmd.includes(file);
}

export type LocalServer =
  | { running: true; state: ServerState; file: string }
  | { running: false; file: string; stale?: { state: ServerState; reason: string } };

/** The project's server: running, not running, or a stale state file (left in place). */
export function findLocalServer(projectDir: string): LocalServer {
  const file = serverStateFile(projectDir);
  if (!existsSync(file)) return { running: false, file };
  const state = readServerState(file);
  if (!state) {
    return {
      running: false,
      file,
      stale: { state: { pid: 0 } as ServerState, reason: 'the pid file is unreadable' },
    };
  }
  if (isServerProcess(state.pid, file)) return { running: true, state, file };
  const reason = alive(state.pid)
    ? `process ${state.pid} is not an orchestr8 server`
    : `process ${state.pid} is gone`;
  return { running: false, file, stale: { state, reason } };
}

/** Finds the project's server, removing a stale state file; `cleaned` says why one was removed. */
export function findAndClean(projectDir: string): LocalServer & { cleaned?: string } {
  const found = findLocalServer(projectDir);
  if (found.running || !found.stale) return found;
  rmSync(found.file, { force: true });
  return { ...found, cleaned: `removed a stale pid file (${found.stale.reason})` };
}

/** GET `path` on the server; undefined when it does not answer within `timeoutMs`. */
export async function getJson(
  url: string,
  path: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: unknown } | undefined> {
  const key = defaultApiKey();
  try {
    const res = await fetch(`${url}${path}`, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, body };
  } catch {
    return undefined;
  }
}

/** Whether GET /readyz answers 200. */
export async function isReady(url: string, timeoutMs = 2000): Promise<boolean> {
  return (await getJson(url, '/readyz', timeoutMs))?.status === 200;
}

export interface RunPlan {
  /** The server to run on, or undefined to run in this process. */
  url?: string;
  /** Why the running local server is not used (undefined when there is none). */
  reason?: string;
}

/**
 * Whether `orchestr8 run` uses the project's running local server. The rule: the server
 * answers /readyz; the user asked for nothing only this process has (no --agents, --store,
 * capability flags); the store this process would use is the server's (so the execution
 * lands where `list` looks either way); every step's agent is one the server loaded, and no
 * step calls an agent by URL; and, when the server requires an API key, one is set.
 */
export async function planRun(input: {
  projectDir: string;
  /** The store `run` would open without --store. */
  store: string;
  /** Flags that only an in-process run honours, by name (e.g. `--agents`). */
  localFlags: string[];
  /** The document's steps, as compiled. */
  steps: readonly { agentId: string; agentUrl?: string }[];
}): Promise<RunPlan> {
  const found = findLocalServer(input.projectDir);
  if (!found.running) return {};
  const s = found.state;
  const not = (why: string): RunPlan => ({ reason: `local server at ${s.url} not used: ${why}` });
  if (input.localFlags.length > 0) return not(`${input.localFlags.join(', ')} given`);
  if (absoluteStore(s.store) !== absoluteStore(input.store))
    return not(`it records to ${s.store}, this run to ${input.store}`);
  const known = new Set(s.agents);
  for (const step of input.steps) {
    if ((step as { wait?: unknown }).wait !== undefined) continue;
    if (step.agentUrl !== undefined) return not('a step calls an agent by URL');
    if (!known.has(step.agentId)) return not(`agent ${step.agentId} is not loaded there`);
  }
  if (s.apiKeys && !defaultApiKey()) return not('it requires an API key (set ORCHESTR8_API_KEY)');
  if (!(await isReady(s.url, 1000))) return not('it does not answer /readyz');
  return { url: s.url };
}

/**
 * `orchestr8 run <file>` without --server or --local: the plan for this document and these
 * flags (`planRun`). Cheap when no server runs: one missing file.
 */
export async function localServerFor(
  file: string,
  opts: {
    agents?: string[];
    store?: string;
    allowEnv?: string[];
    allowShell?: string[];
    allowEgress?: string[];
    maxWorkflowDepth?: string;
  },
): Promise<RunPlan> {
  const config = await loadProjectConfig();
  if (!existsSync(serverStateFile(config.dir))) return {};
  const loaded = await loadWorkflowFile(file);
  // An invalid document: the in-process run reports it, with positions.
  if (!loaded.ok || !loaded.workflow) return {};
  const localFlags = [
    opts.agents?.length ? '--agents' : '',
    opts.store !== undefined ? '--store' : '',
    opts.allowEnv?.length ? '--allow-env' : '',
    opts.allowShell?.length ? '--allow-shell' : '',
    opts.allowEgress?.length ? '--allow-egress' : '',
    opts.maxWorkflowDepth !== undefined ? '--max-workflow-depth' : '',
  ].filter(Boolean);
  return planRun({
    projectDir: config.dir,
    store: configuredStore(undefined, config),
    localFlags,
    steps: loaded.workflow.steps,
  });
}

/**
 * `list`, `cancel` and `validate` without --server or --local: the project's running local
 * server, by run's rule less the document checks (the server answers /readyz, no flag that
 * only this process honours, the same store, an API key when it needs one). Says on stderr
 * which it used, as `run` does. `what` ends "... in this process" (e.g. "reading the store").
 */
export async function detectLocalServer(opts: {
  server?: string;
  local?: boolean;
  localFlags: string[];
  what: string;
}): Promise<{ url: string; state?: ServerState } | undefined> {
  if (opts.server !== undefined) return { url: opts.server };
  if (opts.local) return undefined;
  const config = await loadProjectConfig();
  if (!existsSync(serverStateFile(config.dir))) return undefined;
  const plan = await planRun({
    projectDir: config.dir,
    store: configuredStore(undefined, config),
    localFlags: opts.localFlags,
    steps: [],
  });
  if (plan.reason) process.stderr.write(`${plan.reason}; ${opts.what} in this process\n`);
  if (!plan.url) return undefined;
  process.stderr.write(`using the local server at ${plan.url} (--local: ${opts.what} in this process)\n`);
  const found = findLocalServer(config.dir);
  return { url: plan.url, ...(found.running ? { state: found.state } : {}) };
}

/** Where commands that only talk to a server go without --server. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8088';
export const SERVER_OPTION_HELP = `the orchestr8 serve to talk to (default: the project server of \`orchestr8 server start\` when it runs, else ${DEFAULT_SERVER_URL})`;

/**
 * The server a server-only command (approvals, send-event, triggers...) talks to: --server,
 * else the project's running local server (`orchestr8 server start`), as run, list and
 * cancel find it, else the default address.
 */
export async function serverForRemote(server: string | undefined): Promise<string> {
  if (server !== undefined) return server;
  const config = await loadProjectConfig().catch(() => undefined);
  if (config === undefined) return DEFAULT_SERVER_URL;
  const found = findLocalServer(config.dir);
  return found.running ? found.state.url : DEFAULT_SERVER_URL;
}
