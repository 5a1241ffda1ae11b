/**
 * `orchestr8 replay <execution-id> [--workflow new.yaml]`: re-runs an execution's decisions
 * against its recorded step outputs (no agent is called) and reports every step whose
 * decision differs: the determinism check before deploying a new version of a workflow.
 */
import { serializeError } from '@orchestr8/common';
import { formatDiagnostic, loadWorkflowFile } from '@orchestr8/schema';
import { type ExecutionReplayReport, replayExecution } from '@orchestr8/testing';
import type { Command } from 'commander';
import { loadProjectConfig, projectStoreFlag } from '../config.js';
import { buildRegistry, collect } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { openHistoryStore, printJson, requireExecution } from './history-shared.js';

interface ReplayOptions {
  workflow?: string;
  store?: string;
  json?: boolean;
  agents: string[];
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      "re-run an execution's decisions against its recorded step outputs (no agent is called) and report every step whose decision differs",
    )
    .argument('<id>', 'execution id (as printed by run and list)')
    .option(
      '--workflow <file>',
      'replay this document (e.g. the next version) instead of the one the execution ran',
    )
    .option('--store <url>', STORE_OPTION_HELP)
    .option(
      '-a, --agents <module>',
      "an agent module: replayed steps keep its agents' input schemas and secret fields (their code is never called); repeatable",
      collect,
      [],
    )
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nCompared per step: ran or skipped (condition, upstream failure), forEach item count, resolved input,\n' +
        'steps new in the document or no longer in it; and the execution status.\n' +
        'Only a finished execution (completed, failed, cancelled) is replayed.\n' +
        'Exit codes: 0 every decision and the final status are the same, 1 one differs,\n' +
        '2 usage error, invalid document, no such execution or an unfinished one.',
    )
    .action(async (id: string, opts: ReplayOptions) => {
      process.exitCode = await replayCommand(id, opts);
    });
}

async function replayCommand(id: string, opts: ReplayOptions): Promise<number> {
  const opened = await openHistoryStore(await projectStoreFlag(opts.store)).catch((e) => e as Error);
  if (opened instanceof Error) return reportError(opened);
  const { store, spec } = opened;
  try {
    const found = await requireExecution(store, id, spec).catch((e) => e as Error);
    if (found instanceof Error) {
      reportError(found, opts.json ? { json: true, error: serializeError(found) } : undefined);
      return ExitCode.usage;
    }
    const config = await loadProjectConfig();
    const agents = await buildRegistry(opts.agents, config);
    let workflow: unknown;
    if (opts.workflow !== undefined) {
      const loaded = await loadWorkflowFile(opts.workflow);
      for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      if (!loaded.ok || !loaded.workflow) return ExitCode.usage;
      workflow = loaded.workflow;
    }
    const report = await replayExecution({
      store: store!,
      executionId: id,
      agents,
      ...(workflow !== undefined ? { workflow } : {}),
    });
    if (opts.json) printJson(report);
    else process.stdout.write(formatReport(report));
    return report.ok ? ExitCode.ok : ExitCode.failed;
  } catch (e) {
    const code = reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
    // An unfinished execution is refused like an unknown one: nothing was compared.
    return (e as { code?: string }).code === 'CONFLICT' ? ExitCode.usage : code;
  } finally {
    await store?.close().catch(() => {});
  }
}

function formatReport(r: ExecutionReplayReport): string {
  const against =
    r.replayedVersion === r.recordedVersion
      ? `${r.workflowId}@${r.recordedVersion}`
      : `${r.workflowId}@${r.replayedVersion} (recorded with ${r.recordedVersion})`;
  const lines = [`replay of ${r.executionId} against ${against}`];
  for (const d of r.differences) lines.push(`  ${d.kind.padEnd(8)} ${d.message}`);
  const e = r.replayedError;
  if (e && !r.differences.some((d) => d.kind === 'status'))
    lines.push(`  the replay failed: ${e.code}${e.stepId ? ` in step "${e.stepId}"` : ''}: ${e.message}`);
  lines.push(
    r.ok
      ? `same decisions: ${r.stepsCompared} steps compared, replay ${r.replayedStatus}`
      : `${r.differences.length} ${r.differences.length === 1 ? 'difference' : 'differences'} in ${r.stepsCompared} steps compared`,
  );
  return `${lines.join('\n')}\n`;
}
