import { type ChildProcess, spawn } from 'node:child_process';
import { defineAgent } from '@orchestr8/agent-base';
import { TerminalError, TimeoutError, ValidationError } from '@orchestr8/common';
import { GrantDenied } from '@orchestr8/core';
import { grantHint, literalString, narrowList, narrowRoot, stringList } from './agent-grants.js';
import { abortError, isRecord } from './http-util.js';
import { projectRoot, resolveInside } from './project-path.js';

export interface ShellInput {
  /** The program and its arguments; never interpreted by a shell. */
  command: string[];
  /** Working directory, relative to the project root (default: the root). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string | number | boolean>;
  /** Written to the command's standard input, then closed. Without it stdin is empty. */
  stdin?: string;
  timeoutMs?: number;
  /** Per stream; output beyond it is dropped and a marker appended. */
  maxOutputBytes?: number;
  /** Return a non-zero exit as output instead of failing the step. */
  allowNonZeroExit?: boolean;
}

export interface ShellOutput {
  exitCode: number | null;
  /** The signal that ended the command, when one did. */
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  truncated: boolean;
}

export const SHELL_ALLOW_ENV = 'ORCHESTR8_SHELL_ALLOW';
export const SHELL_DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;
export const SHELL_DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const KILL_GRACE_MS = 2000;
/** Passed through from the host environment to every command. */
const BASE_ENV = ['PATH', 'HOME', 'LANG'];
/** Variables an input may not set: they would change which program runs, or inject code into it. */
const DENIED_ENV = /^(PATH|NODE_OPTIONS|LD_[A-Z_]*|DYLD_[A-Z_]*)$/i;

const inputSchema = {
  type: 'object',
  required: ['command'],
  additionalProperties: false,
  properties: {
    command: { type: 'array', items: { type: 'string' }, minItems: 1 },
    cwd: { type: 'string' },
    env: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    stdin: { type: 'string' },
    timeoutMs: { type: 'number', exclusiveMinimum: 0 },
    maxOutputBytes: { type: 'integer', minimum: 0 },
    allowNonZeroExit: { type: 'boolean' },
  },
} as const;

const outputSchema = {
  type: 'object',
  required: ['exitCode', 'stdout', 'stderr', 'truncated'],
  properties: {
    exitCode: { type: ['integer', 'null'] },
    signal: { type: 'string' },
    stdout: { type: 'string' },
    stderr: { type: 'string' },
    durationMs: { type: 'number' },
    truncated: { type: 'boolean' },
  },
} as const;

const SHELL_ID = '@orchestr8/shell';
const ALLOW_HINT = `${grantHint(SHELL_ID, 'allow', '--allow-shell <program>')} (or ${SHELL_ALLOW_ENV}, comma-separated)`;

/**
 * Runs one allowlisted program with its arguments, without a shell: no globbing, pipes or
 * `$(...)`, so arguments built from workflow data cannot inject commands. The operator
 * allows programs (`capabilities.agents["@orchestr8/shell"].allow`, `ORCHESTR8_SHELL_ALLOW`);
 * a document's `agent.config` may only pick among them. The working directory stays inside
 * the operator's root; the environment is filtered; output and time are bounded.
 */
export const shellAgent = defineAgent<ShellInput, ShellOutput>({
  id: '@orchestr8/shell',
  version: '1.0.0',
  description: 'Runs an allowlisted command (argv array, no shell) inside the project directory.',
  inputSchema,
  outputSchema,
  target: (input) => (Array.isArray(input?.command) ? input.command[0] : undefined),
  grant(requested, operator) {
    const granted = [...shellAllowlist(operator)];
    const allow = narrowList(requested.allow, granted, `${SHELL_ID}.allow`, ALLOW_HINT, (p) => `"${p}"`);
    const operatorEnv = stringList(operator.passEnv, `${SHELL_ID}.passEnv`) ?? [];
    const passEnv = narrowList(
      requested.passEnv,
      operatorEnv,
      `${SHELL_ID}.passEnv`,
      grantHint(SHELL_ID, 'passEnv'),
      (n) => `environment variable ${n}`,
    );
    const config: Record<string, unknown> = {
      ...limits(requested, operator),
      allow,
      passEnv,
      ...narrowRoot(requested, operator, SHELL_ID),
    };
    return config;
  },
  // A program written as a literal is refused before the execution is recorded.
  grantInput(input, config) {
    const command = isRecord(input) ? input.command : undefined;
    const program = literalString(Array.isArray(command) ? command[0] : undefined);
    if (program === undefined || program === '') return;
    const refused = allowRefusal(program, config);
    if (refused !== undefined) throw new GrantDenied(`${SHELL_ID}.allow`, refused, ALLOW_HINT);
  },
  async execute(input, ctx) {
    const config = ctx.config;
    const [program, ...args] = input.command;
    if (typeof program !== 'string' || program === '' || !args.every((a) => typeof a === 'string')) {
      throw new ValidationError('shell: command must be a non-empty array of strings');
    }
    checkAllowed(program, config);
    const root = await projectRoot(config, 'shell');
    const cwd = await resolveInside(root, input.cwd ?? '.', 'shell', 'cwd');
    if (!cwd.isDirectory) throw new ValidationError(`shell: cwd "${input.cwd}" is not a directory`);
    const env = buildEnv(input.env, config.passEnv);
    // The step input may lower a bound the config sets (the operator's cap), never raise it.
    const timeoutMs = atMost(input.timeoutMs, positive(config.timeoutMs)) ?? SHELL_DEFAULT_TIMEOUT_MS;
    const maxBytes =
      atMost(input.maxOutputBytes, positive(config.maxOutputBytes)) ?? SHELL_DEFAULT_MAX_OUTPUT_BYTES;
    if (ctx.signal.aborted) throw abortError(ctx.signal);

    const started = performance.now();
    const run = await runProcess(program, args, {
      cwd: cwd.path,
      env,
      stdin: input.stdin,
      timeoutMs,
      maxBytes,
      signal: ctx.signal,
    });
    const durationMs = Math.round(performance.now() - started);
    const display = input.command.join(' ');
    if (run.killedFor !== undefined) {
      if (run.killedFor === 'timeout') {
        throw new TimeoutError(`shell: "${display}" timed out after ${timeoutMs} ms and was killed`, {
          details: { stdout: tail(run.stdout.text()), stderr: tail(run.stderr.text()) },
        });
      }
      throw abortError(ctx.signal);
    }
    const output: ShellOutput = {
      exitCode: run.exitCode,
      stdout: run.stdout.text(),
      stderr: run.stderr.text(),
      durationMs,
      truncated: run.stdout.dropped > 0 || run.stderr.dropped > 0,
    };
    if (run.signal !== null) output.signal = run.signal;
    if (run.exitCode !== 0 && !input.allowNonZeroExit) {
      const how = run.exitCode === null ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`;
      const last = tail(output.stderr, 300).trim();
      throw new TerminalError(`shell: "${display}" ${how}${last ? `: ${last}` : ''}`, {
        code: 'SHELL_EXIT',
        details: {
          exitCode: run.exitCode,
          signal: run.signal,
          stdout: tail(output.stdout),
          stderr: tail(output.stderr),
        },
      });
    }
    return output;
  },
});

function atMost(asked: number | undefined, cap: number | undefined): number | undefined {
  return asked === undefined ? cap : cap === undefined ? asked : Math.min(asked, cap);
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

function tail(text: string, max = 2000): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}

/** Time and output bounds: a document's, capped by the operator's. */
function limits(
  requested: Readonly<Record<string, unknown>>,
  operator: Readonly<Record<string, unknown>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of ['timeoutMs', 'maxOutputBytes'] as const) {
    const asked = positive(requested[key]);
    const cap = positive(operator[key]);
    const value = asked !== undefined && cap !== undefined ? Math.min(asked, cap) : (asked ?? cap);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * The operator's allowlist: `allow` of the operator's grant plus the comma-separated
 * `ORCHESTR8_SHELL_ALLOW`. "*" allows any program. (After the engine's grant, a step's
 * `config.allow` is already the narrowed list, environment included.)
 */
export function shellAllowlist(config: Readonly<Record<string, unknown>>): Set<string> {
  const allowed = new Set<string>();
  if (config.allow !== undefined) {
    if (!Array.isArray(config.allow) || !config.allow.every((a) => typeof a === 'string')) {
      throw new ValidationError('shell: config.allow must be an array of command names');
    }
    for (const a of config.allow) allowed.add(a);
  }
  for (const a of (process.env[SHELL_ALLOW_ENV] ?? '').split(',')) {
    const name = a.trim();
    if (name) allowed.add(name);
  }
  return allowed;
}

/**
 * The program must be listed exactly as written: "git" allows `git` looked up on PATH, not
 * `/tmp/git` or `./git`; a path is allowed only when the path itself is listed.
 */
function checkAllowed(program: string, config: Readonly<Record<string, unknown>>): void {
  const refused = allowRefusal(program, config);
  if (refused === undefined) return;
  throw new TerminalError(`${refused}; ${ALLOW_HINT}`, {
    code: 'SHELL_NOT_ALLOWED',
    details: { command: program, allowed: [...allowedPrograms(config)] },
  });
}

function allowedPrograms(config: Readonly<Record<string, unknown>>): Set<string> {
  return config.allow === undefined ? shellAllowlist(config) : new Set(stringList(config.allow, 'allow'));
}

/** Why `program` may not run under `config` (without the hint), or undefined when it may. */
function allowRefusal(program: string, config: Readonly<Record<string, unknown>>): string | undefined {
  const allowed = allowedPrograms(config);
  if (allowed.has('*') || allowed.has(program)) return undefined;
  return allowed.size === 0
    ? `shell: no command is allowed, so "${program}" cannot run`
    : `shell: "${program}" is not on the allowlist (${[...allowed].join(', ')})`;
}

function buildEnv(extra: ShellInput['env'], passEnv: unknown): Record<string, string> {
  if (passEnv !== undefined && (!Array.isArray(passEnv) || !passEnv.every((n) => typeof n === 'string'))) {
    throw new ValidationError('shell: config.passEnv must be an array of environment variable names');
  }
  const env: Record<string, string> = {};
  for (const name of [...BASE_ENV, ...((passEnv as string[] | undefined) ?? [])]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  if (extra !== undefined) {
    if (!isRecord(extra)) throw new ValidationError('shell: env must be an object of names to values');
    for (const [name, value] of Object.entries(extra)) {
      if (DENIED_ENV.test(name)) {
        throw new ValidationError(
          `shell: env may not set ${name} (it changes which program runs or what code it loads)`,
        );
      }
      env[name] = String(value);
    }
  }
  return env;
}

/** One output stream, kept up to a byte cap; the rest is counted, not kept. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;

  constructor(private readonly max: number) {}

  add(chunk: Buffer): void {
    const room = this.max - this.size;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(kept);
    this.size += kept.length;
    this.dropped += chunk.length - kept.length;
  }

  text(): string {
    const text = Buffer.concat(this.chunks, this.size).toString('utf8');
    return this.dropped > 0 ? `${text}\n[orchestr8: output truncated, ${this.dropped} more bytes]` : text;
  }
}

interface ProcessResult {
  exitCode: number | null;
  signal: string | null;
  stdout: Capture;
  stderr: Capture;
  killedFor?: 'timeout' | 'abort';
}

interface ProcessOptions {
  cwd: string;
  env: Record<string, string>;
  stdin: string | undefined;
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal;
}

const POSIX = process.platform !== 'win32';

/** Signals the whole process group (the command and anything it started), or just the child on Windows. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (POSIX && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // Already gone.
  }
}

function runProcess(program: string, args: string[], o: ProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: o.cwd,
      env: o.env,
      shell: false,
      // Its own process group, so a timeout or cancellation can stop everything it started.
      detached: POSIX,
      windowsHide: true,
      stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const result: ProcessResult = {
      exitCode: null,
      signal: null,
      stdout: new Capture(o.maxBytes),
      stderr: new Capture(o.maxBytes),
    };
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      if (closeTimer !== undefined) clearTimeout(closeTimer);
      o.signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(result);
    };
    const stop = (why: 'timeout' | 'abort') => {
      if (result.killedFor !== undefined || settled) return;
      result.killedFor = why;
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const onAbort = () => stop('abort');
    const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
    o.signal.addEventListener('abort', onAbort, { once: true });
    if (o.signal.aborted) stop('abort');

    child.stdout!.on('data', (c: Buffer) => result.stdout.add(c));
    child.stderr!.on('data', (c: Buffer) => result.stderr.add(c));
    if (o.stdin !== undefined) {
      // A command that exits without reading its input closes the pipe: not an error of ours.
      child.stdin!.on('error', () => {});
      child.stdin!.end(o.stdin);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code === 'ENOENT' ? 'SHELL_NOT_FOUND' : 'SHELL_SPAWN';
      const message =
        e.code === 'ENOENT'
          ? `shell: "${program}" was not found (looked up on PATH ${o.env.PATH ?? '<unset>'} from ${o.cwd})`
          : `shell: cannot start "${program}": ${e.message}`;
      finish(new TerminalError(message, { code, cause: e, details: { errno: e.code } }));
    });
    child.on('exit', (code, signal) => {
      result.exitCode = code;
      result.signal = signal;
      // 'close' waits for the output pipes; a background process that inherited them could
      // hold them open forever, so stop waiting shortly after the command itself exited.
      closeTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, 500);
    });
    child.on('close', (code, signal) => {
      if (result.exitCode === null && result.signal === null) {
        result.exitCode = code;
        result.signal = signal;
      }
      finish();
    });
  });
}
