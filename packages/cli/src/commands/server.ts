/**
 * `orchestr8 server start|status|stop|restart|logs`: the project's `orchestr8 serve` as a
 * background service. One per project (the config file's directory, else the working
 * directory), found through `.orchestr8/server.json` (local-server.ts); output in
 * `.orchestr8/server.log`.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '@orchestr8/schema';
import type { Command, Option } from 'commander';
import { loadProjectConfig } from '../config.js';
import { failUsage, reportError } from '../fail.js';
import {
  findAndClean,
  getJson,
  isReady,
  isServerProcess,
  readServerState,
  type ServerState,
  serverLogFile,
  serverStateFile,
  stateDir,
} from '../local-server.js';

/** `server status` exit code when no server runs (as `systemctl status`, LSB "not running"). */
export const NOT_RUNNING = 3;

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url));

function duration(name: string, value: string): number {
  try {
    return parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  } catch {
    throw new Error(`${name} must be a duration such as 500ms, 10s or 5m, got "${value}"`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function registerServerCommand(program: Command): void {
  const server = program
    .command('server')
    .description(
      'run `orchestr8 serve` in the background for this project: start, status, stop, restart, logs',
    )
    .addHelpText(
      'after',
      '\nOne server per project (the directory of orchestr8.config.*, else the working directory); its pid file\n' +
        'is .orchestr8/server.json and its log .orchestr8/server.log there. While it runs, `orchestr8 run` uses it\n' +
        'when it can (see `orchestr8 run --help`).',
    );

  const start = server
    .command('start')
    .description('start the server in the background; takes the options of `orchestr8 serve`')
    .option('--wait <duration>', 'how long to wait for the server to answer /readyz', '30s');
  // The options of `serve`, parsed and checked the same way, then passed on as given.
  const serve = program.commands.find((c) => c.name() === 'serve');
  const serveOptions: readonly Option[] = serve?.options ?? [];
  for (const o of serveOptions) if (o.long !== '--state-file') start.addOption(o);
  start
    .addHelpText(
      'after',
      '\nThe default port is 8088, as for serve; with --port 0 the system picks a free one (status prints it).\n' +
        'Exit codes: 0 started, 1 failed to start or already running (where it runs is printed), 2 usage.',
    )
    .action(async (_opts: Record<string, unknown>, cmd: Command) => {
      process.exitCode = await startCommand(cmd, serveOptions);
    });

  server
    .command('status')
    .description('whether the project server runs: URL, pid, uptime, store, version, executions')
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 running, 3 not running (a stale pid file is removed and reported).',
    )
    .action(async (opts: { json?: boolean }) => {
      process.exitCode = await statusCommand(opts);
    });

  server
    .command('stop')
    .description("stop the project server: SIGTERM, the server's grace period, then SIGKILL")
    .option('--timeout <duration>', 'how long to wait beyond the grace period before SIGKILL', '10s')
    .addHelpText('after', '\nExit codes: 0 stopped or not running, 1 could not be stopped.')
    .action(async (opts: { timeout: string }) => {
      process.exitCode = await stopCommand(opts);
    });

  server
    .command('restart')
    .description('stop the project server and start it again with the options it was started with')
    .option('--timeout <duration>', 'how long to wait beyond the grace period before SIGKILL', '10s')
    .option('--wait <duration>', 'how long to wait for the server to answer /readyz', '30s')
    .action(async (opts: { timeout: string; wait: string }) => {
      process.exitCode = await restartCommand(opts);
    });

  server
    .command('logs')
    .description("print the project server's log (.orchestr8/server.log)")
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--since <when>', 'only lines from this long ago (a duration, e.g. 10m) or since an ISO time')
    .action(async (opts: { follow?: boolean; since?: string }) => {
      process.exitCode = await logsCommand(opts);
    });
}

async function projectDir(): Promise<string> {
  return (await loadProjectConfig()).dir;
}

function where(state: ServerState): string {
  return `${state.url} (pid ${state.pid}, store ${state.store})`;
}

// ---- start -------------------------------------------------------------------------------

/** The serve options given on the command line, as arguments again. */
function forwardedArgs(cmd: Command, options: readonly Option[]): string[] {
  const args: string[] = [];
  const values = cmd.opts();
  for (const o of options) {
    const key = o.attributeName();
    if (cmd.getOptionValueSource(key) !== 'cli' || !o.long) continue;
    const v = values[key];
    if (o.negate) {
      if (v === false) args.push(o.long);
    } else if (v === true) args.push(o.long);
    else if (Array.isArray(v)) for (const x of v) args.push(o.long, String(x));
    else if (v !== undefined && v !== false) args.push(o.long, String(v));
  }
  return args;
}

async function startCommand(cmd: Command, options: readonly Option[]): Promise<number> {
  try {
    const opts = cmd.opts() as { wait: string };
    const waitMs = duration('--wait', opts.wait);
    const config = await loadProjectConfig();
    const root = cmd.parent!.parent!.opts() as { config?: string | false };
    const rootArgs = config.file ? ['--config', config.file] : root.config === false ? ['--no-config'] : [];
    const file = serverStateFile(config.dir);
    const argv = [...rootArgs, 'serve', ...forwardedArgs(cmd, options), '--state-file', file];
    return await launch(config.dir, argv, waitMs);
  } catch (e) {
    if (e instanceof Error && /^--\w+ must be/.test(e.message)) return failUsage(e.message);
    return reportError(e);
  }
}

/** Starts `node <bin> <argv>` detached, its output appended to the log; resolves once ready. */
async function launch(dir: string, argv: string[], waitMs: number): Promise<number> {
  const found = findAndClean(dir);
  if (found.running) {
    process.stderr.write(
      `error: a server for this project is already running at ${where(found.state)}; ` +
        'stop it with `orchestr8 server stop`\n',
    );
    return 1;
  }
  if (found.cleaned) process.stderr.write(`${found.cleaned}\n`);
  mkdirSync(stateDir(dir), { recursive: true });
  const log = serverLogFile(dir);
  // One previous log is kept, as server.log.1.
  if (existsSync(log)) renameSync(log, `${log}.1`);
  const fd = openSync(log, 'a', 0o600);
  // The first line has a time, so `logs --since` places the plain lines after it.
  writeSync(
    fd,
    `${JSON.stringify({ level: 'info', time: new Date().toISOString(), msg: `orchestr8 server start: ${shown(argv)}` })}\n`,
  );
  const child = spawn(process.execPath, [BIN, ...argv], {
    cwd: process.cwd(),
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  const file = serverStateFile(dir);
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      if (exited !== undefined) {
        process.stderr.write(`error: the server exited (code ${exited}) before it was ready; its log:\n`);
        process.stderr.write(tail(log, 20));
        return 1;
      }
      const state = readServerState(file);
      if (state && state.pid === child.pid && (await isReady(state.url))) {
        process.stdout.write(`orchestr8 server running at ${state.url}\n`);
        process.stderr.write(
          `pid ${state.pid} · store ${state.store} · log ${relative(process.cwd(), log) || log} · stop it with \`orchestr8 server stop\`\n`,
        );
        return 0;
      }
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        process.stderr.write(
          `error: the server did not answer /readyz within ${waitMs} ms; stopped it. Its log:\n${tail(log, 20)}`,
        );
        return 1;
      }
      await sleep(100);
    }
  } finally {
    child.unref();
  }
}

/** The arguments for the log: without the state file, API keys hidden. */
function shown(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--state-file') i++;
    else if (argv[i] === '--api-keys') {
      out.push('--api-keys', '***');
      i++;
    } else out.push(argv[i]!);
  }
  return out.join(' ');
}

function readAll(file: string, from = 0): string {
  const size = statSync(file).size;
  if (size <= from) return '';
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function tail(file: string, lines: number): string {
  const text = existsSync(file) ? readAll(file) : '';
  const out = text.split('\n').filter(Boolean).slice(-lines);
  return out.length ? `${out.map((l) => `  ${l}`).join('\n')}\n` : '';
}

// ---- status --------------------------------------------------------------------------------

function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${s % 60}s`].filter(Boolean);
  return parts.slice(0, 2).join(' ');
}

async function countExecutions(url: string, status: string): Promise<number | undefined> {
  const r = await getJson(url, `/executions?status=${status}&limit=1000`);
  if (r?.status !== 200) return undefined;
  return ((r.body as { items?: unknown[] }).items ?? []).length;
}

async function statusCommand(opts: { json?: boolean }): Promise<number> {
  try {
    const dir = await projectDir();
    const found = findAndClean(dir);
    if (!found.running) {
      if (opts.json)
        process.stdout.write(
          `${JSON.stringify({ running: false, project: dir, ...(found.cleaned ? { cleaned: found.cleaned } : {}) }, null, 2)}\n`,
        );
      else
        process.stdout.write(
          `not running (project ${dir})${found.cleaned ? `; ${found.cleaned}` : ''}\nstart it with \`orchestr8 server start\`\n`,
        );
      return NOT_RUNNING;
    }
    const s = found.state;
    const ready = await isReady(s.url);
    const [running, queued] = ready
      ? await Promise.all([countExecutions(s.url, 'running'), countExecutions(s.url, 'queued')])
      : [undefined, undefined];
    const uptimeMs = Date.now() - Date.parse(s.startedAt);
    if (opts.json) {
      const out = {
        running: true,
        ready,
        url: s.url,
        pid: s.pid,
        startedAt: s.startedAt,
        uptimeMs,
        store: s.store,
        version: s.version,
        executions: { running: running ?? null, queued: queued ?? null },
        project: dir,
        log: serverLogFile(dir),
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const count = (n: number | undefined) => (n === undefined ? '?' : String(n));
    const rows: [string, string][] = [
      ['status', ready ? 'running' : 'running, but not answering /readyz'],
      ['url', s.url],
      ['pid', String(s.pid)],
      ['uptime', `${formatUptime(uptimeMs)} (since ${s.startedAt})`],
      ['store', s.store],
      ['version', s.version],
      [
        'executions',
        running === undefined && ready && s.apiKeys
          ? '? (the API requires a key: set ORCHESTR8_API_KEY)'
          : `${count(running)} running, ${count(queued)} queued`,
      ],
      ['project', dir],
      ['log', serverLogFile(dir)],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(11)}${v}\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

// ---- stop / restart ------------------------------------------------------------------------

async function waitGone(pid: number, file: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isServerProcess(pid, file)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Stops the server in `dir`: 0 stopped (or none ran), 1 still running. */
async function stopServer(dir: string, timeoutMs: number): Promise<{ code: number; state?: ServerState }> {
  const found = findAndClean(dir);
  if (!found.running) {
    process.stderr.write(`no server running for this project${found.cleaned ? `; ${found.cleaned}` : ''}\n`);
    // A crashed server's stale file still says what it ran with: `restart` starts it so again.
    const crashed = found.stale?.state;
    return crashed?.argv !== undefined ? { code: 0, state: crashed } : { code: 0 };
  }
  const { state, file } = found;
  process.stderr.write(
    `stopping the server at ${state.url} (pid ${state.pid}, grace ${state.graceMs} ms)…\n`,
  );
  try {
    process.kill(state.pid, 'SIGTERM');
  } catch {
    // gone already
  }
  if (!(await waitGone(state.pid, file, state.graceMs + timeoutMs))) {
    process.stderr.write(`it did not stop within ${state.graceMs + timeoutMs} ms: sending SIGKILL\n`);
    try {
      process.kill(state.pid, 'SIGKILL');
    } catch {
      // gone in between
    }
    if (!(await waitGone(state.pid, file, 5000))) {
      process.stderr.write(`error: process ${state.pid} is still running\n`);
      return { code: 1, state };
    }
  }
  // A clean stop removes the file itself; a forced one leaves it.
  findAndClean(dir);
  process.stderr.write('stopped\n');
  return { code: 0, state };
}

async function stopCommand(opts: { timeout: string }): Promise<number> {
  try {
    const timeoutMs = duration('--timeout', opts.timeout);
    return (await stopServer(await projectDir(), timeoutMs)).code;
  } catch (e) {
    if (e instanceof Error && /^--\w+ must be/.test(e.message)) return failUsage(e.message);
    return reportError(e);
  }
}

async function restartCommand(opts: { timeout: string; wait: string }): Promise<number> {
  try {
    const timeoutMs = duration('--timeout', opts.timeout);
    const waitMs = duration('--wait', opts.wait);
    const dir = await projectDir();
    const stopped = await stopServer(dir, timeoutMs);
    if (stopped.code !== 0) return stopped.code;
    // Only a running server's own options are known. Starting one with the defaults instead
    // would drop what the operator gave (--api-keys: an open API), so nothing runs then.
    if (stopped.state?.argv === undefined) {
      process.stderr.write(
        'error: nothing to restart: restart starts the server with the options it runs with; start it with `orchestr8 server start [options]`\n',
      );
      return 1;
    }
    return await launch(dir, stopped.state.argv, waitMs);
  } catch (e) {
    if (e instanceof Error && /^--\w+ must be/.test(e.message)) return failUsage(e.message);
    return reportError(e);
  }
}

// ---- logs ----------------------------------------------------------------------------------

/** Keeps lines at or after `since`; a line without a time (plain output) goes with the line before it. */
function sinceFilter(since: number | undefined): (line: string) => boolean {
  let keep = since === undefined;
  return (line) => {
    if (since === undefined) return true;
    if (line.startsWith('{')) {
      try {
        const t = (JSON.parse(line) as { time?: unknown }).time;
        const ms = typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : Number.NaN;
        if (!Number.isNaN(ms)) keep = ms >= since;
      } catch {
        // not JSON after all: as a plain line
      }
    }
    return keep;
  };
}

function parseSince(value: string): number {
  const at = Date.parse(value);
  if (/^\d{4}-\d\d-\d\d/.test(value) && !Number.isNaN(at)) return at;
  return Date.now() - duration('--since', value);
}

async function logsCommand(opts: { follow?: boolean; since?: string }): Promise<number> {
  try {
    const since = opts.since === undefined ? undefined : parseSince(opts.since);
    const dir = await projectDir();
    const log = serverLogFile(dir);
    if (!existsSync(log)) {
      process.stderr.write(`no server log at ${log} (start a server with \`orchestr8 server start\`)\n`);
      return 1;
    }
    const keep = sinceFilter(since);
    let offset = 0;
    let partial = '';
    const print = () => {
      let size: number;
      try {
        size = statSync(log).size;
      } catch {
        return;
      }
      if (size < offset) offset = 0; // a restart rotated the log: the new one from its start
      const text = partial + readAll(log, offset);
      offset = size;
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      const out = lines.filter(keep);
      if (out.length) process.stdout.write(`${out.join('\n')}\n`);
    };
    print();
    if (!opts.follow) {
      if (partial && keep(partial)) process.stdout.write(`${partial}\n`);
      return 0;
    }
    await new Promise<void>((resolve) => {
      const timer = setInterval(print, 200);
      process.once('SIGINT', () => {
        clearInterval(timer);
        resolve();
      });
      process.once('SIGTERM', () => {
        clearInterval(timer);
        resolve();
      });
    });
    return 0;
  } catch (e) {
    if (e instanceof Error && /^--\w+ must be/.test(e.message)) return failUsage(e.message);
    return reportError(e);
  }
}
