// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registerValidateCommand } from '../src/commands/validate.js';
import { AGENTS, assertBuilt, cli } from './fixtures/harness.js';

const workflows = join(import.meta.dirname, '../../../workflows');
const dir = mkdtempSync(join(tmpdir(), 'o8-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const invalidYaml = file(
  'invalid.yaml',
  [
    'version: "1.0.0"',
    'metadata: { id: invalid }',
    'steps:',
    '  - id: a',
    '    agent: "@orchestr8/echo"',
    '  - id: b',
    '    agent: "@orchestr8/echo"',
    '    dependencies: [a]',
    '    input:',
    '      message: ${steps.zz.output.x}',
    '      other: ${steps.c.output}',
    '  - id: c',
    '    agent: "@orchestr8/echo"',
    '',
  ].join('\n'),
);
const schemaInvalid = file(
  'schema-invalid.json',
  '{"version": "1.0.0", "metadata": {"id": "x"}, "steps": [], "foo": 1}',
);

/** Runs `validate` in-process on a fresh program; returns what it wrote and the exit code. */
async function validate(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const program = new Command('orchestr8').exitOverride().configureOutput({
    writeOut: (s) => (out += s),
    writeErr: (s) => (err += s),
    getOutHasColors: () => false,
  });
  registerValidateCommand(program);
  process.exitCode = undefined;
  await program.parseAsync(['validate', ...args], { from: 'user' });
  return { out, err, code: Number(process.exitCode ?? 0) };
}

describe('orchestr8 validate', () => {
  it('prints a check mark per valid file and exits 0', async () => {
    const files = ['hello-world.yaml', 'vertical-slice.json'].map((f) => join(workflows, f));
    const r = await validate(...files);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`✓ ${files[0]} valid\n✓ ${files[1]} valid\n2 files, 0 invalid, 0 errors\n`);
    expect(r.err).toBe('');
  });

  it('reports every problem like a compiler and exits 1', async () => {
    const r = await validate(invalidYaml, join(workflows, 'research-flow.yaml'));
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toEqual([
      `${invalidYaml}:10:16 error E_UNKNOWN_STEP step "b" reads steps.zz, which does not exist (at /steps/1/input/message)`,
      '  hint: steps: a, b, c',
      `${invalidYaml}:11:14 error E_NOT_UPSTREAM step "b" reads steps.c, which is not upstream of it (at /steps/1/input/other)`,
      '  hint: add "c" to dependencies',
      `✓ ${join(workflows, 'research-flow.yaml')} valid`,
      '2 files, 1 invalid, 2 errors',
    ]);
  });

  it('reports schema violations with a readable message', async () => {
    const r = await validate(schemaInvalid);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${schemaInvalid}:1:60 error E_SCHEMA unknown field "foo" (at /foo)`);
    expect(r.out).toContain(`${schemaInvalid}:1:56 error E_SCHEMA must have at least 1 item (at /steps)`);
    expect(r.out).toContain('1 file, 1 invalid, 2 errors');
  });

  it('prints a machine-readable array with --json', async () => {
    const r = await validate('--json', invalidYaml, join(workflows, 'hello-world.yaml'));
    expect(r.code).toBe(1);
    const parsed = JSON.parse(r.out);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ file: invalidYaml, valid: false });
    expect(parsed[0].diagnostics).toMatchObject([
      {
        code: 'E_UNKNOWN_STEP',
        severity: 'error',
        pointer: '/steps/1/input/message',
        line: 10,
        column: 16,
        file: invalidYaml,
      },
      { code: 'E_NOT_UPSTREAM', pointer: '/steps/1/input/other' },
    ]);
    expect(parsed[1]).toEqual({ file: join(workflows, 'hello-world.yaml'), valid: true, diagnostics: [] });
  });

  it('exits 2 when a file cannot be read, and still reports the others', async () => {
    const missing = join(dir, 'missing.yaml');
    const r = await validate(missing, join(workflows, 'hello-world.yaml'));
    expect(r.code).toBe(2);
    expect(r.out).toContain(`${missing} error E_READ cannot read ${missing}: no such file (at /)`);
    expect(r.out).toContain('✓');
    expect(r.out).toContain('2 files, 1 invalid, 1 error');
    expect(r.out).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 2 with a usage message when no file is given', async () => {
    const r = await validate();
    expect(r.code).toBe(2);
    expect(r.err).toContain('validate needs at least one file');
    expect(r.out).toBe('');
  });

  it('reports malformed documents with their position', async () => {
    const bad = file('bad.json', '{\n  "version": "1.0.0",\n  "metadata": {"id": "x"}\n  "steps": []\n}');
    const r = await validate(bad);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${bad}:4:3 error E_PARSE unexpected string: expected "," or "}"`);
  });
});

describe('orchestr8 validate outside a project (the built binary, no orchestr8.config)', () => {
  const steps = (...agents: string[]) =>
    [
      'version: "1.0.0"',
      'metadata: { id: agents }',
      'steps:',
      ...agents.flatMap((a, i) => [`  - id: s${i}`, `    agent: "${a}"`]),
      '',
    ].join('\n');

  it('refuses an unknown @orchestr8 agent with "did you mean", and notes once the ids it cannot check', async () => {
    assertBuilt();
    const typo = file('typo-agent.yaml', steps('@orchestr8/eco', '@acme/thing', '@orchestr8/http'));
    const custom = file('custom-agent.yaml', steps('@acme/thing', '@acme/other', 'echo'));
    const r = await cli(['validate', typo, custom], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      `${typo}:5:12 error E_UNKNOWN_AGENT step "s0" uses agent "@orchestr8/eco", which is not registered (at /steps/0/agent)`,
      expect.stringMatching(/^ {2}hint: did you mean "@orchestr8\/echo"\? known agents: @orchestr8\/echo, /),
      `${custom}:9:12 error E_UNKNOWN_AGENT step "s2" uses agent "echo", which is not registered (at /steps/2/agent)`,
      expect.stringMatching(/^ {2}hint: did you mean "@orchestr8\/echo"\? /),
      'note: agent ids not checked (no orchestr8.config here): @acme/other, @acme/thing',
      '  hint: pass --agents <module> that defines them, or validate inside the project (where its orchestr8.config is)',
      '2 files, 2 invalid, 2 errors',
      '',
    ]);
  });

  it('checks every id against the agents of --agents modules, with no note', async () => {
    assertBuilt();
    const doc = file('with-module.yaml', steps('@test/work', '@acme/thing'));
    const r = await cli(['validate', '--agents', AGENTS, doc], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('error E_UNKNOWN_AGENT step "s1" uses agent "@acme/thing"');
    expect(r.stdout).not.toContain('E_UNKNOWN_AGENT step "s0"');
    expect(r.stdout).not.toContain('note:');
  });

  it('with --agents, refuses a step whose version range no registered version satisfies, naming the versions', async () => {
    assertBuilt();
    const module = file(
      'versioned-agents.mjs',
      [
        "export const v1 = { id: '@acme/v', version: '1.2.0', execute: async () => ({}) };",
        "export const v2 = { id: '@acme/v', version: '2.0.0', execute: async () => ({}) };",
        '',
      ].join('\n'),
    );
    const doc = file(
      'ranges.yaml',
      [
        'version: "1.0.0"',
        'metadata: { id: ranges }',
        'steps:',
        '  - id: old',
        '    agent: { id: "@acme/v", version: "^1" }',
        '  - id: future',
        '    agent:',
        '      id: "@acme/v"',
        '      version: "^3"',
        // A remote agent's version is its service's business: not checked here.
        '  - id: far',
        '    agent: { id: "@acme/v", version: "^3", url: "http://127.0.0.1:9" }',
        '',
      ].join('\n'),
    );
    const r = await cli(['validate', '--agents', module, doc], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      `${doc}:9:16 error E_UNKNOWN_AGENT step "future" uses agent "@acme/v" at "^3", but it is registered at version 1.2.0, 2.0.0, which does not satisfy "^3" (at /steps/1/agent/version)`,
      '  hint: registered versions of "@acme/v": 1.2.0, 2.0.0; change the range, or register a version that satisfies it',
      '1 file, 1 invalid, 1 error',
      '',
    ]);
    const json = await cli(['validate', '--json', '--agents', module, doc], { cwd: dir });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject([
      {
        file: doc,
        valid: false,
        diagnostics: [
          {
            code: 'E_UNKNOWN_AGENT',
            pointer: '/steps/1/agent/version',
            line: 9,
            column: 16,
            severity: 'error',
          },
        ],
      },
    ]);
  });

  it('lists unchecked ids per file with --json', async () => {
    assertBuilt();
    const doc = file('custom-json.yaml', steps('@acme/thing'));
    const r = await cli(['validate', '--json', doc], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { file: doc, valid: true, diagnostics: [], uncheckedAgents: ['@acme/thing'] },
    ]);
  });
});
