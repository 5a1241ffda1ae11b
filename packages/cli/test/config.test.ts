/**
 * The project config (orchestr8.config.*): found from the working directory upwards,
 * overridden with --config or refused with --no-config, paths relative to the file, and
 * precedence flag > ORCHESTR8_STORE > config > default. In-process, plus one run of the
 * binary showing `run` honours a JSON config named with --config.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  configuredStore,
  defaultConcurrency,
  findConfigFile,
  loadProjectConfig,
  selectConfig,
  storeFlag,
} from '../src/config.js';
import { assertBuilt, cli, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('config');
let root: string;

const AGENT = `export const up = { id: '@cfg/up', execute: (i) => ({ text: String(i.text).toUpperCase() }) };\n`;

beforeAll(() => {
  root = tempRoot();
  mkdirSync(join(root, 'project/agents'), { recursive: true });
  mkdirSync(join(root, 'project/deep/er'), { recursive: true });
  writeFileSync(join(root, 'project/agents/up.mjs'), AGENT);
  writeFileSync(
    join(root, 'project/orchestr8.config.ts'),
    [
      "import { defineConfig } from '@orchestr8/cli/config';",
      'export default defineConfig({',
      "  agents: ['./agents/up.mjs'],",
      "  store: 'sqlite:./data/o8.db',",
      '  defaults: { concurrency: 3 },',
      "  capabilities: { env: ['APP_*'], agents: { '@orchestr8/shell': { allow: ['git'], root: './work' } } },",
      '});',
    ].join('\n'),
  );
  writeFileSync(join(root, 'project/package.json'), '{"type": "module"}\n');
});
afterEach(() => {
  selectConfig(undefined);
  delete process.env.ORCHESTR8_STORE;
});

describe('loadProjectConfig', () => {
  it('finds the nearest config above the working directory and resolves its paths', async () => {
    expect(findConfigFile(join(root, 'project/deep/er'))).toBe(join(root, 'project/orchestr8.config.ts'));
    const c = await loadProjectConfig(join(root, 'project/deep/er'));
    expect(c).toEqual({
      file: join(root, 'project/orchestr8.config.ts'),
      dir: join(root, 'project'),
      agents: [join(root, 'project/agents/up.mjs')],
      store: `sqlite:${join(root, 'project/data/o8.db')}`,
      defaults: { concurrency: 3 },
      // Paths in grants are relative to the config file, like every path in it.
      capabilities: {
        env: ['APP_*'],
        agents: { '@orchestr8/shell': { allow: ['git'], root: join(root, 'project/work') } },
      },
      streams: { files: [] },
    });
  });

  it('is empty without a config file, or with --no-config', async () => {
    const none = await loadProjectConfig(root);
    expect(none).toMatchObject({ file: undefined, agents: [], store: undefined, defaults: {} });
    selectConfig(false);
    expect((await loadProjectConfig(join(root, 'project'))).file).toBeUndefined();
  });

  it('takes --config relative to the working directory, and rejects malformed files', async () => {
    writeFileSync(
      join(root, 'other.json'),
      JSON.stringify({ agents: ['./project/agents/up.mjs'], store: 'memory' }),
    );
    selectConfig('other.json');
    const c = await loadProjectConfig(root);
    expect(c.agents).toEqual([join(root, 'project/agents/up.mjs')]);
    expect(c.store).toBe('memory');

    const bad = async (name: string, text: string) => {
      writeFileSync(join(root, name), text);
      selectConfig(name);
      return loadProjectConfig(root).then(
        () => '',
        (e: Error) => e.message,
      );
    };
    expect(await bad('typo.json', '{"agent": []}')).toContain(
      'unknown field "agent" (expected agents, store, defaults, capabilities, streams)',
    );
    expect(await bad('agents.json', '{"agents": "./a.ts"}')).toContain(
      'agents must be a list of module paths',
    );
    expect(await bad('conc.json', '{"defaults": {"concurrency": 0}}')).toContain('positive integer');
    expect(await bad('broken.json', '{')).toContain('could not load config');
    selectConfig('missing.json');
    await expect(loadProjectConfig(root)).rejects.toThrow(/config file not found/);
  });
});

describe('precedence', () => {
  const config = {
    file: '/p/orchestr8.config.ts',
    dir: '/p',
    agents: [],
    store: 'sqlite:/p/o8.db',
    defaults: { concurrency: 3 },
    capabilities: {},
    streams: { files: [] },
  };

  it('store: --store, then ORCHESTR8_STORE, then the config, then the default', () => {
    expect(configuredStore('memory', config)).toBe('memory');
    expect(configuredStore(undefined, config)).toBe('sqlite:/p/o8.db');
    process.env.ORCHESTR8_STORE = 'sqlite:/env.db';
    expect(storeFlag(undefined, config)).toBeUndefined();
    expect(configuredStore(undefined, config)).toBe('sqlite:/env.db');
    delete process.env.ORCHESTR8_STORE;
    expect(configuredStore(undefined, { ...config, store: undefined })).toBe(
      'sqlite:./.orchestr8/orchestr8.db',
    );
  });

  it('concurrency: the config default applies only to documents that do not set their own', () => {
    expect(defaultConcurrency(config, { document: {} })).toBe(3);
    expect(
      defaultConcurrency(config, { document: { policies: { concurrency: { maxConcurrentSteps: 8 } } } }),
    ).toBeUndefined();
  });
});

describe('commands honour the config', () => {
  it('run loads the config’s agents and store (--config), and --no-config turns it off', async () => {
    assertBuilt();
    const dir = join(root, 'project');
    writeFileSync(
      join(dir, 'up.yaml'),
      'version: "1.0.0"\nmetadata: { id: up }\nsteps:\n  - id: u\n    agent: "@cfg/up"\n    input: { text: hi }\n',
    );
    writeFileSync(
      join(dir, 'alt.config.json'),
      JSON.stringify({ agents: ['./agents/up.mjs'], store: 'memory' }),
    );
    const r = await cli(['run', 'up.yaml', '--config', 'alt.config.json'], { cwd: dir });
    expect(r.stderr).toContain('store memory');
    expect(r.stdout).toContain('"text": "HI"');
    expect(r.code).toBe(0);
    const off = await cli(['--no-config', 'run', 'up.yaml', '--store', 'memory'], { cwd: dir });
    expect(off.code).toBe(2);
    expect(off.stderr).toContain('E_UNKNOWN_AGENT');
  });
});
