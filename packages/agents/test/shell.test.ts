import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentContext } from '@orchestr8/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SHELL_ALLOW_ENV, shellAgent } from '../src/index.js';
import { caught, compile, contextFor, dataOf, entries, journal, run, testEngine } from './helpers.js';

let root: string;
let outside: string;

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'o8-shell-root-')));
  outside = realpathSync(mkdtempSync(join(tmpdir(), 'o8-shell-out-')));
  mkdirSync(join(root, 'sub'));
  symlinkSync(outside, join(root, 'escape'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env[SHELL_ALLOW_ENV];
  delete process.env.O8_TEST_SECRET;
});

function ctx(config: Record<string, unknown> = {}, extra: Partial<AgentContext> = {}): AgentContext {
  return contextFor({ config: { allow: ['node'], root, ...config }, ...extra });
}

const node = (script: string) => ['node', '-e', script];

describe('@orchestr8/shell', () => {
  it('refuses every command until the operator allows one, saying how', async () => {
    const e = await caught(() => shellAgent.execute({ command: ['echo', 'hi'] }, contextFor()));
    expect(e).toMatchObject({ code: 'SHELL_NOT_ALLOWED', retryable: false });
    expect(e.message).toContain('no command is allowed');
    expect(e.message).toContain('capabilities.agents["@orchestr8/shell"].allow');
    expect(e.message).toContain('--allow-shell');
    expect(e.message).toContain(SHELL_ALLOW_ENV);
  });

  it('runs an allowed command and returns its exit code and output', async () => {
    const out = await shellAgent.execute(
      { command: node('process.stdout.write("out"); process.stderr.write("err")') },
      ctx(),
    );
    expect(out).toMatchObject({ exitCode: 0, stdout: 'out', stderr: 'err', truncated: false });
    expect(typeof out.durationMs).toBe('number');
  });

  it('allows commands listed in ORCHESTR8_SHELL_ALLOW', async () => {
    process.env[SHELL_ALLOW_ENV] = 'git, echo';
    const out = await shellAgent.execute({ command: ['echo', 'hi'] }, contextFor({ config: { root } }));
    expect(out.stdout).toBe('hi\n');
  });

  it('passes arguments verbatim, without a shell to expand or chain them', async () => {
    const out = await shellAgent.execute(
      { command: ['echo', '$HOME; echo injected `id` *'] },
      ctx({ allow: ['echo'] }),
    );
    expect(out.stdout).toBe('$HOME; echo injected `id` *\n');
  });

  it('matches the allowlist exactly: "echo" does not allow /bin/echo or ./echo', async () => {
    for (const program of ['/bin/echo', './echo']) {
      const e = await caught(() => shellAgent.execute({ command: [program, 'x'] }, ctx({ allow: ['echo'] })));
      expect(e).toMatchObject({ code: 'SHELL_NOT_ALLOWED' });
      expect(e.message).toContain('not on the allowlist (echo)');
    }
  });

  it('gives the command only PATH, HOME, LANG, passEnv names and its own env', async () => {
    process.env.O8_TEST_SECRET = 'hunter2';
    const script = 'process.stdout.write(JSON.stringify(process.env))';
    const plain = JSON.parse(
      (await shellAgent.execute({ command: node(script), env: { MODE: 'fast', N: 2 } }, ctx())).stdout,
    );
    expect(plain.O8_TEST_SECRET).toBeUndefined();
    expect(plain).toMatchObject({ MODE: 'fast', N: '2' });
    expect(Object.keys(plain).filter((k) => !['PATH', 'HOME', 'LANG', 'MODE', 'N'].includes(k))).toEqual([]);
    const passed = JSON.parse(
      (await shellAgent.execute({ command: node(script) }, ctx({ passEnv: ['O8_TEST_SECRET'] }))).stdout,
    );
    expect(passed.O8_TEST_SECRET).toBe('hunter2');
  });

  it('refuses env entries that would change which program runs or inject code', async () => {
    for (const name of ['PATH', 'LD_PRELOAD', 'NODE_OPTIONS']) {
      const e = await caught(() =>
        shellAgent.execute({ command: node('1'), env: { [name]: '/tmp' } }, ctx()),
      );
      expect(e).toMatchObject({ code: 'VALIDATION' });
    }
  });

  it('runs in a directory inside the project root and refuses .. and symlink escapes', async () => {
    const cwd = 'process.stdout.write(process.cwd())';
    expect((await shellAgent.execute({ command: node(cwd) }, ctx())).stdout).toBe(root);
    expect((await shellAgent.execute({ command: node(cwd), cwd: 'sub' }, ctx())).stdout).toBe(
      join(root, 'sub'),
    );
    const dotdot = await caught(() => shellAgent.execute({ command: node(cwd), cwd: '../' }, ctx()));
    expect(dotdot).toMatchObject({ code: 'VALIDATION' });
    expect(dotdot.message).toContain('outside the project root');
    const absolute = await caught(() => shellAgent.execute({ command: node(cwd), cwd: outside }, ctx()));
    expect(absolute).toMatchObject({ code: 'VALIDATION' });
    const link = await caught(() => shellAgent.execute({ command: node(cwd), cwd: 'escape' }, ctx()));
    expect(link).toMatchObject({ code: 'VALIDATION' });
    expect(link.message).toContain('through a symlink');
  });

  it('fails with SHELL_EXIT on a non-zero exit, unless allowNonZeroExit', async () => {
    const script = 'process.stderr.write("bad things"); process.exit(3)';
    const e = await caught(() => shellAgent.execute({ command: node(script) }, ctx()));
    expect(e).toMatchObject({ code: 'SHELL_EXIT', retryable: false });
    expect(e.message).toContain('exited with code 3: bad things');
    expect(e.details).toMatchObject({ exitCode: 3, stderr: 'bad things' });
    const out = await shellAgent.execute({ command: node(script), allowNonZeroExit: true }, ctx());
    expect(out).toMatchObject({ exitCode: 3, stderr: 'bad things' });
  });

  it('caps each output stream and marks the cut', async () => {
    const out = await shellAgent.execute(
      {
        command: node('process.stdout.write("a".repeat(5000)); process.stderr.write("e")'),
        maxOutputBytes: 100,
      },
      ctx(),
    );
    expect(out.truncated).toBe(true);
    expect(out.stdout).toBe(`${'a'.repeat(100)}\n[orchestr8: output truncated, 4900 more bytes]`);
    expect(out.stderr).toBe('e');
  });

  it('feeds stdin to the command', async () => {
    const script =
      'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(s.toUpperCase()))';
    const out = await shellAgent.execute({ command: node(script), stdin: 'quiet' }, ctx());
    expect(out.stdout).toBe('QUIET');
  });

  it('fails with SHELL_NOT_FOUND for an allowed program that does not exist', async () => {
    const e = await caught(() =>
      shellAgent.execute({ command: ['o8-no-such-program'] }, ctx({ allow: ['o8-no-such-program'] })),
    );
    expect(e).toMatchObject({ code: 'SHELL_NOT_FOUND', retryable: false });
  });

  it('kills the whole process group on timeout', async () => {
    // The command starts a grandchild, reports its pid, and then both wait forever.
    const script =
      'const c=require("child_process").spawn(process.execPath,["-e","setInterval(()=>{},1000)"],{stdio:"ignore"});' +
      'process.stdout.write(String(c.pid));setInterval(()=>{},1000)';
    const e = await caught(() => shellAgent.execute({ command: node(script), timeoutMs: 300 }, ctx()));
    expect(e).toMatchObject({ code: 'TIMEOUT' });
    const grandchild = Number(e.details.stdout);
    expect(grandchild).toBeGreaterThan(0);
    expect(await gone(grandchild)).toBe(true);
  });

  it('kills the command when the step is cancelled', async () => {
    const controller = new AbortController();
    const pending = caught(() =>
      shellAgent.execute(
        { command: node('process.stdout.write("started"); setInterval(()=>{},1000)') },
        ctx({}, { signal: controller.signal }),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    controller.abort(new Error('stop'));
    expect(await pending).toMatchObject({ code: 'CANCELLED' });
  });

  it("runs through the engine with the operator's allowlist, and takes arguments from data verbatim", async () => {
    const wf = compile({
      steps: [
        {
          id: 'version',
          agent: '@orchestr8/shell',
          input: { command: ['node', '-e', 'console.log(process.argv[1])', '${inputs.word}'] },
        },
      ],
      inputs: { type: 'object', properties: { word: { type: 'string' } } },
    });
    const { engine, clock } = testEngine([shellAgent], operator({ allow: ['node'], root }));
    const r = await run(engine, clock, wf, { word: 'hi; rm -rf /' });
    expect(r.status).toBe('completed');
    expect(r.steps.version!.output).toMatchObject({ exitCode: 0, stdout: 'hi; rm -rf /\n' });
    expect(dataOf(entries(await journal(engine, r.executionId), 'step.completed')[0]).output.stdout).toBe(
      'hi; rm -rf /\n',
    );
  });

  it('refuses a document that grants itself programs, before anything runs', async () => {
    const marker = join(root, 'pwned');
    const wf = compile({
      steps: [
        {
          id: 'own',
          agent: { id: '@orchestr8/shell', config: { allow: ['*'] } },
          input: { command: ['node', '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`] },
        },
      ],
    });
    for (const granted of [[], ['node']]) {
      const { engine } = testEngine([shellAgent], operator({ allow: granted, root }));
      const e = await caught(() => engine.start(wf));
      expect(e).toMatchObject({ code: 'CAPABILITY_DENIED', retryable: false });
      expect(e.message).toContain('step "own"');
      expect(e.message).toContain('"*"');
      expect(e.message).toContain('capabilities.agents["@orchestr8/shell"].allow');
      expect((await engine.store.listExecutions({ limit: 10 })).items).toHaveLength(0);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it("lets a document narrow the operator's allowlist, not use what it left out", async () => {
    const narrowed = (program: string) =>
      compile({
        inputs: { type: 'object', properties: { program: { type: 'string' } } },
        steps: [
          {
            id: 'narrow',
            agent: { id: '@orchestr8/shell', config: { allow: ['echo'] } },
            input: { command: [program, '-e', '1'] },
          },
        ],
      });
    const { engine, clock } = testEngine([shellAgent], operator({ allow: ['node', 'echo'], root }));
    // The program rendered at run time: refused when the step runs.
    const r = await run(engine, clock, narrowed('${inputs.program}'), { program: 'node' });
    expect(r.status).toBe('failed');
    expect(r.steps.narrow!.error).toMatchObject({ code: 'SHELL_NOT_ALLOWED' });
    // Written as a literal: refused before anything is recorded.
    const e = await caught(() => engine.start(narrowed('node')));
    expect(e).toMatchObject({ code: 'CAPABILITY_DENIED', retryable: false });
    expect(e.message).toContain('step "narrow": shell: "node" is not on the allowlist (echo)');
    expect((await engine.store.listExecutions({ limit: 10 })).items).toHaveLength(1);
  });

  it('leaves a literal program to run time in a step that may not run: a condition, a step after it, a handled failure', async () => {
    const wf = compile({
      inputs: { type: 'object', properties: { os: { type: 'string' } } },
      steps: [
        { id: 'linux', agent: '@orchestr8/shell', input: { command: ['node', '-e', '1'] } },
        {
          id: 'mac',
          agent: '@orchestr8/shell',
          condition: { if: 'inputs.os == "mac"' },
          input: { command: ['brew', 'list'] },
        },
        {
          id: 'after-mac',
          agent: '@orchestr8/shell',
          dependencies: ['mac'],
          input: { command: ['brew', 'doctor'] },
        },
        {
          id: 'try',
          agent: '@orchestr8/shell',
          input: { command: ['docker', 'ps'] },
          onError: 'continue',
        },
      ],
    });
    const { engine, clock } = testEngine([shellAgent], operator({ allow: ['node'], root }));
    engine.authorize(wf);
    const r = await run(engine, clock, wf, { os: 'linux' });
    expect(r.steps.linux!.status).toBe('completed');
    expect(r.steps.mac!.status).toBe('skipped');
    expect(r.steps.try!.error).toMatchObject({ code: 'SHELL_NOT_ALLOWED' });
  });

  it('refuses a literal program the operator did not grant before anything runs or is recorded', async () => {
    const marker = join(root, 'pwned-literal');
    const wf = compile({
      steps: [
        { id: 'ok', agent: '@orchestr8/shell', input: { command: ['node', '-e', '1'] } },
        {
          id: 'rm',
          agent: '@orchestr8/shell',
          input: { command: ['touch', marker] },
          dependencies: ['ok'],
        },
      ],
    });
    const { engine } = testEngine([shellAgent], operator({ allow: ['node'], root }));
    const e = await caught(() => engine.start(wf));
    expect(e).toMatchObject({ code: 'CAPABILITY_DENIED', retryable: false });
    expect(e.message).toContain('step "rm": shell: "touch" is not on the allowlist (node)');
    expect(e.message).toContain('capabilities.agents["@orchestr8/shell"].allow');
    expect((await engine.store.listExecutions({ limit: 10 })).items).toHaveLength(0);
    expect(() => engine.authorize(wf)).toThrow(/"touch" is not on the allowlist/);
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a document root outside the operator's, and passEnv or a * it was not granted", async () => {
    const asks = [
      { root: outside },
      { root: '..' },
      { passEnv: ['O8_TEST_SECRET'] },
      { passEnv: ['ORCHESTR8_API_KEYS'] },
    ];
    for (const config of asks) {
      const wf = compile({
        steps: [
          { id: 's', agent: { id: '@orchestr8/shell', config }, input: { command: ['node', '-e', '1'] } },
        ],
      });
      const { engine } = testEngine([shellAgent], operator({ allow: ['node'], root }));
      expect(await caught(() => engine.start(wf))).toMatchObject({ code: 'CAPABILITY_DENIED' });
    }
  });

  it('passes an environment variable only when the operator lists it in passEnv', async () => {
    process.env.O8_TEST_SECRET = 'hunter2';
    const wf = compile({
      steps: [
        {
          id: 's',
          agent: { id: '@orchestr8/shell', config: { passEnv: ['O8_TEST_SECRET'] } },
          input: { command: ['node', '-e', 'process.stdout.write(process.env.O8_TEST_SECRET ?? "none")'] },
        },
      ],
    });
    const { engine, clock } = testEngine(
      [shellAgent],
      operator({ allow: ['node'], root, passEnv: ['O8_TEST_SECRET'] }),
    );
    const r = await run(engine, clock, wf);
    expect(r.steps.s!.output).toMatchObject({ stdout: 'hunter2' });
  });
});

function operator(grant: Record<string, unknown>) {
  return { capabilities: { agents: { '@orchestr8/shell': grant } } };
}

/** True once the process no longer exists (polls for up to 5 s: the kill is asynchronous). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 250; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    // A killed process waiting to be reaped (a zombie) still answers kill(pid, 0).
    if (/^\d+ \(.*\) Z/.test(readStat(pid))) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function readStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}
