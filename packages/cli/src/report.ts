import type { ExecutionResult, Store } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import { formatDuration, styleFor } from './term.js';

/** The end-of-run summary a person reads: status, per-step outcome counts, outputs, error. */
export function printResult(
  result: ExecutionResult,
  workflow: CompiledWorkflow | undefined,
  out: NodeJS.WriteStream,
  options: {
    quiet?: boolean;
    /**
     * For a resumed execution: how long this process ran it. `result.durationMs` is the
     * execution's whole life, from its first start (crash and downtime included).
     */
    thisRunMs?: number;
  } = {},
): void {
  const s = styleFor(out);
  const counts = new Map<string, number>();
  for (const st of Object.values(result.steps)) counts.set(st.status, (counts.get(st.status) ?? 0) + 1);
  const parts = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
  const color = result.status === 'completed' ? s.green : result.status === 'failed' ? s.red : s.yellow;
  const took =
    options.thisRunMs === undefined
      ? `in ${formatDuration(result.durationMs)}`
      : `in ${formatDuration(options.thisRunMs)} (this run; ${formatDuration(result.durationMs)} since the execution started)`;
  out.write(
    `${color(s.bold(result.status))} ${s.dim(`${took} · ${parts} · execution ${result.executionId}`)}\n`,
  );
  if (result.error) {
    out.write(`${s.red(`${result.error.code}: ${result.error.message}`)}\n`);
  }
  if (!options.quiet) {
    for (const [id, st] of Object.entries(result.steps)) {
      if (st.status === 'skipped' && st.skipReason)
        out.write(s.dim(`  ${id} skipped: ${describeReason(st.skipReason)}\n`));
    }
  }
  if (result.outputs !== undefined) {
    out.write(`${s.bold('outputs')}\n${indent(JSON.stringify(result.outputs, null, 2))}\n`);
  }
  void workflow;
}

/**
 * A recorded reason as shown to people. Executions recorded by earlier versions quote a
 * condition with double quotes, which read badly around an expression holding strings
 * (`condition if "inputs.mode == "full"" was false`): shown with backticks, as now recorded.
 */
export function describeReason(reason: string): string {
  const m = /^condition (if|unless) "(.*)" was (true|false)$/s.exec(reason);
  return m ? `condition ${m[1]} \`${m[2]}\` was ${m[3]}` : reason;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/** The journal of an execution as JSON (an array) or NDJSON (one entry a line), by file extension or format. */
export async function exportJournal(
  store: Store,
  executionId: string,
  fileOrFormat: string,
): Promise<string> {
  const entries = [];
  let after = 0;
  for (;;) {
    const page = await store.readJournal(executionId, { afterSeq: after, limit: 1000 });
    entries.push(...page);
    if (page.length < 1000) break;
    after = page[page.length - 1]!.seq;
  }
  if (fileOrFormat === 'ndjson' || fileOrFormat.endsWith('.ndjson') || fileOrFormat.endsWith('.jsonl')) {
    return entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : '');
  }
  return `${JSON.stringify(entries, null, 2)}\n`;
}
