#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ExitCode } from './exit-codes.js';
import { createProgram } from './program.js';

try {
  await createProgram().parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander has already printed the message (or the help / version asked for).
    process.exitCode = e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = ExitCode.usage;
  }
}
