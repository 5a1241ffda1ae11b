#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ExitCode } from './exit-codes.js';
import { createProgram } from './program.js';

const program = createProgram();

// A reader that stops early (`orchestr8 inspect <id> | head -3`) closes the pipe. That ends
// the output, not the command: the rest of its output is dropped and it exits with its own
// code (`run` still 0 for a completed execution). Only a command that follows (--follow),
// whose output is all it does, ends at once.
let follows = false;
program.hook('preAction', (_root, command) => {
  follows = Boolean(command.opts().follow);
});
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') {
    if (follows) process.exit(process.exitCode ?? ExitCode.ok);
    return;
  }
  process.stderr.write(`error: cannot write to standard output: ${e.message}\n`);
  process.exit(ExitCode.failed);
});
// Nowhere left to say anything: drop the rest of the live view and messages.
process.stderr.on('error', () => {});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander has already printed the message (or the help / version asked for).
    process.exitCode = e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = ExitCode.usage;
  }
}
