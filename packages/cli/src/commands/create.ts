import { existsSync, readFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative } from 'node:path';
import type { Command } from 'commander';
import { loadProjectConfig } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { failUsage, reportError } from '../fail.js';
import { agentFiles, exportName, projectScope, writeFiles } from './init.js';

const NAME = /^(?:@([a-z0-9][a-z0-9._-]*)\/)?([a-z0-9][a-z0-9._-]*)$/;
const INDEX = /^index\.(ts|mts|js|mjs)$/;

/** `orchestr8 create agent <name>`: a new agent module, its test, and its export from the agents index. */
export function registerCreateCommand(program: Command): void {
  const create = program.command('create').description('add to an orchestr8 project');
  create
    .command('agent')
    .description('add an agent (defineAgent) and its test to the project of orchestr8.config')
    .argument(
      '<name>',
      'the agent name, e.g. word-count (its id becomes @<project>/word-count), or a full @scope/name',
    )
    .addHelpText(
      'after',
      '\nWrites agents/<name>.ts and agents/<name>.test.yaml next to the agents index listed in orchestr8.config,\n' +
        'and exports the agent from that index. Exit codes: 0 created, 2 usage (bad name, no config, file exists).',
    )
    .action(async (name: string) => {
      process.exitCode = await createAgentCommand(name);
    });
}

async function createAgentCommand(spec: string): Promise<number> {
  try {
    const m = NAME.exec(spec);
    if (!m)
      return failUsage(
        `invalid agent name "${spec}": use lower-case letters, digits, ".", "_" and "-" (e.g. word-count or @acme/word-count)`,
      );
    const name = m[2]!;
    const config = await loadProjectConfig();
    if (config.file === undefined)
      return failUsage(
        'no orchestr8.config found here or above: create a project first with `orchestr8 init`',
      );
    const id = `@${m[1] ?? projectScope(config.dir)}/${name}`;
    // The agents live next to the first agents index the config loads (agents/index.ts by default).
    const index = config.agents.find((a) => INDEX.test(basename(a)));
    const dir = index ? dirname(index) : join(config.dir, 'agents');
    const language = index && /\.m?js$/.test(index) ? 'js' : 'ts';
    const ext = index ? extname(index) : '.ts';
    const moduleFile = join(dir, `${name}${ext}`);
    const testFile = join(dir, `${name}.test.yaml`);
    const taken = [moduleFile, testFile].filter((f) => existsSync(f));
    if (taken.length > 0)
      return failUsage(`${taken.map(rel).join(' and ')} already exist; nothing was written`);
    const files = agentFiles(id, name, language);
    await writeFiles(dir, { [basename(moduleFile)]: files.module, [basename(testFile)]: files.test });
    const exported = exportName(name);
    const out = process.stdout;
    out.write(`created agent ${id}: ${rel(moduleFile)}, ${rel(testFile)}\n`);
    const specifier = `./${name}${ext.replace('ts', 'js')}`;
    if (index && existsSync(index)) {
      const text = readFileSync(index, 'utf8');
      await appendFile(
        index,
        `${text.endsWith('\n') || text === '' ? '' : '\n'}export { ${exported} } from '${specifier}';\n`,
      );
      out.write(`exported it from ${rel(index)}\n`);
    } else if (/\.json$/.test(config.file)) {
      const json = JSON.parse(readFileSync(config.file, 'utf8')) as { agents?: string[] };
      json.agents = [...(json.agents ?? []), `./${relative(config.dir, moduleFile)}`];
      await writeFile(config.file, `${JSON.stringify(json, null, 2)}\n`);
      out.write(`added it to the agents of ${rel(config.file)}\n`);
    } else {
      out.write(
        `add './${relative(config.dir, moduleFile)}' to the agents of ${rel(config.file)} to load it\n`,
      );
    }
    out.write(
      `use it in a workflow step as  agent: "${id}"  and run its test with  orchestr8 test ${rel(testFile)}\n`,
    );
    return ExitCode.ok;
  } catch (e) {
    return reportError(e);
  }
}

function rel(file: string): string {
  return relative(process.cwd(), file) || file;
}
