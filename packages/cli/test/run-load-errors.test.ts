// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * What `orchestr8 run` says when it cannot run: an invalid document under --json is one JSON
 * error on stdout (as invalid inputs are), a refused run leaves no warning from the closed
 * store, and an agent module that does not load says where (a syntax error's line) and why
 * (CommonJS cannot use the CLI's own @orchestr8/* packages).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('run-errors');

beforeAll(() => assertBuilt());

describe('orchestr8 run of a document it refuses', () => {
  it('prints the diagnostics as one VALIDATION error on stdout under --json, exit 2', async () => {
    const dir = tempRoot();
    writeFileSync(
      join(dir, 'invalid.yaml'),
      'version: "1.0.0"\nmetadata: { id: x }\nsteps:\n  - id: a\n    agnt: foo\n',
    );
    const r = await cli(['run', 'invalid.yaml', '--json', '--store', 'memory'], { cwd: dir });
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { error: { code: string; details: Record<string, unknown>[] } };
    expect(out.error.code).toBe('VALIDATION');
    expect(out.error.details).toContainEqual(
      expect.objectContaining({
        file: 'invalid.yaml',
        line: 5,
        column: 5,
        pointer: '/steps/0/agnt',
        code: 'E_SCHEMA',
        message: 'unknown field "agnt"',
      }),
    );
    // stderr as without --json.
    expect(r.stderr).toContain('invalid.yaml:5:5 error E_SCHEMA unknown field "agnt" (at /steps/0/agnt)');
    expect(r.stderr).toContain('invalid.yaml: 2 errors; nothing was run');
  });

  it('leaves no warning about the closed store after inputs it refuses', async () => {
    const dir = tempRoot();
    writeFileSync(
      join(dir, 'typed.yaml'),
      'version: "1.0.0"\nmetadata: { id: typed }\ninputs:\n  type: object\n  properties: { n: { type: integer } }\n' +
        'steps:\n  - id: a\n    agent: "@orchestr8/echo"\n    input: { n: "${inputs.n}" }\n',
    );
    const store = `sqlite:${join(dir, 'orchestr8.db')}`;
    for (const json of [[], ['--json']]) {
      const r = await cli(['run', 'typed.yaml', '--input', 'n=two', '--store', store, ...json], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('E_INPUTS must be integer (at /inputs/n)');
      expect(r.stderr).not.toContain('could not look for due waits');
      expect(r.stderr).not.toContain('is closed');
    }
  });
});

describe('orchestr8 run --agents with a module that does not load', () => {
  const WORKFLOW =
    'version: "1.0.0"\nmetadata: { id: wc }\nsteps:\n  - id: a\n    agent: "@x/wc"\n    input: { text: hi }\n';
  const AGENT =
    "import { defineAgent } from '@orchestr8/agent-base';\n" +
    "export const wc = defineAgent({ id: '@x/wc', version: '0.1.0', execute: async (i: { text: string }) => ({ n: i.text.length }) });\n";

  it('says where a TypeScript syntax error is, without a stack trace', async () => {
    const dir = tempRoot();
    writeFileSync(join(dir, 'w.yaml'), WORKFLOW);
    writeFileSync(
      join(dir, 'broken.ts'),
      "import { defineAgent } from '@orchestr8/agent-base';\nexport const a = defineAgent({ id: '@x/a', execute: (=> 1 });\n",
    );
    const r = await cli(['run', 'w.yaml', '--agents', 'broken.ts', '--store', 'memory'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'error: could not load agent module broken.ts: Transform failed with 1 error:',
    );
    expect(r.stderr).toMatch(/broken\.ts:2:\d+: ERROR: /);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('tells why an ESM agent in a CommonJS scope cannot find @orchestr8/*, and how to fix it', async () => {
    // os.tmpdir() has no package.json above it: .ts there is CommonJS.
    const dir = tempRoot();
    writeFileSync(join(dir, 'w.yaml'), WORKFLOW);
    writeFileSync(join(dir, 'wc.ts'), AGENT);
    const bare = await cli(['run', 'w.yaml', '--agents', 'wc.ts', '--store', 'memory'], { cwd: dir });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Cannot find module '@orchestr8/agent-base'");
    expect(bare.stderr).toContain('hint: wc.ts is loaded as CommonJS');
    expect(bare.stderr).toContain('rename it wc.mts');
    expect(bare.stderr).toContain('create a package.json with "type": "module"');
    expect(bare.stderr).toContain('install the @orchestr8 packages in the project');

    // `npm init -y`: a package.json without "type": "module".
    const npm = join(dir, 'npm');
    mkdirSync(npm);
    writeFileSync(join(npm, 'package.json'), '{ "name": "npm", "version": "1.0.0", "main": "index.js" }\n');
    writeFileSync(join(npm, 'w.yaml'), WORKFLOW);
    writeFileSync(join(npm, 'wc.ts'), AGENT);
    const cjs = await cli(['run', 'w.yaml', '--agents', 'wc.ts', '--store', 'memory'], { cwd: npm });
    expect(cjs.code).toBe(2);
    expect(cjs.stderr).toContain(`add "type": "module" to ${join(npm, 'package.json')}`);

    // As the hint says: the same module as .mts runs.
    writeFileSync(join(npm, 'wc.mts'), AGENT);
    const esm = await cli(['run', 'w.yaml', '--agents', 'wc.mts', '--store', 'memory', '--json'], {
      cwd: npm,
    });
    expect(esm.code, esm.stderr).toBe(0);
    expect(JSON.parse(esm.stdout).outputs).toEqual({ a: { n: 2 } });
  });

  it('gives no CommonJS hint for an ES module that imports a package that does not exist', async () => {
    const dir = tempRoot();
    writeFileSync(join(dir, 'w.yaml'), WORKFLOW);
    writeFileSync(
      join(dir, 'typo.mts'),
      "import { nothing } from '@orchestr8/no-such-package';\nexport const x = nothing;\n",
    );
    const r = await cli(['run', 'w.yaml', '--agents', 'typo.mts', '--store', 'memory'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'@orchestr8/no-such-package'");
    expect(r.stderr).not.toContain('hint:');
  });
});
