import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCancelCommand } from './commands/cancel.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerJournalCommand } from './commands/journal.js';
import { registerListCommand } from './commands/list.js';
import { registerPruneCommand } from './commands/prune.js';
import { registerResumeCommand } from './commands/resume.js';
import { registerRunCommand } from './commands/run.js';
// more command imports
import { registerServeCommand } from './commands/serve.js';
import { registerValidateCommand } from './commands/validate.js';

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
    .exitOverride();
  registerValidateCommand(program);
  registerRunCommand(program);
  // history commands (list, inspect, journal, resume, cancel, prune)
  registerListCommand(program);
  registerInspectCommand(program);
  registerJournalCommand(program);
  registerResumeCommand(program);
  registerCancelCommand(program);
  registerPruneCommand(program);
  // server commands (serve)
  registerServeCommand(program);
  return program;
}
