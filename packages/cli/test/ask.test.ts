/**
 * `orchestr8 ask`: a plan from a sentence through the llm agent's provider (mocked at the
 * HTTP edge with msw), validated by the compiler with repairs, checked against the
 * operator's capabilities, shown, saved and run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createProgram } from '../src/program.js';
import { useTempRoot } from './fixtures/harness.js';

// The terminal's answers to "Run it?" (a TTY cannot be had in a test worker).
const answers: string[] = [];
const questions: string[] = [];
vi.mock('node:readline/promises', () => ({
  createInterface: () => ({
    question: async (q: string) => {
      questions.push(q);
      return answers.shift() ?? '';
    },
    close: () => {},
  }),
}));

const ANTHROPIC = 'https://api.anthropic.com/v1/messages';
const server = setupServer();
const tempRoot = useTempRoot('ask');

beforeAll(() => {
  server.listen({ onUnhandledRequest: 'error' });
  process.env.ANTHROPIC_API_KEY = 'test-key';
});
afterEach(() => server.resetHandlers());
afterAll(() => {
  server.close();
  delete process.env.ANTHROPIC_API_KEY;
});

/** The provider answers `plans` in order (the last repeats); returns the prompts it received. */
function provider(...plans: unknown[]): { system: string; user: string }[] {
  const seen: { system: string; user: string }[] = [];
  server.use(
    http.post(ANTHROPIC, async ({ request }) => {
      const body = (await request.json()) as { system: string; messages: { content: string }[] };
      seen.push({ system: body.system, user: body.messages.at(-1)!.content });
      const plan = plans[Math.min(seen.length, plans.length) - 1];
      return HttpResponse.json({
        id: `msg_${seen.length}`,
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content: [{ type: 'text', text: JSON.stringify(plan) }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 100, output_tokens: 50 },
      });
    }),
  );
  return seen;
}

const COUNT_PY = {
  version: '1.0.0',
  metadata: { id: 'count-python-files', description: 'Lists the Python files and counts them.' },
  steps: [
    {
      id: 'list',
      agent: { id: '@orchestr8/shell', config: { allow: ['find'] } },
      input: { command: ['find', '.', '-name', '*.py', '-type', 'f'] },
    },
    {
      id: 'count',
      agent: '@orchestr8/transform',
      dependencies: ['list'],
      input: {
        expression: "$count($filter($split(stdout, '\\n'), function($l) { $l != '' }))",
        data: '${steps.list.output}',
      },
    },
  ],
  outputs: { count: '${steps.count.output.result}' },
};

function project(grantShell: boolean): { dir: string; config: string } {
  const dir = tempRoot();
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'a.py'), 'print(1)\n');
  writeFileSync(join(dir, 'src', 'b.py'), 'print(2)\n');
  writeFileSync(join(dir, 'notes.md'), '# notes\n');
  const config = join(dir, 'orchestr8.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      store: 'sqlite:./o8.db',
      capabilities: grantShell ? { agents: { '@orchestr8/shell': { allow: ['find'], root: '.' } } } : {},
    }),
  );
  return { dir, config };
}

async function ask(config: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((c) => {
    out.push(String(c));
    return true;
  });
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((c) => {
    err.push(String(c));
    return true;
  });
  process.exitCode = undefined;
  try {
    await createProgram().parseAsync([
      'node',
      'orchestr8',
      '--config',
      config,
      'ask',
      '--provider',
      'anthropic',
      ...args,
    ]);
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('orchestr8 ask', () => {
  it('"list python files and count them" is planned from the agents, shown, saved, and run with --yes', async () => {
    const { dir, config } = project(true);
    const seen = provider(COUNT_PY);
    const save = join(dir, 'plan.yaml');
    const r = await ask(config, 'list python files and count them', '--yes', '--save', save);
    expect(r.stderr).toContain('plan valid');
    expect(r.code).toBe(0);
    // The planner was told the request and every agent with its schemas.
    expect(seen).toHaveLength(1);
    expect(seen[0]!.user).toContain('list python files and count them');
    expect(seen[0]!.user).toContain('"@orchestr8/shell"');
    expect(seen[0]!.user).toContain('"@orchestr8/transform"');
    expect(seen[0]!.user).toContain('"inputSchema"');
    expect(seen[0]!.system).toContain('agent.config.allow');
    // The plan: the document, its steps and the graph.
    expect(r.stdout).toContain('id: count-python-files');
    expect(r.stdout).toContain('  count  @orchestr8/transform  after list');
    expect(r.stdout).toContain('graph:\n  list -> count');
    expect(parseYaml(readFileSync(save, 'utf8'))).toEqual(COUNT_PY);
    // And its result: two Python files.
    expect(JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('{')))).toEqual({ count: 2 });
  });

  it('three requests give three valid plans; without --yes nothing runs', async () => {
    const { config } = project(true);
    const plans = [
      {
        version: '1.0.0',
        metadata: { id: 'greet' },
        inputs: { type: 'object', properties: { name: { type: 'string', default: 'Ada' } } },
        steps: [{ id: 'hello', agent: '@orchestr8/hello-world', input: { name: '${inputs.name}' } }],
      },
      {
        version: '1.0.0',
        metadata: { id: 'pause-then-echo' },
        steps: [
          { id: 'pause', agent: '@orchestr8/sleep', input: { ms: 10 } },
          { id: 'say', agent: '@orchestr8/echo', dependencies: ['pause'], input: { text: 'done' } },
          { id: 'also', agent: '@orchestr8/echo', dependencies: ['pause'], input: { text: 'too' } },
        ],
      },
      COUNT_PY,
    ];
    const requests = [
      'greet Ada',
      'wait a moment, then say done and too',
      'list python files and count them',
    ];
    for (const [i, request] of requests.entries()) {
      provider(plans[i]);
      const r = await ask(config, request, '--json');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ plan: plans[i], repairs: 0 });
      expect(out.result).toBeUndefined();
    }
    provider(plans[1]);
    const shown = await ask(config, requests[1]!);
    expect(shown.stdout).toContain('graph:\n  pause -> {say | also}');
    expect(shown.stderr).toContain('not run (pass --yes to run without asking)');
  });

  it('on a terminal, the plan runs once confirmed, and not when declined', async () => {
    const { config } = project(true);
    const tty = process.stdin.isTTY;
    process.stdin.isTTY = true;
    try {
      for (const [answer, runs] of [
        ['y', true],
        ['n', false],
      ] as const) {
        answers.push(answer);
        provider(COUNT_PY);
        const r = await ask(config, 'list python files and count them');
        expect(r.code).toBe(0);
        expect(r.stderr.includes('not run (pass --yes to run without asking)')).toBe(!runs);
        expect(r.stderr.includes('completed')).toBe(runs);
      }
      expect(questions).toEqual(['Run it? [y/N] ', 'Run it? [y/N] ']);
    } finally {
      process.stdin.isTTY = tty;
    }
  });

  it('an invalid plan goes back to the LLM with the errors and where they are, and the repaired plan is used', async () => {
    const { config } = project(true);
    const planted = {
      ...COUNT_PY,
      steps: [COUNT_PY.steps[0], { ...COUNT_PY.steps[1], agent: '@orchestr8/count', dependencies: [] }],
    };
    const seen = provider(planted, COUNT_PY);
    const r = await ask(config, 'list python files and count them', '--json', '--yes');
    expect(r.code).toBe(0);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.user).toContain('rejected by the validator');
    expect(seen[1]!.user).toContain('/steps/1/agent');
    expect(seen[1]!.user).toContain('@orchestr8/count');
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ repairs: 1, result: { status: 'completed', outputs: { count: 2 } } });
  });

  it('gives up after --max-repairs with the last errors, and runs nothing', async () => {
    const { config } = project(true);
    const bad = { ...COUNT_PY, steps: [{ ...COUNT_PY.steps[1], agent: '@orchestr8/count' }] };
    const seen = provider(bad);
    const r = await ask(config, 'count things', '--max-repairs', '1', '--yes');
    expect(r.code).toBe(2);
    expect(seen).toHaveLength(2);
    expect(r.stderr).toMatch(/error VALIDATION: no valid workflow after 1 repair: \/steps\/0\/agent/);
    expect(r.stdout).toBe('');
  });

  it('refuses the offline mock provider, which cannot plan, as a usage error', async () => {
    const { config } = project(true);
    const seen = provider(COUNT_PY);
    const r = await ask(config, 'count things', '--provider', 'mock', '--yes');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the mock provider cannot plan');
    expect(r.stderr).toContain('--provider anthropic or openai');
    expect(seen).toHaveLength(0);
    expect(r.stdout).toBe('');
  });

  it('a plan that needs a program the operator did not grant is refused before anything runs', async () => {
    const { config } = project(false);
    provider(COUNT_PY);
    const r = await ask(config, 'list python files and count them', '--yes');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'error CAPABILITY_DENIED: the document asks for more than this host grants; nothing was run',
    );
    expect(r.stderr).toContain('step "list"');
    expect(r.stdout).toBe('');
  });
});
