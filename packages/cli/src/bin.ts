#!/usr/bin/env node
import { ExitCode } from './exit-codes.js';
import { createProgram } from './program.js';

const program = createProgram();
// Usage errors from commander exit with 2, like every other usage error of ours.
program.exitOverride((err) => {
  if (
    err.code === 'commander.helpDisplayed' ||
    err.code === 'commander.version' ||
    err.code === 'commander.help'
  ) {
    process.exit(ExitCode.ok);
  }
  process.exit(ExitCode.usage);
});
try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = ExitCode.usage;
}
