/**
 * The operator's grants for every command that runs documents (run, resume, serve, worker,
 * test, agent serve): the project config's `capabilities`, widened by flags and environment
 * variables the operator sets. A document never adds to them.
 */
import type { Capabilities } from '@orchestr8/core';
import type { Command } from 'commander';
import type { ProjectConfig } from './config.js';
import { collect } from './context.js';
import { UsageError } from './inputs.js';

export interface CapabilityFlags {
  allowEnv?: string[];
  allowShell?: string[];
  allowEgress?: string[];
  maxWorkflowDepth?: string;
}

export const ALLOW_ENV_VAR = 'ORCHESTR8_ALLOW_ENV';
export const ALLOW_EGRESS_VAR = 'ORCHESTR8_ALLOW_EGRESS';
const SHELL = '@orchestr8/shell';

/** Adds --allow-env, --allow-shell, --allow-egress and --max-workflow-depth to a command. */
export function capabilityOptions(command: Command): Command {
  return command
    .option(
      '--allow-env <name>',
      `an environment variable documents may read (NAME or PREFIX_*); repeatable, also $${ALLOW_ENV_VAR}`,
      collect,
      [],
    )
    .option(
      '--allow-shell <program>',
      'a program the @orchestr8/shell agent may run; repeatable, also $ORCHESTR8_SHELL_ALLOW',
      collect,
      [],
    )
    .option(
      '--allow-egress <dest>',
      `a non-public host, IP or CIDR network agents may reach (e.g. 127.0.0.1, 10.0.0.0/8, api.internal); repeatable, also $${ALLOW_EGRESS_VAR}`,
      collect,
      [],
    )
    .option('--max-workflow-depth <n>', 'how deep sub-workflows may nest (default 16)');
}

function envList(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The project config's capabilities plus what flags and the environment add. */
export function capabilitiesFor(config: ProjectConfig, flags: CapabilityFlags = {}): Capabilities {
  const base = config.capabilities;
  const agents: Record<string, Record<string, unknown>> = {};
  for (const [id, grant] of Object.entries(base.agents ?? {})) agents[id] = { ...grant };
  const shell = flags.allowShell ?? [];
  if (shell.length > 0) {
    const current = (agents[SHELL]?.allow as string[] | undefined) ?? [];
    agents[SHELL] = { ...agents[SHELL], allow: [...current, ...shell] };
  }
  let depth = base.maxWorkflowDepth;
  if (flags.maxWorkflowDepth !== undefined) {
    depth = Number(flags.maxWorkflowDepth);
    if (!/^\d+$/.test(flags.maxWorkflowDepth)) {
      throw new UsageError(`--max-workflow-depth must be a whole number, got "${flags.maxWorkflowDepth}"`);
    }
  }
  return {
    env: [...(base.env ?? []), ...(flags.allowEnv ?? []), ...envList(ALLOW_ENV_VAR)],
    egress: {
      allow: [...(base.egress?.allow ?? []), ...(flags.allowEgress ?? []), ...envList(ALLOW_EGRESS_VAR)],
    },
    agents,
    ...(depth !== undefined ? { maxWorkflowDepth: depth } : {}),
  };
}
