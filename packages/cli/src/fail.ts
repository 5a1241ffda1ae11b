import { ErrorCode, ensureError } from '@orchestr8/common';
import { ExitCode } from './exit-codes.js';
import { inputsErrorText, UsageError } from './inputs.js';
import { AgentModuleError } from './load-agents.js';

export function failUsage(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return ExitCode.usage;
}

/**
 * The one place a command turns an unexpected error into a message and an exit code.
 * Users see the code and the message, never a stack trace (unless ORCHESTR8_DEBUG is set).
 */
export function reportError(e: unknown, json?: { json: true; error: unknown }): number {
  if (e instanceof UsageError || e instanceof AgentModuleError) return failUsage(e.message);
  // Invalid inputs: every problem with its code and a hint (--input name=...), like validate.
  const inputs = inputsErrorText(e);
  if (inputs !== undefined) {
    if (json) process.stdout.write(`${JSON.stringify({ error: json.error }, null, 2)}\n`);
    process.stderr.write(inputs);
    return ExitCode.usage;
  }
  const err = ensureError(e);
  if (json) process.stdout.write(`${JSON.stringify({ error: json.error }, null, 2)}\n`);
  const problems = (err.details as { problems?: { stepId?: string; message: string; grant: string }[] })
    ?.problems;
  if (err.code === ErrorCode.CAPABILITY_DENIED && Array.isArray(problems)) {
    // A document asking for more than the operator grants: like an invalid document.
    process.stderr.write(
      'error CAPABILITY_DENIED: the document asks for more than this host grants; nothing was run\n',
    );
    for (const p of problems)
      process.stderr.write(
        `  ${p.stepId !== undefined ? `step "${p.stepId}": ` : ''}${p.message}; ${p.grant}\n`,
      );
    return ExitCode.usage;
  }
  process.stderr.write(`error ${err.code}: ${err.message}\n`);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  if (cause && cause !== err.message) process.stderr.write(`  caused by: ${cause}\n`);
  if (process.env.ORCHESTR8_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
  return err.code === 'VALIDATION' ? ExitCode.usage : ExitCode.failed;
}
