import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, type Store } from '@orchestr8/core';
import { type CompiledWorkflow, formatDiagnostic, loadWorkflowFile, parseDuration } from '@orchestr8/schema';
import type { Command } from 'commander';
import { type CapabilityFlags, capabilitiesFor, capabilityOptions } from '../capabilities.js';
import { configuredStore, loadProjectConfig } from '../config.js';
import { buildRegistry, collect, loadUserAgents, remoteAgentFor } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { UsageError } from '../inputs.js';
import { openStore, STORE_OPTION_HELP } from '../open-store.js';

interface McpCommandOptions extends CapabilityFlags {
  store?: string;
  agents: string[];
  expose?: string;
  exposeAgents?: string;
  wait: string;
  grace: string;
}

/** `--expose a,b` / `--mcp-expose '*'`: registered workflows an MCP client may run by name. */
export function parseExposure(value: string | undefined): readonly string[] | '*' | undefined {
  if (value === undefined) return undefined;
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return ids.includes('*') ? '*' : ids;
}

export function registerMcpCommand(program: Command): void {
  const cmd = program
    .command('mcp')
    .description(
      'serve workflows as MCP tools over stdio, for an AI assistant (Claude Code, Claude Desktop, any MCP client) to start',
    )
    .argument(
      '[workflows...]',
      'workflow files, or directories of .yaml/.yml/.json files, each exposed as a tool',
    )
    .option('--store <url>', STORE_OPTION_HELP)
    .option(
      '-a, --agents <module>',
      'a JS or TS module exporting agents made with defineAgent; repeatable',
      collect,
      [],
    )
    .option(
      '--expose <ids>',
      'registered workflows (in the store) that get a tool: comma-separated ids, or "*" for all (default: "*" when no workflow files are given, else none)',
    )
    .option(
      '--expose-agents <ids>',
      'agents that get a tool of their own (agent_<id>), called outside any workflow: comma-separated ids, or "*" for every agent of the --agents modules and the config',
    )
    .option(
      '--wait <duration>',
      'how long a workflow tool waits for the outputs before it answers with the execution id and status',
      '30s',
    )
    .option('--grace <duration>', 'when the client disconnects, how long running steps get to finish', '5s')
    .addHelpText(
      'after',
      '\nThe protocol runs on stdin/stdout; messages go to stderr. Executions still running when the client\n' +
        'disconnects are left in the store, to resume with `orchestr8 resume`. Capabilities apply to every tool call\n' +
        'as to `orchestr8 run`. Exit codes: 0 the client disconnected, 1 failed to start, 2 usage (an invalid workflow file).',
    )
    .action(async (paths: string[], opts: McpCommandOptions) => {
      process.exitCode = await mcpCommand(paths, opts);
    });
  capabilityOptions(cmd);
}

function workflowFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`no such file or directory: ${p}`);
    }
    if (!st.isDirectory()) files.push(p);
    else
      for (const name of readdirSync(p).sort())
        if (/\.(ya?ml|json)$/i.test(name) && statSync(join(p, name)).isFile()) files.push(join(p, name));
  }
  return files;
}

async function mcpCommand(paths: string[], opts: McpCommandOptions): Promise<number> {
  const { createMcpService, serveStdio } = await import('@orchestr8/mcp');
  let waitMs: number;
  let graceMs: number;
  let files: string[];
  try {
    waitMs = parseDuration(opts.wait);
    graceMs = parseDuration(opts.grace);
    files = workflowFiles(paths);
  } catch (e) {
    return failUsage((e as Error).message);
  }
  let store: Store | undefined;
  try {
    const config = await loadProjectConfig();
    const registry = await buildRegistry(opts.agents, config);
    const knownAgents = registry.list().map((a) => a.id);
    const workflows: CompiledWorkflow[] = [];
    for (const file of files) {
      const loaded = await loadWorkflowFile(file, { knownAgents });
      if (!loaded.ok || !loaded.workflow) {
        for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
        process.stderr.write(`${file}: not a valid workflow; nothing is served\n`);
        return ExitCode.usage;
      }
      workflows.push(loaded.workflow);
    }
    const expose = parseExposure(opts.expose) ?? (files.length === 0 ? '*' : []);
    const agentIds = parseExposure(opts.exposeAgents) ?? [];
    const agents =
      agentIds === '*'
        ? await loadUserAgents(opts.agents, config)
        : agentIds.map((id) => {
            const agent = registry.get(id);
            if (agent === undefined)
              throw new UsageError(`--expose-agents: no agent "${id}" is loaded (see --agents)`);
            return agent;
          });
    const spec = configuredStore(opts.store, config);
    store = await openStore(spec);
    const capabilities = capabilitiesFor(config, opts);
    const engine = createEngine({
      registry,
      store,
      remoteAgent: remoteAgentFor,
      capabilities,
    });
    const service = createMcpService({ engine, store, expose, workflows, waitMs, agents, capabilities });
    const tools = (await service.catalog.list()).map((w) => w.toolName);
    const session = await serveStdio(service);
    process.stderr.write(
      `orchestr8 mcp: serving ${tools.length} workflow tool(s)${tools.length > 0 ? ` (${tools.join(', ')})` : ''}` +
        `${agents.length > 0 ? ` and ${agents.length} agent tool(s) (${agents.map((a) => a.id).join(', ')})` : ''} over stdio (store ${spec})\n`,
    );
    const signal = new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await Promise.race([session.closed, signal]);
    await session.close();
    // Executions still running stay in the store (running), for `orchestr8 resume`.
    await engine.shutdown({ graceMs, reason: 'the MCP client disconnected' });
    await store.close();
    store = undefined;
    return ExitCode.ok;
  } catch (e) {
    return reportError(e);
  } finally {
    await store?.close().catch(() => {});
  }
}
