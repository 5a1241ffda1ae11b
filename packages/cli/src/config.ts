import { existsSync, readFileSync, statSync } from 'node:fs';
import { register } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Capabilities } from '@orchestr8/core';
import { parseDuration } from '@orchestr8/schema';
import { parseStoreUrl } from '@orchestr8/store-sqlite';
import { UsageError } from './inputs.js';
import { storeSpec } from './open-store.js';

export { defineConfig, type Orchestr8Config } from './define-config.js';

/** A loaded configuration, paths resolved; all fields empty when there is no config file. */
export interface ProjectConfig {
  /** The config file, or undefined when none was found (or `--no-config`). */
  file: string | undefined;
  /** The user-level config file (`userConfigFile()`) when it exists and was read. */
  userFile?: string;
  /** The project directory: the config file's directory, else the working directory. */
  dir: string;
  /** Absolute paths of the agent modules. */
  agents: string[];
  /** The store URL with a relative SQLite path made absolute; undefined when not configured. */
  store: string | undefined;
  defaults: { concurrency?: number };
  /** What documents may reach on this host; `root` paths resolved against the config's directory. */
  capabilities: Capabilities;
  /** What `orchestr8 serve` processes (its `--stream*` flags win): absolute document paths. */
  streams: StreamsConfig;
}

/** The config's `streams`: `files` resolved against the config's directory, `grace` in ms. */
export interface StreamsConfig {
  files: string[];
  nats?: string;
  graceMs?: number;
}

/** No configuration: what `--no-config` gives (its `dir` is the working directory at load). */
export const NO_CONFIG: ProjectConfig = Object.freeze({
  file: undefined,
  dir: process.cwd(),
  agents: [],
  store: undefined,
  defaults: {},
  capabilities: {},
  streams: { files: [] },
});

export const CONFIG_FILE_NAMES = [
  'orchestr8.config.ts',
  'orchestr8.config.mts',
  'orchestr8.config.js',
  'orchestr8.config.mjs',
  'orchestr8.config.json',
] as const;

/** The nearest config file in `from` or a directory above it. */
export function findConfigFile(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const file = join(dir, name);
      if (existsSync(file) && statSync(file).isFile()) return file;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `--config <file>` (a path) or `--no-config` (false), set by the program before any command runs. */
let selected: string | false | undefined;
const cache = new Map<string, Promise<ProjectConfig>>();

export function selectConfig(option: string | boolean | undefined): void {
  selected = option === true ? undefined : option;
  cache.clear();
}

/**
 * The project configuration for commands run in `cwd`: the `--config` file, else the nearest
 * `orchestr8.config.*` from `cwd` upwards, else an empty configuration. Loaded once per process.
 * Throws a UsageError (exit code 2) when the file is missing, unreadable or malformed.
 */
export function loadProjectConfig(
  cwd = process.cwd(),
  options: { file?: string | false } = { file: selected },
): Promise<ProjectConfig> {
  const key = `${cwd}\0${options.file}`;
  let p = cache.get(key);
  if (!p) {
    p = readProjectConfig(cwd, options.file);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/**
 * The user-level config, for every project of this user: `$XDG_CONFIG_HOME/orchestr8/config.json`
 * (`~/.config/orchestr8/config.json` when XDG_CONFIG_HOME is unset, on macOS too), and
 * `%APPDATA%\orchestr8\config.json` on Windows. JSON only.
 */
export function userConfigFile(): string {
  if (process.platform === 'win32' && !process.env.XDG_CONFIG_HOME && process.env.APPDATA)
    return join(process.env.APPDATA, 'orchestr8', 'config.json');
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'orchestr8', 'config.json');
}

async function readProjectConfig(cwd: string, option: string | false | undefined): Promise<ProjectConfig> {
  const empty: ProjectConfig = {
    file: undefined,
    dir: resolve(cwd),
    agents: [],
    store: undefined,
    defaults: {},
    capabilities: {},
    streams: { files: [] },
  };
  if (option === false) return empty;
  let file: string | undefined;
  if (option !== undefined) {
    file = isAbsolute(option) ? option : resolve(cwd, option);
    if (!existsSync(file)) throw new UsageError(`config file not found: ${file}`);
  } else file = findConfigFile(cwd);
  const userFile = userConfigFile();
  const user = existsSync(userFile) ? layerOf(await importConfig(userFile), userFile) : undefined;
  const project = file === undefined ? undefined : layerOf(await importConfig(file), file);
  if (!user) return project?.config ?? empty;
  // The project file beats the user file, key by key (a list replaces the user's list).
  const base = project?.config ?? empty;
  const pick = <T>(has: (l: Layer) => boolean, get: (c: ProjectConfig) => T): T =>
    project && has(project) ? get(project.config) : has(user) ? get(user.config) : get(base);
  const capabilities: Capabilities = {};
  for (const k of ['env', 'egress', 'agents', 'maxWorkflowDepth'] as const) {
    const v = pick(
      (l) => l.capabilityKeys.has(k),
      (c) => c.capabilities[k],
    );
    if (v !== undefined) (capabilities as Record<string, unknown>)[k] = v;
  }
  return {
    ...base,
    userFile,
    agents: pick(
      (l) => l.keys.has('agents'),
      (c) => c.agents,
    ),
    store: pick(
      (l) => l.keys.has('store'),
      (c) => c.store,
    ),
    defaults: pick(
      (l) => l.config.defaults.concurrency !== undefined,
      (c) => c.defaults,
    ),
    capabilities,
    streams: pick(
      (l) => l.keys.has('streams'),
      (c) => c.streams,
    ),
  };
}

interface Layer {
  config: ProjectConfig;
  keys: Set<string>;
  capabilityKeys: Set<string>;
}

function layerOf(raw: unknown, file: string): Layer {
  const config = checkConfig(raw, file);
  const r = raw as Record<string, unknown>;
  const caps = r.capabilities as Record<string, unknown> | undefined;
  return { config, keys: new Set(Object.keys(r)), capabilityKeys: new Set(Object.keys(caps ?? {})) };
}

/** The raw value a config file holds (JSON) or exports (TS/JS), not yet checked. */
export async function importConfig(file: string): Promise<unknown> {
  try {
    if (/\.json$/i.test(file)) return JSON.parse(readFileSync(file, 'utf8'));
    allowBundledImports();
    let mod: Record<string, unknown>;
    if (/\.(c|m)?tsx?$/.test(file)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
    } else mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    let value = mod.default;
    // tsx may wrap a CommonJS-style module: unwrap one level.
    if (value && typeof value === 'object' && 'default' in value && !('agents' in value))
      value = (value as { default: unknown }).default;
    return value;
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new UsageError(`could not load config ${file}: ${message}`);
  }
}

const KEYS = new Set(['$schema', 'agents', 'store', 'defaults', 'capabilities', 'streams']);

/** Checks a raw config value as loading does; throws a UsageError naming the file and field. */
export function checkConfig(raw: unknown, file: string): ProjectConfig {
  const bad = (msg: string) => new UsageError(`config ${file}: ${msg}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw bad('must export (default) or hold an object, e.g. export default defineConfig({agents: [...]})');
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!KEYS.has(k))
      throw bad(`unknown field "${k}" (expected agents, store, defaults, capabilities, streams)`);
  const dir = dirname(file);
  const agents = c.agents ?? [];
  if (!Array.isArray(agents) || agents.some((a) => typeof a !== 'string' || a === ''))
    throw bad('agents must be a list of module paths, e.g. ["./agents/index.ts"]');
  if (c.store !== undefined && (typeof c.store !== 'string' || c.store === ''))
    throw bad('store must be a string such as "sqlite:./.orchestr8/orchestr8.db" or "memory"');
  const defaults = c.defaults ?? {};
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults))
    throw bad('defaults must be an object such as {concurrency: 4}');
  const d = defaults as Record<string, unknown>;
  for (const k of Object.keys(d))
    if (k !== 'concurrency') throw bad(`unknown field "defaults.${k}" (expected concurrency)`);
  if (d.concurrency !== undefined && !(Number.isInteger(d.concurrency) && (d.concurrency as number) >= 1))
    throw bad('defaults.concurrency must be a positive integer');
  return {
    file,
    dir,
    agents: (agents as string[]).map((a) => resolve(dir, a)),
    store: c.store === undefined ? undefined : resolveStore(c.store as string, dir),
    defaults: d.concurrency === undefined ? {} : { concurrency: d.concurrency as number },
    capabilities: checkCapabilities(c.capabilities, dir, bad),
    streams: checkStreams(c.streams, dir, bad),
  };
}

const STREAM_KEYS = new Set(['files', 'nats', 'grace']);

/** `streams`: the documents `serve` processes, where their events go, and the grace for late ones. */
function checkStreams(raw: unknown, dir: string, bad: (msg: string) => UsageError): StreamsConfig {
  if (raw === undefined) return { files: [] };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw bad('streams must be an object such as {files: ["./match.stream.yaml"], grace: "200ms"}');
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!STREAM_KEYS.has(k)) throw bad(`unknown field "streams.${k}" (expected files, nats, grace)`);
  const files = c.files ?? [];
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string' || f === ''))
    throw bad('streams.files must be a list of stream document paths, e.g. ["./match.stream.yaml"]');
  const out: StreamsConfig = { files: (files as string[]).map((f) => resolve(dir, f)) };
  if (c.nats !== undefined) {
    if (typeof c.nats !== 'string' || !/^\S+$/.test(c.nats))
      throw bad('streams.nats must be a NATS server URL such as "nats://127.0.0.1:4222"');
    out.nats = c.nats;
  }
  if (c.grace !== undefined) {
    try {
      out.graceMs = streamGraceMs('streams.grace', c.grace);
    } catch (e) {
      throw bad((e as Error).message);
    }
  }
  return out;
}

/**
 * A stream's grace (`streams.grace`, `--stream-grace`) in ms: a duration of at most 24 days
 * (2^31-1 ms), the limit of every stream duration. Throws a message naming `name`.
 */
export function streamGraceMs(name: string, value: unknown): number {
  let ms: number;
  try {
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error();
    ms = parseDuration(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);
  } catch {
    throw new Error(`${name} must be a duration such as "200ms" or "1s", got ${JSON.stringify(value)}`);
  }
  if (ms > 2_147_483_647)
    throw new Error(`${name} must be at most 24 days (2147483647 ms), got ${JSON.stringify(value)}`);
  return ms;
}

const CAPABILITY_KEYS = new Set(['env', 'egress', 'agents', 'maxWorkflowDepth']);

function checkCapabilities(raw: unknown, dir: string, bad: (msg: string) => UsageError): Capabilities {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw bad('capabilities must be an object such as {env: ["APP_*"], egress: {allow: ["127.0.0.1"]}}');
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!CAPABILITY_KEYS.has(k))
      throw bad(`unknown field "capabilities.${k}" (expected env, egress, agents, maxWorkflowDepth)`);
  const strings = (v: unknown, what: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === ''))
      throw bad(`${what} must be a list of strings`);
    return v as string[];
  };
  const out: Capabilities = {};
  if (c.env !== undefined) out.env = strings(c.env, 'capabilities.env');
  if (c.egress !== undefined) {
    const e = c.egress as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || Array.isArray(e) || Object.keys(e).some((k) => k !== 'allow'))
      throw bad('capabilities.egress must be an object such as {allow: ["127.0.0.1", "10.0.0.0/8"]}');
    out.egress = { allow: strings(e.allow, 'capabilities.egress.allow') };
  }
  if (c.agents !== undefined) {
    if (typeof c.agents !== 'object' || c.agents === null || Array.isArray(c.agents))
      throw bad(
        'capabilities.agents must map agent ids to grants, e.g. {"@orchestr8/shell": {allow: ["git"]}}',
      );
    const agents: Record<string, Record<string, unknown>> = {};
    for (const [id, grant] of Object.entries(c.agents as Record<string, unknown>)) {
      if (typeof grant !== 'object' || grant === null || Array.isArray(grant))
        throw bad(`capabilities.agents["${id}"] must be an object`);
      const g = { ...(grant as Record<string, unknown>) };
      // Like every path in the config: relative to the config file.
      if (typeof g.root === 'string') g.root = resolve(dir, g.root);
      agents[id] = g;
    }
    out.agents = agents;
  }
  if (c.maxWorkflowDepth !== undefined) {
    if (!Number.isInteger(c.maxWorkflowDepth) || (c.maxWorkflowDepth as number) < 0)
      throw bad('capabilities.maxWorkflowDepth must be a whole number');
    out.maxWorkflowDepth = c.maxWorkflowDepth as number;
  }
  return out;
}

/** A relative SQLite path in the config is relative to the config file, not the working directory. */
function resolveStore(spec: string, dir: string): string {
  try {
    const parsed = parseStoreUrl(spec);
    if (parsed.kind === 'sqlite' && !isAbsolute(parsed.path)) return `sqlite:${resolve(dir, parsed.path)}`;
  } catch {
    // left as written: opening it reports the problem
  }
  return spec;
}

/**
 * What to pass where a command takes its `--store` flag (`storeSpec`, `openHistoryStore`):
 * the flag, else the config's `store` unless `ORCHESTR8_STORE` is set (the environment
 * beats the file), else undefined (the usual default).
 */
export function storeFlag(flag: string | undefined, config: ProjectConfig): string | undefined {
  if (flag !== undefined || process.env.ORCHESTR8_STORE !== undefined) return flag;
  return config.store;
}

/**
 * `storeFlag` against this process's project config: what the history commands (list,
 * inspect, journal, cancel, prune, resume) pass to `openHistoryStore`, so they read the
 * store `run` wrote to.
 */
export async function projectStoreFlag(flag: string | undefined): Promise<string | undefined> {
  return storeFlag(flag, await loadProjectConfig());
}

/** `--store`, then `ORCHESTR8_STORE`, then the config's `store`, then the embedded SQLite file. */
export function configuredStore(flag: string | undefined, config: ProjectConfig): string {
  return storeSpec(storeFlag(flag, config));
}

/**
 * The config's `defaults.concurrency` for a workflow whose document does not set
 * `policies.concurrency.maxConcurrentSteps` itself (a `--concurrency` flag beats both).
 */
export function defaultConcurrency(
  config: ProjectConfig,
  workflow: { document: unknown } | undefined,
): number | undefined {
  const doc = workflow?.document as
    | { policies?: { concurrency?: { maxConcurrentSteps?: unknown } } }
    | undefined;
  return doc?.policies?.concurrency?.maxConcurrentSteps === undefined
    ? config.defaults.concurrency
    : undefined;
}

let bundledImports = false;

/**
 * Agent modules and config files may import `@orchestr8/*` packages the project has not
 * installed (yet): those imports resolve to this CLI's own copies, so a fresh
 * `orchestr8 init` project runs before `npm install`. Installed packages always win.
 * (ES modules only: a project without `"type": "module"` must install the packages.)
 */
export function allowBundledImports(): void {
  if (bundledImports) return;
  bundledImports = true;
  const hook = `let parent;
export function initialize(data) { parent = data.parent; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e && e.code === 'ERR_MODULE_NOT_FOUND' && specifier.startsWith('@orchestr8/') && context.parentURL !== parent)
      return next(specifier, { ...context, parentURL: parent });
    throw e;
  }
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`, { data: { parent: import.meta.url } });
}
