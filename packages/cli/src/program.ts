import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { capabilityOptions } from './capabilities.js';
import { registerAgentInstallCommands } from './commands/agent-install.js';
import { registerAgentCommand } from './commands/agent-serve.js';
import { registerAskCommand } from './commands/ask.js';
import { registerCancelCommand } from './commands/cancel.js';
import { registerConfigCommand } from './commands/config-command.js';
import { registerConsoleCommand } from './commands/console.js';
import { registerCreateCommand } from './commands/create.js';
import { registerInitCommand } from './commands/init.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerJournalCommand } from './commands/journal.js';
import { registerListCommand } from './commands/list.js';
import { registerMcpCommand } from './commands/mcp.js';
import { registerPruneCommand } from './commands/prune.js';
import { registerReplayCommand } from './commands/replay.js';
import { registerRerunCommand } from './commands/rerun.js';
import { registerResumeCommand } from './commands/resume.js';
import { registerRetryCommand } from './commands/retry.js';
import { registerRunCommand } from './commands/run.js';
// more command imports
import { registerServeCommand } from './commands/serve.js';
import { registerServerCommand } from './commands/server.js';
import { registerStreamCommand } from './commands/stream.js';
import { registerTestCommand } from './commands/test.js';
import { registerTriggersCommand } from './commands/triggers.js';
import { registerValidateCommand } from './commands/validate.js';
import { registerWaitCommands } from './commands/waits.js';
import { registerWorkerCommand } from './commands/worker.js';
import { registerWorkersCommand } from './commands/workers.js';
import { selectConfig } from './config.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The whole command tree; `bin.ts` runs it, tests and the docs generator inspect it. */
export function createProgram(): Command {
  const program = new Command('orchestr8')
    .description('orchestr8: declarative, durable workflows for TypeScript and Node.js')
    .version(version(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    // Set before the subcommands are added so they inherit it: usage errors throw a
    // CommanderError that bin.ts turns into exit code 2, like every other usage error.
    .exitOverride()
    // Project config (orchestr8.config.*): found from the working directory up, unless named or refused.
    .option(
      '--config <file>',
      'the project config file (default: orchestr8.config.{ts,mts,js,mjs,json} here or above)',
    )
    .option('--no-config', 'ignore any orchestr8.config file')
    .hook('preAction', (cmd) => selectConfig(cmd.opts().config));
  registerValidateCommand(program);
  registerRunCommand(program);
  // history commands (list, inspect, journal, resume, cancel, prune)
  registerListCommand(program);
  registerInspectCommand(program);
  registerJournalCommand(program);
  registerResumeCommand(program);
  registerCancelCommand(program);
  registerRetryCommand(program);
  registerRerunCommand(program);
  registerReplayCommand(program);
  registerPruneCommand(program);
  // server commands (serve)
  registerServeCommand(program);
  registerConsoleCommand(program);
  registerWorkerCommand(program);
  registerWorkersCommand(program);
  registerTriggersCommand(program);
  registerWaitCommands(program);
  // project commands (test, init, create, agent serve)
  registerTestCommand(program);
  registerInitCommand(program);
  registerCreateCommand(program);
  registerAgentCommand(program);
  registerAgentInstallCommands(program);
  registerMcpCommand(program);
  registerAskCommand(program);
  // Every command that runs documents takes the operator's grants the same way.
  for (const name of ['run', 'resume', 'serve', 'worker', 'test']) {
    capabilityOptions(program.commands.find((c) => c.name() === name)!);
  }
  const agent = program.commands.find((c) => c.name() === 'agent');
  const agentServe = agent?.commands.find((c) => c.name() === 'serve');
  if (agentServe) capabilityOptions(agentServe);
  // After the loop above: `server start` takes serve's options, capability flags included.
  registerServerCommand(program);
  registerConfigCommand(program);
  registerStreamCommand(program);
  return program;
}
