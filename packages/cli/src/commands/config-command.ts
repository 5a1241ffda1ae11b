/**
 * `orchestr8 config get|set|unset|list [--global]`: reads and writes the project config, or
 * with --global the user-level one (`userConfigFile()`). Only JSON is written (a TS or JS
 * config is code: `set` says to edit it); every write is checked as loading checks it, so a
 * value loading would refuse is never written. `list --show-origin` says where each
 * value in effect comes from: environment > project > user > default (a flag beats them all,
 * for the command it is given to).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DEFAULTS } from '@orchestr8/schema';
import type { Command } from 'commander';
import { checkConfig, importConfig, loadProjectConfig, userConfigFile } from '../config.js';
import { failUsage, reportError } from '../fail.js';
import { storeSpec } from '../open-store.js';

type Kind = 'string' | 'integer' | 'list';

/** The keys `config` reads and writes: dotted paths into the config object. */
const KEYS: Record<string, Kind> = {
  store: 'string',
  'defaults.concurrency': 'integer',
  agents: 'list',
  'capabilities.env': 'list',
  'capabilities.egress.allow': 'list',
  'streams.files': 'list',
  'streams.nats': 'string',
  'streams.grace': 'string',
};

function checkKey(key: string): string | undefined {
  return key in KEYS ? undefined : `unknown key "${key}" (expected ${Object.keys(KEYS).join(', ')})`;
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let v: unknown = obj;
  for (const part of key.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let o = obj;
  for (const part of parts.slice(0, -1)) {
    const next = o[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) o[part] = {};
    o = o[part] as Record<string, unknown>;
  }
  o[parts.at(-1)!] = value;
}

/** Deletes `key`, and the objects it leaves empty. */
function deletePath(obj: Record<string, unknown>, key: string): void {
  const parts = key.split('.');
  const chain: Record<string, unknown>[] = [obj];
  for (const part of parts.slice(0, -1)) {
    const next = chain.at(-1)![part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return;
    chain.push(next as Record<string, unknown>);
  }
  delete chain.at(-1)![parts.at(-1)!];
  for (let i = chain.length - 1; i > 0; i--) {
    if (Object.keys(chain[i]!).length > 0) break;
    delete chain[i - 1]![parts[i - 1]!];
  }
}

/** A value as typed on the command line: lists comma-separated (or a JSON array), integers as numbers. */
function parseValue(kind: Kind, text: string): unknown {
  if (kind === 'integer') return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
  if (kind === 'list') {
    if (text.trim().startsWith('[')) {
      try {
        return JSON.parse(text);
      } catch {
        // not JSON: comma-separated after all
      }
    }
    return text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  return text;
}

function show(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : JSON.stringify(value);
}

/** The config file and what it holds as written; `{}` when there is none yet. */
async function readRaw(
  global = false,
): Promise<{ file: string | undefined; dir: string; raw: Record<string, unknown> }> {
  if (global) {
    const file = userConfigFile();
    if (!existsSync(file)) return { file: undefined, dir: dirname(file), raw: {} };
    return { file, dir: dirname(file), raw: (await importConfig(file)) as Record<string, unknown> };
  }
  const config = await loadProjectConfig();
  if (!config.file) return { file: undefined, dir: config.dir, raw: {} };
  return {
    file: config.file,
    dir: config.dir,
    raw: (await importConfig(config.file)) as Record<string, unknown>,
  };
}

export function registerConfigCommand(program: Command): void {
  const config = program
    .command('config')
    .description('read and change the project config (orchestr8.config.json)')
    .addHelpText(
      'after',
      `\nKeys: ${Object.keys(KEYS).join(', ')}. Lists are set comma-separated (agents, capabilities.env,\n` +
        'capabilities.egress.allow, streams.files), e.g. `orchestr8 config set capabilities.env "APP_*,HOME"`.\n' +
        'The file is the nearest orchestr8.config.* from the working directory up (or --config); `set` creates\n' +
        'orchestr8.config.json in the working directory when there is none. A .ts or .js config is read, never\n' +
        'written. Values are checked as loading checks them. Exit codes: 0 ok, 1 key not set (get), 2 usage or invalid value.',
    );

  config
    .command('get')
    .description('print the value of a key as the config file holds it')
    .argument('<key>', Object.keys(KEYS).join(', '))
    .option('--json', 'print the value as JSON')
    .option('-g, --global', 'the user-level config file instead of the project one')
    .action(async (key: string, opts: { json?: boolean; global?: boolean }) => {
      process.exitCode = await guarded(async () => {
        const bad = checkKey(key);
        if (bad) return failUsage(bad);
        const { file, raw } = await readRaw(opts.global);
        const value = getPath(raw, key);
        if (value === undefined) {
          process.stderr.write(`${key} is not set${file ? ` in ${file}` : ' (no config file)'}\n`);
          return 1;
        }
        process.stdout.write(`${opts.json ? JSON.stringify(value) : show(value)}\n`);
        return 0;
      });
    });

  config
    .command('list')
    .description(
      'print every key the config file sets; with --show-origin, every key in effect and where it comes from',
    )
    .option('--json', 'print the keys and values as a JSON object')
    .option('-g, --global', 'the user-level config file instead of the project one')
    .option(
      '--show-origin',
      'every key with the value in effect and its origin: env (ORCHESTR8_STORE), the project file, the user file, or default',
    )
    .action(async (opts: { json?: boolean; global?: boolean; showOrigin?: boolean }) => {
      process.exitCode = await guarded(async () => {
        if (opts.showOrigin) return listOrigins(opts.json === true);
        const { file, raw } = await readRaw(opts.global);
        const set = Object.keys(KEYS)
          .map((k) => [k, getPath(raw, k)] as const)
          .filter(([, v]) => v !== undefined);
        if (opts.json) process.stdout.write(`${JSON.stringify(Object.fromEntries(set), null, 2)}\n`);
        else {
          process.stderr.write(file ? `# ${file}\n` : '# no config file: every key has its default\n');
          for (const [k, v] of set) process.stdout.write(`${k}=${show(v)}\n`);
        }
        return 0;
      });
    });

  config
    .command('set')
    .description(
      'set a key in orchestr8.config.json (created when there is no config), or with --global in the user file',
    )
    .argument('<key>', Object.keys(KEYS).join(', '))
    .argument('<value>', 'the value; lists comma-separated')
    .option('-g, --global', 'the user-level config file instead of the project one')
    .action(async (key: string, value: string, opts: { global?: boolean }) => {
      process.exitCode = await guarded(async () => {
        const bad = checkKey(key);
        if (bad) return failUsage(bad);
        return write(key, (raw) => setPath(raw, key, parseValue(KEYS[key]!, value)), opts.global);
      });
    });

  config
    .command('unset')
    .alias('reset')
    .description(
      'remove a key from orchestr8.config.json (or with --global the user file), so the next layer applies',
    )
    .argument('<key>', Object.keys(KEYS).join(', '))
    .option('-g, --global', 'the user-level config file instead of the project one')
    .action(async (key: string, opts: { global?: boolean }) => {
      process.exitCode = await guarded(async () => {
        const bad = checkKey(key);
        if (bad) return failUsage(bad);
        return write(key, (raw) => deletePath(raw, key), opts.global);
      });
    });
}

async function guarded(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    return reportError(e);
  }
}

async function write(
  key: string,
  change: (raw: Record<string, unknown>) => void,
  global = false,
): Promise<number> {
  const { file: found, dir, raw } = await readRaw(global);
  if (found && !/\.json$/i.test(found)) {
    return failUsage(
      `${found} is code, which config set and reset do not rewrite: edit the file (the key is ${key}), ` +
        'or use an orchestr8.config.json instead',
    );
  }
  const file = found ?? (global ? userConfigFile() : join(dir, 'orchestr8.config.json'));
  const next = structuredClone(raw);
  change(next);
  // The same checks as loading: an invalid value is refused and the file left as it was.
  checkConfig(next, file);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`);
  const value = getPath(next, key);
  const shown = relative(process.cwd(), file) || file;
  process.stderr.write(
    `${found ? '' : `created ${shown}; `}${key} ${value === undefined ? 'reset' : `= ${show(value)}`} in ${shown}\n`,
  );
  return 0;
}

/** What `config list --show-origin` prints per key: the value in effect and where it comes from. */
async function listOrigins(json: boolean): Promise<number> {
  const project = await readRaw(false);
  const user = await readRaw(true);
  const rows: { key: string; value: unknown; origin: string }[] = [];
  for (const key of Object.keys(KEYS)) {
    const fromProject = getPath(project.raw, key);
    const fromUser = getPath(user.raw, key);
    if (key === 'store' && process.env.ORCHESTR8_STORE !== undefined)
      rows.push({ key, value: process.env.ORCHESTR8_STORE, origin: 'env:ORCHESTR8_STORE' });
    else if (fromProject !== undefined)
      rows.push({ key, value: fromProject, origin: `file:${project.file}` });
    else if (fromUser !== undefined) rows.push({ key, value: fromUser, origin: `user:${user.file}` });
    else rows.push({ key, value: defaultOf(key), origin: 'default' });
  }
  if (json)
    process.stdout.write(
      `${JSON.stringify(Object.fromEntries(rows.map((r) => [r.key, { value: r.value, origin: r.origin }])), null, 2)}\n`,
    );
  else for (const r of rows) process.stdout.write(`${r.origin}\t${r.key}=${show(r.value)}\n`);
  return 0;
}

function defaultOf(key: string): unknown {
  if (key === 'store') return storeSpec(undefined);
  if (key === 'defaults.concurrency') return DEFAULTS.maxConcurrentSteps;
  if (key === 'streams.nats') return '';
  if (key === 'streams.grace') return '0ms';
  return [];
}
