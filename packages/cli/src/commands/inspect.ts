import { type SerializedError, serializeError } from '@orchestr8/common';
import {
  type ExecutionRecord,
  redactorForDefinition,
  type StepStateRecord,
  type Store,
} from '@orchestr8/core';
import type { Command } from 'commander';
import { projectStoreFlag } from '../config.js';
import { ExitCode } from '../exit-codes.js';
import { reportError } from '../fail.js';
import { STORE_OPTION_HELP } from '../open-store.js';
import { formatDuration, type Style, styleFor } from '../term.js';
import {
  formatTime,
  openHistoryStore,
  plural,
  preview,
  printJson,
  requireExecution,
  statusColor,
} from './history-shared.js';

interface InspectOptions {
  json?: boolean;
  store?: string;
}

type CancelRequest = Awaited<ReturnType<Store['pendingCancels']>>[number];

/** What `inspect --json` prints. */
export interface Inspection {
  execution: ExecutionRecord;
  /** In document order; steps the store has no record of yet appear as `pending`. */
  steps: StepStateRecord[];
  /** A cancel request not yet acted on by the process running the execution. */
  cancelRequest?: CancelRequest;
}

const ICON: Record<string, string> = {
  pending: '○',
  running: '◐',
  retrying: '↻',
  waiting: '⏸',
  completed: '✓',
  failed: '✗',
  skipped: '−',
  cancelled: '⊘',
};

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('show an execution: its status, and each step with attempts, timings, output and error')
    .argument('<id>', 'execution id (as printed by run and list)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--json', 'print the execution and its steps as JSON')
    .action(async (id: string, opts: InspectOptions) => {
      process.exitCode = await inspectCommand(id, opts);
    });
}

async function inspectCommand(id: string, opts: InspectOptions): Promise<number> {
  let store: Store | undefined;
  try {
    const opened = await openHistoryStore(await projectStoreFlag(opts.store));
    store = opened.store;
    const execution = await requireExecution(store, id, opened.spec);
    const inspection = await inspect(store!, execution);
    if (opts.json) printJson(inspection);
    else printInspection(inspection, styleFor(process.stdout));
    return ExitCode.ok;
  } catch (e) {
    return reportError(e, opts.json ? { json: true, error: serializeError(e) } : undefined);
  } finally {
    await store?.close().catch(() => {});
  }
}

async function inspect(store: Store, execution: ExecutionRecord): Promise<Inspection> {
  const [stored, definition, cancels] = await Promise.all([
    store.getSteps(execution.id),
    store.getDefinitionByHash(execution.definitionHash),
    store.pendingCancels([execution.id]),
  ]);
  const inspection: Inspection = {
    execution,
    steps: inDocumentOrder(execution.id, stored, definition?.document),
  };
  if (cancels[0]) inspection.cancelRequest = cancels[0];
  // The store keeps inputs and step outputs whole (a resume needs them): shown redacted,
  // with the secrets the definition names, read from this environment.
  return redactorForDefinition(definition?.document, process.env).redact(inspection) as Inspection;
}

/** Steps in the order the document declares them, with a `pending` record for those not yet written. */
function inDocumentOrder(
  executionId: string,
  stored: StepStateRecord[],
  document: unknown,
): StepStateRecord[] {
  const declared = (document as { steps?: unknown } | undefined)?.steps;
  if (!Array.isArray(declared)) return stored;
  const byId = new Map(stored.map((s) => [s.stepId, s]));
  const out: StepStateRecord[] = [];
  for (const d of declared) {
    const stepId = (d as { id?: unknown } | null)?.id;
    if (typeof stepId !== 'string') continue;
    out.push(byId.get(stepId) ?? { executionId, stepId, status: 'pending', attempts: 0 });
    byId.delete(stepId);
  }
  // Records the document does not declare (it should not happen) are still shown.
  out.push(...byId.values());
  return out;
}

function printInspection(x: Inspection, s: Style): void {
  const out = process.stdout;
  const e = x.execution;
  const field = (name: string, value: string) => out.write(`${s.dim(name.padEnd(10))} ${value}\n`);
  out.write(`${s.bold(`execution ${e.id}`)}\n`);
  field('workflow', `${e.workflowId}@${e.workflowVersion}`);
  field(
    'status',
    `${statusColor(s, e.status)(s.bold(e.status))}${e.statusReason ? s.dim(` · ${e.statusReason}`) : ''}`,
  );
  const times = [`created ${formatTime(e.createdAt)}`];
  if (e.startedAt !== undefined) times.push(`started ${formatTime(e.startedAt, { date: false })}`);
  if (e.finishedAt !== undefined) times.push(`finished ${formatTime(e.finishedAt, { date: false })}`);
  if (e.startedAt !== undefined && e.finishedAt !== undefined)
    times.push(`took ${formatDuration(e.finishedAt - e.startedAt)}`);
  field('time', times.join(s.dim(' · ')));
  if (x.cancelRequest) {
    field(
      'cancel',
      s.yellow(
        `requested ${formatTime(x.cancelRequest.requestedAt)} (${x.cancelRequest.reason}); not yet acted on`,
      ),
    );
  }
  if (e.parentExecutionId)
    field('parent', `${e.parentExecutionId}${e.parentStepId ? ` step ${e.parentStepId}` : ''}`);
  if (e.correlationId) field('correlation', e.correlationId);
  if (e.idempotencyKey) field('idem. key', e.idempotencyKey);
  if (e.inputs !== undefined) field('inputs', preview(e.inputs));
  if (e.result !== undefined) field('outputs', preview(e.result, 400));
  if (e.error) field('error', s.red(errorLine(e.error)));

  const counts = new Map<string, number>();
  for (const st of x.steps) counts.set(st.status, (counts.get(st.status) ?? 0) + 1);
  const summary = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
  out.write(`\n${s.bold(plural(x.steps.length, 'step'))}${summary ? s.dim(` · ${summary}`) : ''}\n`);
  const width = Math.min(40, Math.max(4, ...x.steps.map((st) => st.stepId.length)));
  for (const st of x.steps) {
    const color = statusColor(s, st.status);
    const cells = [color(`${ICON[st.status] ?? '?'} ${st.stepId.padEnd(width)} ${st.status.padEnd(9)}`)];
    if (st.attempts > 0 || st.startedAt !== undefined) cells.push(plural(st.attempts, 'attempt').padEnd(10));
    if (st.startedAt !== undefined) cells.push(s.dim(stepTiming(st.startedAt, st.finishedAt)));
    out.write(`${`  ${cells.join(' ')}`.trimEnd()}\n`);
    const detail = (name: string, value: string) => out.write(`      ${s.dim(name)} ${value}\n`);
    if (st.aliasFor) detail('from', `fallback step ${st.aliasFor}`);
    if (st.output !== undefined) detail('output', preview(st.output));
    if (st.error) detail(st.status === 'completed' ? 'recovered from' : 'error', s.red(errorLine(st.error)));
    const reason = st.statusReason ?? st.skipReason;
    if (reason) detail('reason', reason);
  }
}

/** `10:11:12.345 → 10:11:12.400  55ms`, or `10:11:12.345 → …` while running. */
function stepTiming(startedAt: number, finishedAt: number | undefined): string {
  const start = formatTime(startedAt, { date: false, ms: true });
  if (finishedAt === undefined) return `${start} → …`;
  return `${start} → ${formatTime(finishedAt, { date: false, ms: true })}  ${formatDuration(finishedAt - startedAt)}`;
}

function errorLine(error: SerializedError): string {
  let text = `${error.code}: ${error.message}`;
  if (error.attempts !== undefined && error.attempts > 1) text += ` (after ${error.attempts} attempts)`;
  let cause = error.cause;
  for (let depth = 0; cause && depth < 3; depth++, cause = cause.cause) {
    if (cause.message !== error.message) text += `; caused by ${cause.code}: ${cause.message}`;
  }
  return text;
}
