import type { AgentRegistry } from '@orchestr8/core';
import {
  type AgentOptions,
  type Diagnostic,
  DiagnosticCode,
  type DocumentProblem,
  formatDiagnostic,
  loadDocumentFile,
  loadWorkflowFile,
  type WorkflowDocument,
} from '@orchestr8/schema';
import type { Command, OutputConfiguration } from 'commander';
import { collect, type KnownAgents, knownAgentIds } from '../context.js';

/** One entry of `validate --json`. */
export interface ValidateFileResult {
  file: string;
  valid: boolean;
  diagnostics: Diagnostic[];
  /** Agent ids that could not be checked: no project config or `--agents` declares them. */
  uncheckedAgents?: string[];
}

interface ValidateOptions {
  json?: boolean;
  agents: string[];
  local?: boolean;
}

const EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

/**
 * `orchestr8 validate <file...>`: checks documents like a compiler (every problem of every
 * file, with file:line:col, code and JSON pointer), without running anything.
 * Exit codes: 0 all valid, 1 any invalid, 2 usage error or unreadable file.
 */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check workflow documents (schema, references, templates, conditions) without running them')
    .argument('[files...]', 'workflow documents (.yaml, .yml or .json)')
    .option('--json', 'print [{file, valid, diagnostics}] as JSON on stdout')
    .option(
      '-a, --agents <module>',
      'also check agent ids, and version ranges (agent.version), against the built-in agents and this module (repeatable; a project config does the same)',
      collect,
      [],
    )
    .option(
      '--local',
      "check agent ids against what this process loads even when the project's local server runs",
    )
    .addHelpText(
      'after',
      "\nWhile the project's local server runs (orchestr8 server start) and no --agents is given, agent ids\n" +
        'are checked against the agents that server loaded: what `orchestr8 run` would find there.\n' +
        'Exit codes: 0 all valid, 1 any invalid, 2 usage error or unreadable file.',
    )
    .action(async (files: string[], opts: ValidateOptions, command: Command) => {
      const out = command.configureOutput();
      try {
        process.exitCode = await validateFiles(files, opts, out);
      } catch (e) {
        // A bug, not a user error: say so plainly, never with a stack trace.
        out.writeErr?.(
          `error: validate failed unexpectedly: ${e instanceof Error ? e.message : String(e)}\n`,
        );
        process.exitCode = EXIT.usage;
      }
    });
}

/** Said once for all files: which agents a config or --agents would let validate check. */
function uncheckedNote(ids: readonly string[]): string {
  const shown =
    ids.length > 5 ? `${ids.slice(0, 5).join(', ')}, ... (${ids.length - 5} more)` : ids.join(', ');
  return (
    `note: agent ${ids.length === 1 ? 'id' : 'ids'} not checked (no orchestr8.config here): ${shown}\n` +
    `  hint: pass --agents <module> that defines ${ids.length === 1 ? 'it' : 'them'}, or validate inside the project (where its orchestr8.config is)`
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Steps whose agent is registered here, but at no version that satisfies the step's range
 * (`agent: {id, version}`): the engine would fail them with AGENT_NOT_FOUND. The registry's
 * own `get(id, range)` decides, as it does at run time.
 */
function agentVersionProblems(doc: WorkflowDocument, registry: AgentRegistry): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  doc.steps.forEach((step, i) => {
    const agent = step.agent;
    // Remote agents (url) are resolved by their service; unknown ids are E_UNKNOWN_AGENT already.
    if (typeof agent !== 'object' || agent.version === undefined || agent.url !== undefined) return;
    if (!registry.has(agent.id) || registry.get(agent.id, agent.version) !== undefined) return;
    const versions = registry
      .list()
      .filter((a) => a.id === agent.id)
      .map((a) => a.version ?? '(no version)');
    problems.push({
      code: DiagnosticCode.UNKNOWN_AGENT,
      severity: 'error',
      message: `step "${step.id}" uses agent "${agent.id}" at "${agent.version}", but it is registered at version ${versions.join(', ')}, which does not satisfy "${agent.version}"`,
      pointer: `/steps/${i}/agent/version`,
      hint: `registered versions of "${agent.id}": ${versions.join(', ')}; change the range, or register a version that satisfies it`,
    });
  });
  return problems;
}

/** Compiler order: by position, those without one after. */
function byPosition(a: Diagnostic, b: Diagnostic): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
}

async function validateOne(
  file: string,
  agents: AgentOptions,
  registry: AgentRegistry | undefined,
): Promise<ValidateFileResult> {
  try {
    const r = await loadWorkflowFile(file, agents);
    const document = r.document;
    if (
      registry !== undefined &&
      document !== undefined &&
      agentVersionProblems(document, registry).length > 0
    ) {
      // Read again for the positions (file:line:col) of the ranges no registered version satisfies.
      const located = await loadDocumentFile(file, {
        check: (value) => agentVersionProblems(value as WorkflowDocument, registry),
      });
      // Only the problems found here: its parse diagnostics (if any) are already in r's.
      const found = located.diagnostics.filter((d) => d.pointer.endsWith('/agent/version'));
      r.diagnostics = [...r.diagnostics, ...found].sort(byPosition);
      r.ok &&= found.length === 0;
    }
    const result: ValidateFileResult = { file, valid: r.ok, diagnostics: r.diagnostics };
    if (r.uncheckedAgents) result.uncheckedAgents = r.uncheckedAgents;
    return result;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return {
      file,
      valid: false,
      diagnostics: [
        {
          code: 'E_READ',
          severity: 'error',
          message: `cannot validate ${file}: ${message}`,
          pointer: '',
          file,
        },
      ],
    };
  }
}

async function validateFiles(
  files: string[],
  opts: ValidateOptions,
  out: OutputConfiguration,
): Promise<number> {
  const writeOut = (s: string) => out.writeOut?.(s) ?? process.stdout.write(s);
  const writeErr = (s: string) => out.writeErr?.(s) ?? process.stderr.write(s);
  if (files.length === 0) {
    writeErr('error: validate needs at least one file (orchestr8 validate <file...>)\n');
    return EXIT.usage;
  }
  // Agent ids are checked against the built-in and standard agents, and those of the
  // project config and --agents modules; without either, only the @orchestr8 scope.
  let agents: KnownAgents;
  // Only when this process loads the agents (a running local server reports ids, not versions).
  let registry: AgentRegistry | undefined;
  try {
    // While the project's server runs, `run` sends documents there: check against its agents.
    const { detectLocalServer } = await import('../local-server.js');
    const server = await detectLocalServer({
      ...(opts.local ? { local: true } : {}),
      localFlags: opts.agents.length > 0 ? ['--agents'] : [],
      what: 'checking agents',
    });
    if (server?.state) agents = { knownAgents: server.state.agents };
    else ({ known: agents, registry } = await knownAgentIds(opts.agents));
  } catch (e) {
    writeErr(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.usage;
  }
  const results = await Promise.all(files.map((f) => validateOne(f, agents, registry)));
  const unreadable = results.some((r) => r.diagnostics.some((d) => d.code === 'E_READ'));
  const invalid = results.filter((r) => !r.valid).length;

  if (opts.json) {
    writeOut(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    const colors = Boolean(out.getOutHasColors?.());
    const paint = (code: number, s: string) => (colors ? `\x1b[${code}m${s}\x1b[0m` : s);
    let errors = 0;
    let warnings = 0;
    for (const r of results) {
      for (const d of r.diagnostics) {
        if (d.severity === 'error') errors++;
        else warnings++;
        const text = formatDiagnostic(d).replace(
          / (error|warning) /,
          (_match, s: string) => ` ${paint(s === 'error' ? 31 : 33, s)} `,
        );
        writeOut(`${text}\n`);
      }
      if (r.valid) writeOut(`${paint(32, '✓')} ${r.file} valid\n`);
    }
    const unchecked = [...new Set(results.flatMap((r) => r.uncheckedAgents ?? []))].sort();
    if (unchecked.length > 0) writeOut(`${uncheckedNote(unchecked)}\n`);
    const parts = [plural(results.length, 'file'), `${invalid} invalid`, plural(errors, 'error')];
    if (warnings > 0) parts.push(plural(warnings, 'warning'));
    writeOut(`${parts.join(', ')}\n`);
  }
  if (unreadable) return EXIT.usage;
  return invalid > 0 ? EXIT.invalid : EXIT.ok;
}
