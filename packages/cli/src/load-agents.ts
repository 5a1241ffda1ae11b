import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
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
    const hint = commonJsHint(file, e);
    throw new AgentModuleError(
      spec,
      `could not load agent module ${spec}: ${messageLines(message)}${hint ? `\n  hint: ${hint}` : ''}`,
    );
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

/**
 * What a load error says, without a stack: its first non-empty lines (at most 5, each at most
 * 500 characters), so that a transform error keeps the line that says where
 * (`/path/broken.ts:2:55: ERROR: Expected identifier but found "=>"`). Stops at stack frames
 * and at a `Require stack:` list.
 */
function messageLines(message: string): string {
  const lines: string[] = [];
  for (const raw of message.split('\n')) {
    const line = raw.trimEnd();
    if (/^\s+at\s/.test(line) || /^Require stack:/.test(line)) break;
    if (line.trim() === '') continue;
    lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    if (lines.length === 5) break;
  }
  return lines.join('\n  ');
}

/**
 * A hint when an agent module loaded as CommonJS cannot find an `@orchestr8/*` package: the
 * fallback to the CLI's own copies (allowBundledImports in config.ts) works for ES modules only.
 */
function commonJsHint(file: string, e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  const missing = /Cannot find (?:module|package) '(@orchestr8\/[^'/]+)/.exec(message)?.[1];
  if ((code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') || missing === undefined) return;
  const ext = extname(file);
  if (ext === '.mts' || ext === '.mjs') return;
  const esm = ext === '.cts' || ext === '.cjs' ? undefined : packageScope(dirname(file));
  if (esm?.module) return;
  const renamed = `${basename(file, ext)}${/ts/.test(ext) ? '.mts' : '.mjs'}`;
  const why =
    ext === '.cts' || ext === '.cjs'
      ? `its extension (${ext}) makes it CommonJS`
      : esm?.pkg === undefined
        ? 'no package.json above it says "type": "module"'
        : `${esm.pkg} has no "type": "module"`;
  const fixes = [
    `rename it ${renamed}`,
    ...(ext === '.cts' || ext === '.cjs'
      ? []
      : [
          esm?.pkg === undefined
            ? 'create a package.json with "type": "module" next to it'
            : `add "type": "module" to ${esm.pkg}`,
        ]),
    'install the @orchestr8 packages in the project',
  ];
  return `${basename(file)} is loaded as CommonJS (${why}), and only ES modules can use the orchestr8 CLI's own ${missing}: ${fixes.join(', or ')}`;
}

/** The package.json whose scope holds `dir`, and whether it says `"type": "module"`. */
function packageScope(dir: string): { pkg?: string; module: boolean } {
  for (let d = dir; ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg)) {
      try {
        return {
          pkg,
          module: (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type === 'module',
        };
      } catch {
        return { pkg, module: false };
      }
    }
    if (dirname(d) === d) return { module: false };
  }
}
