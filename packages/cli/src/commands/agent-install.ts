/**
 * `orchestr8 agent install|uninstall`: puts an orchestr8 agent package into a coding
 * assistant's project. It merges an MCP server entry (`orchestr8 mcp` serving the package's
 * agents as tools) into the project's `.mcp.json`, and writes one Claude Code sub-agent per
 * agent (`.claude/agents/<name>.md`) generated from its description and input schema.
 * A manifest (`.orchestr8/installed-agents.json`) records what was added, so installing
 * again changes nothing, user entries are never touched, and uninstall takes away exactly
 * what install added (restoring a file byte for byte when nobody changed it since).
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Agent } from '@orchestr8/core';
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { UsageError } from '../inputs.js';
import { loadAgentModule } from '../load-agents.js';

const ASSISTANTS = ['claude-code'] as const;
const MANIFEST = join('.orchestr8', 'installed-agents.json');
const MCP_CONFIG = '.mcp.json';

interface InstallOptions {
  assistant: string;
  target: string;
  agents?: string;
  name?: string;
  configOnly?: boolean;
  dryRun?: boolean;
  local?: boolean;
}

interface Written {
  path: string;
  sha256: string;
}

interface InstallRecord {
  source: string;
  assistant: string;
  files: Written[];
  mcp: { path: string; server: string; original: string | null; sha256: string };
  createdDirs: string[];
}

interface Manifest {
  version: 1;
  installs: Record<string, InstallRecord>;
}

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null);

export function registerAgentInstallCommands(program: Command): void {
  const agent = program.commands.find((c) => c.name() === 'agent') ?? program.command('agent');
  agent
    .command('install')
    .description(
      "install an orchestr8 agent package into a coding assistant's project: its MCP server entry and one sub-agent per agent",
    )
    .argument('<source>', 'an agent module file, a package folder, or an installed package name')
    .option('--assistant <name>', `the coding assistant: ${ASSISTANTS.join(', ')}`, 'claude-code')
    .option('--target <dir>', "the assistant's project directory", '.')
    .option('--agents <ids>', 'only these agents (comma-separated ids); default: every agent of the package')
    .option('--name <server>', 'the MCP server name (default: orchestr8-<package>)')
    .option('--config-only', 'only the MCP configuration, no sub-agent files')
    .option('--dry-run', 'say what would change and change nothing')
    .option(
      '--local',
      'start the MCP server with this orchestr8 (node and its absolute path) instead of `npx -y @orchestr8/cli`',
    )
    .addHelpText(
      'after',
      '\nWrites .mcp.json (mcpServers.<server>: `orchestr8 mcp --store memory --agents <module> --expose-agents <ids>`)\n' +
        'and .claude/agents/<agent>.md, and records them in .orchestr8/installed-agents.json. Installing again changes\n' +
        'nothing; entries of your own are never changed; `orchestr8 agent uninstall` removes exactly what was added.\n' +
        'Exit codes: 0 installed (or nothing to change), 2 usage (no agents, a name already taken by another entry).',
    )
    .action(async (source: string, opts: InstallOptions) => {
      process.exitCode = await installCommand(source, opts);
    });
  agent
    .command('uninstall')
    .description('remove what `orchestr8 agent install` added to a project')
    .argument('<source-or-server>', 'what was installed: the same source, or the MCP server name')
    .option('--target <dir>', "the assistant's project directory", '.')
    .option('--dry-run', 'say what would change and change nothing')
    .action(async (source: string, opts: { target: string; dryRun?: boolean }) => {
      process.exitCode = await uninstallCommand(source, opts);
    });
}

/** The module that exports the agents: a file, a package folder's entry, or an installed package's. */
export function resolveAgentSource(source: string, target: string): string {
  const asPath = resolve(source);
  const dir = existsSync(asPath) ? asPath : join(target, 'node_modules', source);
  if (!existsSync(dir)) throw new UsageError(`no agent module, folder or installed package "${source}"`);
  if (statSync(dir).isFile()) return dir;
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string; exports?: unknown };
    const root = (e: unknown): unknown =>
      typeof e === 'object' && e !== null && !Array.isArray(e) && '.' in e
        ? (e as Record<string, unknown>)['.']
        : e;
    let entry = root(pkg.exports);
    while (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      const c = entry as Record<string, unknown>;
      entry = c.import ?? c.default ?? c.node;
    }
    const file = typeof entry === 'string' ? entry : pkg.main;
    if (file !== undefined && existsSync(join(dir, file))) return join(dir, file);
  }
  for (const name of ['index.mjs', 'index.js', 'index.ts', 'src/index.ts'])
    if (existsSync(join(dir, name))) return join(dir, name);
  throw new UsageError(`${source}: no entry module found (package.json exports or main, or index.js)`);
}

function slug(s: string): string {
  return s
    .replace(/^@/, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
}

function defaultServerName(source: string, module: string): string {
  const pkg = (() => {
    let dir = dirname(module);
    for (let i = 0; i < 4; i++) {
      const f = join(dir, 'package.json');
      if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { name?: string }).name;
      dir = dirname(dir);
    }
    return undefined;
  })();
  return `orchestr8-${slug(pkg ?? basename(source).replace(/\.[cm]?[jt]s$/, ''))}`;
}

function jsonSchemaOf(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return { type: 'object' };
  const z = schema as { safeParse?: unknown; toJSONSchema?: () => unknown };
  if (typeof z.safeParse !== 'function') return schema;
  try {
    return typeof z.toJSONSchema === 'function' ? z.toJSONSchema() : { type: 'object' };
  } catch {
    return { type: 'object' };
  }
}

/** A Claude Code sub-agent that calls one agent's MCP tool. */
export function subAgentMarkdown(agent: Agent, server: string, toolName: string): string {
  const tool = `mcp__${server}__${toolName}`;
  const what = (agent.description ?? `Runs the orchestr8 agent ${agent.id}.`).replace(/\s+/g, ' ').trim();
  return `---
name: ${slug(agent.id)}
description: ${JSON.stringify(`${what} Use it to run the orchestr8 agent ${agent.id}.`)}
tools: ${tool}
---
You run the orchestr8 agent \`${agent.id}\`${agent.version ? ` (version ${agent.version})` : ''} through its MCP tool \`${tool}\`.

${what}

Call the tool once with an input that satisfies this JSON Schema, then answer with the tool's \`output\` as it is:

\`\`\`json
${JSON.stringify(jsonSchemaOf(agent.inputSchema), null, 2)}
\`\`\`

If the tool answers with an error, report its code and message; do not invent an output.
`;
}

function readManifest(target: string): Manifest {
  const text = read(join(target, MANIFEST));
  if (text === null) return { version: 1, installs: {} };
  try {
    return JSON.parse(text) as Manifest;
  } catch (e) {
    throw new UsageError(`${join(target, MANIFEST)} is not valid JSON: ${(e as Error).message}`);
  }
}

function readMcpConfig(file: string): {
  text: string | null;
  config: { mcpServers?: Record<string, unknown> };
} {
  const text = read(file);
  if (text === null) return { text, config: {} };
  try {
    const config = JSON.parse(text) as unknown;
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      throw new Error('not an object');
    return { text, config: config as { mcpServers?: Record<string, unknown> } };
  } catch (e) {
    throw new UsageError(
      `${file} is not a JSON object (${(e as Error).message}): fix it, then install again`,
    );
  }
}

interface Change {
  path: string;
  /** New content, or null to delete. */
  content: string | null;
}

function apply(target: string, changes: readonly Change[], dryRun: boolean): void {
  for (const c of changes) {
    const file = join(target, c.path);
    const verb = c.content === null ? 'remove' : existsSync(file) ? 'update' : 'create';
    process.stderr.write(`${dryRun ? 'would ' : ''}${verb} ${c.path}\n`);
    if (dryRun) continue;
    if (c.content === null) rmSync(file, { force: true });
    else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, c.content);
    }
  }
}

async function installCommand(source: string, opts: InstallOptions): Promise<number> {
  if (!(ASSISTANTS as readonly string[]).includes(opts.assistant))
    return failUsage(`--assistant must be one of ${ASSISTANTS.join(', ')}, got "${opts.assistant}"`);
  try {
    const { agentToolName } = await import('@orchestr8/mcp');
    const target = resolve(opts.target);
    if (!existsSync(target) || !statSync(target).isDirectory())
      return failUsage(`--target ${target} is not a directory`);
    const module = resolveAgentSource(source, target);
    let agents = await loadAgentModule(module);
    if (opts.agents !== undefined) {
      const ids = opts.agents
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const id of ids)
        if (!agents.some((a) => a.id === id))
          return failUsage(`${source} has no agent "${id}" (it has ${agents.map((a) => a.id).join(', ')})`);
      agents = agents.filter((a) => ids.includes(a.id));
    }
    if (agents.length === 0) return failUsage(`${source} exports no agents`);
    const server = opts.name ?? defaultServerName(source, module);
    if (!/^[A-Za-z0-9_-]+$/.test(server))
      return failUsage(`--name must be letters, digits, _ and -, got "${server}"`);

    const manifest = readManifest(target);
    const previous = manifest.installs[server];
    const rel = relative(target, module);
    const modulePath = rel.startsWith('..') || isAbsolute(rel) ? module : `./${rel.split(sep).join('/')}`;
    const args = [
      'mcp',
      '--store',
      'memory',
      '--agents',
      modulePath,
      '--expose-agents',
      agents.map((a) => a.id).join(','),
    ];
    const entry = opts.local
      ? { command: process.execPath, args: [resolve(process.argv[1]!), ...args] }
      : { command: 'npx', args: ['-y', '@orchestr8/cli', ...args] };

    // The MCP configuration: our entry merged in, every other entry left as it is.
    const mcpFile = join(target, MCP_CONFIG);
    const { text: mcpText, config } = readMcpConfig(mcpFile);
    const existing = config.mcpServers?.[server];
    if (existing !== undefined && previous === undefined)
      return failUsage(
        `${MCP_CONFIG} already has an MCP server "${server}" that orchestr8 did not install: choose another --name`,
      );
    const changes: Change[] = [];
    let mcpContent = mcpText;
    if (JSON.stringify(existing) !== JSON.stringify(entry)) {
      mcpContent = `${JSON.stringify({ ...config, mcpServers: { ...(config.mcpServers ?? {}), [server]: entry } }, null, 2)}\n`;
      changes.push({ path: MCP_CONFIG, content: mcpContent });
    }

    // Sub-agents: ours are (re)written; a file we did not write is never replaced.
    const files: Written[] = [];
    const createdDirs = new Set(previous?.createdDirs ?? []);
    if (!opts.configOnly) {
      for (const dir of ['.claude', join('.claude', 'agents')])
        if (!existsSync(join(target, dir))) createdDirs.add(dir);
      for (const a of agents) {
        const path = join('.claude', 'agents', `${slug(a.id)}.md`);
        const content = subAgentMarkdown(a, server, agentToolName(a.id));
        const current = read(join(target, path));
        const ours = previous?.files.some((f) => f.path === path) ?? false;
        if (current !== null && current !== content && !ours)
          return failUsage(
            `${path} exists and was not written by orchestr8: move it away, or use --config-only`,
          );
        if (current !== content) changes.push({ path, content });
        files.push({ path, sha256: sha(content) });
      }
    }
    // Sub-agents of an earlier install that this one no longer has.
    for (const f of previous?.files ?? [])
      if (
        !files.some((n) => n.path === f.path) &&
        read(join(target, f.path)) !== null &&
        sha(read(join(target, f.path))!) === f.sha256
      )
        changes.push({ path: f.path, content: null });

    const record: InstallRecord = {
      source,
      assistant: opts.assistant,
      files,
      mcp: {
        path: MCP_CONFIG,
        server,
        original: previous ? previous.mcp.original : mcpText,
        sha256: sha(mcpContent ?? ''),
      },
      createdDirs: [...createdDirs],
    };
    if (!existsSync(join(target, '.orchestr8')) && !record.createdDirs.includes('.orchestr8'))
      record.createdDirs.push('.orchestr8');
    if (JSON.stringify(previous) !== JSON.stringify(record) || changes.length > 0) {
      const next: Manifest = { version: 1, installs: { ...manifest.installs, [server]: record } };
      changes.push({ path: MANIFEST, content: `${JSON.stringify(next, null, 2)}\n` });
    }
    if (changes.length === 0) {
      process.stderr.write(`${server} is already installed in ${target}: nothing to change\n`);
      return ExitCode.ok;
    }
    apply(target, changes, opts.dryRun === true);
    if (!opts.dryRun)
      process.stderr.write(
        `installed ${agents.length} agent(s) (${agents.map((a) => a.id).join(', ')}) as MCP server "${server}" for ${opts.assistant} in ${target}\n`,
      );
    return ExitCode.ok;
  } catch (e) {
    return reportError(e);
  }
}

async function uninstallCommand(source: string, opts: { target: string; dryRun?: boolean }): Promise<number> {
  try {
    const target = resolve(opts.target);
    const manifest = readManifest(target);
    const name =
      source in manifest.installs
        ? source
        : Object.keys(manifest.installs).find((k) => manifest.installs[k]!.source === source);
    if (name === undefined) return failUsage(`nothing installed from "${source}" in ${target}`);
    const record = manifest.installs[name]!;
    const changes: Change[] = [];
    for (const f of record.files) {
      const current = read(join(target, f.path));
      if (current === null) continue;
      if (sha(current) === f.sha256) changes.push({ path: f.path, content: null });
      else process.stderr.write(`${f.path} was changed since it was installed: left in place\n`);
    }
    const mcpFile = join(target, record.mcp.path);
    const current = read(mcpFile);
    if (current !== null) {
      if (sha(current) === record.mcp.sha256)
        changes.push({ path: record.mcp.path, content: record.mcp.original });
      else {
        // Changed since: take out only our entry.
        const { config } = readMcpConfig(mcpFile);
        if (config.mcpServers && name in config.mcpServers) {
          const { [name]: _ours, ...rest } = config.mcpServers;
          changes.push({
            path: record.mcp.path,
            content: `${JSON.stringify({ ...config, mcpServers: rest }, null, 2)}\n`,
          });
        }
      }
    }
    const { [name]: _removed, ...installs } = manifest.installs;
    changes.push({
      path: MANIFEST,
      content:
        Object.keys(installs).length === 0 ? null : `${JSON.stringify({ version: 1, installs }, null, 2)}\n`,
    });
    apply(target, changes, opts.dryRun === true);
    if (!opts.dryRun) {
      // Directories install created, deepest first, when nothing else is left in them.
      for (const d of [...record.createdDirs].sort((a, b) => b.length - a.length)) {
        const dir = join(target, d);
        if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
      }
      process.stderr.write(`uninstalled ${name} from ${target}\n`);
    }
    return ExitCode.ok;
  } catch (e) {
    return reportError(e);
  }
}
