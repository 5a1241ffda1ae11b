/** `orchestr8 config get|set|reset|list` over the built CLI, in temp projects. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('config-command');
beforeAll(() => assertBuilt());

const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'orchestr8.config.json'), 'utf8'));

describe('orchestr8 config', { timeout: 120_000 }, () => {
  it('set creates orchestr8.config.json, get reads it back, reset removes the key', async () => {
    const dir = tempRoot();
    const set = await cli(['config', 'set', 'store', 'memory'], { cwd: dir });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain('created orchestr8.config.json');
    expect(read(dir)).toEqual({ store: 'memory' });
    const get = await cli(['config', 'get', 'store'], { cwd: dir });
    expect(get.code).toBe(0);
    expect(get.stdout).toBe('memory\n');

    expect((await cli(['config', 'set', 'defaults.concurrency', '4'], { cwd: dir })).code).toBe(0);
    expect(read(dir)).toEqual({ store: 'memory', defaults: { concurrency: 4 } });
    expect((await cli(['config', 'get', 'defaults.concurrency', '--json'], { cwd: dir })).stdout).toBe('4\n');

    const reset = await cli(['config', 'reset', 'defaults.concurrency'], { cwd: dir });
    expect(reset.code, reset.stderr).toBe(0);
    expect(read(dir)).toEqual({ store: 'memory' });
    const unset = await cli(['config', 'get', 'defaults.concurrency'], { cwd: dir });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('defaults.concurrency is not set');
  });

  it('lists are set comma-separated and listed with every key set', async () => {
    const dir = tempRoot();
    expect((await cli(['config', 'set', 'capabilities.env', 'APP_*, HOME'], { cwd: dir })).code).toBe(0);
    expect((await cli(['config', 'set', 'capabilities.egress.allow', '127.0.0.1'], { cwd: dir })).code).toBe(
      0,
    );
    expect(read(dir)).toEqual({ capabilities: { env: ['APP_*', 'HOME'], egress: { allow: ['127.0.0.1'] } } });
    expect((await cli(['config', 'get', 'capabilities.env'], { cwd: dir })).stdout).toBe('APP_*,HOME\n');
    const list = await cli(['config', 'list'], { cwd: dir });
    expect(list.stdout).toBe('capabilities.env=APP_*,HOME\ncapabilities.egress.allow=127.0.0.1\n');
    const json = await cli(['config', 'list', '--json'], { cwd: dir });
    expect(JSON.parse(json.stdout)).toEqual({
      'capabilities.env': ['APP_*', 'HOME'],
      'capabilities.egress.allow': ['127.0.0.1'],
    });
    // Resetting (unset is the same command) the last key of an object removes the object too.
    await cli(['config', 'unset', 'capabilities.egress.allow'], { cwd: dir });
    expect(read(dir)).toEqual({ capabilities: { env: ['APP_*', 'HOME'] } });
  });

  it('an invalid value is refused with the field, and the file is left as it was', async () => {
    const dir = tempRoot();
    writeFileSync(join(dir, 'orchestr8.config.json'), '{ "store": "memory" }\n');
    const r = await cli(['config', 'set', 'defaults.concurrency', '0'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('defaults.concurrency must be a positive integer');
    expect(readFileSync(join(dir, 'orchestr8.config.json'), 'utf8')).toBe('{ "store": "memory" }\n');
    const key = await cli(['config', 'set', 'nope', 'x'], { cwd: dir });
    expect(key.code).toBe(2);
    expect(key.stderr).toContain('unknown key "nope"');
  });

  it('the nearest config above the working directory is the one written', async () => {
    const dir = tempRoot();
    writeFileSync(join(dir, 'orchestr8.config.json'), '{}\n');
    mkdirSync(join(dir, 'sub'));
    expect((await cli(['config', 'set', 'store', 'memory'], { cwd: join(dir, 'sub') })).code).toBe(0);
    expect(read(dir)).toEqual({ store: 'memory' });
    expect(existsSync(join(dir, 'sub', 'orchestr8.config.json'))).toBe(false);
  });

  it('a TypeScript config is read but never written', async () => {
    const dir = tempRoot();
    writeFileSync(join(dir, 'orchestr8.config.ts'), "export default { store: 'memory' };\n");
    const get = await cli(['config', 'get', 'store'], { cwd: dir });
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toBe('memory\n');
    const set = await cli(['config', 'set', 'store', 'sqlite:./x.db'], { cwd: dir });
    expect(set.code).toBe(2);
    expect(set.stderr).toContain('edit the file');
    expect(readFileSync(join(dir, 'orchestr8.config.ts'), 'utf8')).toContain("store: 'memory'");
  });
});

describe('orchestr8 config: the user-level file and precedence', { timeout: 180_000 }, () => {
  const HELLO = [
    'version: "1.0.0"',
    'metadata: { id: hello }',
    'steps:',
    '  - id: a',
    '    agent: "@orchestr8/echo"',
    '    input: { message: hi }',
    '',
  ].join('\n');

  it('--global sets, gets and unsets keys in $XDG_CONFIG_HOME/orchestr8/config.json', async () => {
    const dir = tempRoot();
    const env = { XDG_CONFIG_HOME: join(dir, 'xdg') };
    const set = await cli(['config', 'set', '--global', 'defaults.concurrency', '3'], { cwd: dir, env });
    expect(set.code, set.stderr).toBe(0);
    const file = join(dir, 'xdg', 'orchestr8', 'config.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ defaults: { concurrency: 3 } });
    expect(existsSync(join(dir, 'orchestr8.config.json'))).toBe(false);
    expect((await cli(['config', 'get', '--global', 'defaults.concurrency'], { cwd: dir, env })).stdout).toBe(
      '3\n',
    );
    // Not in the project file.
    expect((await cli(['config', 'get', 'defaults.concurrency'], { cwd: dir, env })).code).toBe(1);
    const bad = await cli(['config', 'set', '--global', 'defaults.concurrency', 'many'], { cwd: dir, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`config ${file}: defaults.concurrency must be a positive integer`);
    const unset = await cli(['config', 'unset', '--global', 'defaults.concurrency'], { cwd: dir, env });
    expect(unset.code, unset.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({});
  });

  it('list --show-origin shows environment > project > user > default, and commands follow the same order', async () => {
    const dir = tempRoot();
    const env: Record<string, string | undefined> = {
      XDG_CONFIG_HOME: join(dir, 'xdg'),
      ORCHESTR8_STORE: undefined,
    };
    writeFileSync(join(dir, 'hello.yaml'), HELLO);
    const userDb = join(dir, 'user.db');
    expect((await cli(['config', 'set', '-g', 'store', `sqlite:${userDb}`], { cwd: dir, env })).code).toBe(0);
    expect((await cli(['config', 'set', '-g', 'defaults.concurrency', '3'], { cwd: dir, env })).code).toBe(0);
    expect((await cli(['config', 'set', 'defaults.concurrency', '5'], { cwd: dir, env })).code).toBe(0);

    const origins = await cli(['config', 'list', '--show-origin'], { cwd: dir, env });
    expect(origins.code, origins.stderr).toBe(0);
    const userFile = join(dir, 'xdg', 'orchestr8', 'config.json');
    expect(origins.stdout).toContain(`user:${userFile}\tstore=sqlite:${userDb}\n`);
    expect(origins.stdout).toContain(`file:${join(dir, 'orchestr8.config.json')}\tdefaults.concurrency=5\n`);
    expect(origins.stdout).toContain('default\tagents=\n');
    const json = JSON.parse(
      (await cli(['config', 'list', '--show-origin', '--json'], { cwd: dir, env })).stdout,
    );
    expect(json['defaults.concurrency']).toEqual({
      value: 5,
      origin: `file:${join(dir, 'orchestr8.config.json')}`,
    });

    // The user file's store is used while neither the project, the environment nor a flag sets one.
    const run = (extra: string[] = [], e = env) => cli(['run', 'hello.yaml', ...extra], { cwd: dir, env: e });
    expect((await cli(['--no-config', 'run', 'hello.yaml'], { cwd: dir, env })).code).toBe(0);
    // --no-config ignores the user file too: the default store.
    expect(existsSync(userDb)).toBe(false);
    expect(existsSync(join(dir, '.orchestr8', 'orchestr8.db'))).toBe(true);
    expect((await run()).code).toBe(0);
    expect(existsSync(userDb)).toBe(true);
    const projectDb = join(dir, 'project.db');
    expect((await cli(['config', 'set', 'store', `sqlite:${projectDb}`], { cwd: dir, env })).code).toBe(0);
    expect((await run()).code).toBe(0);
    expect(existsSync(projectDb)).toBe(true);
    const envDb = join(dir, 'env.db');
    const withEnv = { ...env, ORCHESTR8_STORE: `sqlite:${envDb}` };
    const envOrigin = await cli(['config', 'list', '--show-origin'], { cwd: dir, env: withEnv });
    expect(envOrigin.stdout).toContain(`env:ORCHESTR8_STORE\tstore=sqlite:${envDb}\n`);
    expect((await run([], withEnv)).code).toBe(0);
    expect(existsSync(envDb)).toBe(true);
    const flagDb = join(dir, 'flag.db');
    expect((await run(['--store', `sqlite:${flagDb}`], withEnv)).code).toBe(0);
    expect(existsSync(flagDb)).toBe(true);
  });
});
