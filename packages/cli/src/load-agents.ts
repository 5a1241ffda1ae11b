import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isAgent } from '@orchestr8/agent-base';
import type { Agent } from '@orchestr8/core';

export class AgentModuleError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'AgentModuleError';
  }
}

/**
 * Loads agents from a JS or TS module: its named exports and/or a default export that is
 * an agent or an array of agents. TS modules are loaded through tsx, so no build step.
 */
export async function loadAgentModule(spec: string, cwd = process.cwd()): Promise<Agent[]> {
  const file = isAbsolute(spec) ? spec : resolve(cwd, spec);
  if (!existsSync(file)) throw new AgentModuleError(spec, `agent module not found: ${file}`);
  let mod: Record<string, unknown>;
  try {
    if (/\.(c|m)?tsx?$/.test(file)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
    } else {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new AgentModuleError(spec, `could not load agent module ${spec}: ${message.split('\n')[0]}`);
  }
  const agents: Agent[] = [];
  const seen = new Set<unknown>();
  const add = (value: unknown, where: string) => {
    if (seen.has(value)) return;
    seen.add(value);
    if (isAgent(value)) agents.push(value);
    else if (where === 'default' && Array.isArray(value))
      value.forEach((v, i) => {
        add(v, `default[${i}]`);
      });
    else if (where.startsWith('default')) {
      throw new AgentModuleError(
        spec,
        `${spec}: export ${where} is not an agent (expected {id, execute(input, ctx)})`,
      );
    }
  };
  for (const [name, value] of Object.entries(mod)) {
    if (name === 'default') {
      // tsx may wrap CommonJS-style modules: unwrap one level.
      const d = value as Record<string, unknown> | undefined;
      if (d && !isAgent(d) && !Array.isArray(d) && typeof d === 'object' && 'default' in d)
        add(d.default, 'default');
      else add(value, 'default');
    } else add(value, name);
  }
  if (agents.length === 0)
    throw new AgentModuleError(spec, `${spec} exports no agents (use defineAgent and export them)`);
  return agents;
}
