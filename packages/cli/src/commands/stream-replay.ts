/**
 * `orchestr8 stream replay`: re-process a recorded stream and compare its actions with the
 * recorded ones.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { Store } from '@orchestr8/core';
import {
  type CrewExecutor,
  createNatsTransport,
  replayStream,
  type SliceRecord,
  type StreamAction,
  type StreamTransport,
} from '@orchestr8/streams';
import { runRecorded } from '@orchestr8/testing';
import { ExitCode } from '../exit-codes.js';
import { UsageError } from '../inputs.js';
import {
  type EngineFlags,
  engineFor,
  err,
  loadOrReport,
  out,
  parseTime,
  readNdjson,
  readRecords,
  resolverFor,
} from './stream-io.js';

/**
 * Crews run against the step outputs recorded when the stream ran: each slice record names
 * the execution of each crew, found in the store; no agent is called.
 */
function recordedCrews(store: Store, slices: readonly SliceRecord[]): CrewExecutor {
  const executions = new Map<string, string>();
  for (const r of slices)
    for (const c of r.crews) if (c.executionId) executions.set(`${r.index}:${c.crew}`, c.executionId);
  return async ({ crew, workflow, slice, inputs }) => {
    const executionId = executions.get(`${slice}:${crew.id}`);
    if (!executionId)
      throw new Orchestr8Error(
        ErrorCode.NOT_FOUND,
        `no recorded execution of crew "${crew.id}" in slice ${slice}: it did not run there when the stream was recorded`,
      );
    return (await runRecorded({ store, executionId, workflow, inputs })).result;
  };
}

export interface ReplayCommandOptions extends EngineFlags {
  events?: string;
  actions?: string;
  slices?: string;
  nats?: string;
  from?: string;
  to?: string;
  json?: boolean;
  recordedOutputs?: boolean;
}

export async function replayCommand(file: string, opts: ReplayCommandOptions): Promise<number> {
  const fromFiles = opts.events !== undefined || opts.actions !== undefined;
  if (fromFiles === (opts.nats !== undefined))
    throw new UsageError('stream replay needs --events <file> and --actions <file>, or --nats <url>');
  if (fromFiles && (opts.events === undefined || opts.actions === undefined))
    throw new UsageError('stream replay needs both --events <file> and --actions <file>');
  const from = parseTime(opts.from, '--from');
  const to = parseTime(opts.to, '--to');
  if (from !== undefined && to !== undefined && from >= to)
    throw new UsageError(
      `--from (${opts.from}) must be before --to (${opts.to}): no slice starts in that range`,
    );
  const stream = await loadOrReport(file);
  if (!stream) return ExitCode.usage;
  let events: unknown[];
  let actions: StreamAction[];
  let slices: SliceRecord[] | undefined;
  if (fromFiles) {
    events = (await readNdjson(opts.events!)).values;
    actions = await readRecords<StreamAction>(opts.actions!);
    if (opts.slices !== undefined) slices = await readRecords<SliceRecord>(opts.slices);
  } else {
    const transport: StreamTransport = await createNatsTransport({
      streamId: stream.id,
      servers: opts.nats!,
      consumer: 'replay',
    });
    try {
      [events, actions, slices] = await Promise.all([
        transport.readEvents(),
        transport.readActions(),
        transport.readSlices(),
      ]);
    } finally {
      await transport.close();
    }
  }
  if (opts.recordedOutputs && !slices)
    throw new UsageError(
      '--recorded-outputs needs the slice records (--slices <file>, or --nats): they name each crew execution',
    );
  const host = await engineFor(opts);
  // Closed on every path, a failed one included (close is idempotent).
  try {
    const { engine } = host;
    const report = await replayStream({
      stream,
      engine,
      resolveWorkflow: resolverFor(file),
      ...(opts.recordedOutputs && slices ? { executeCrew: recordedCrews(host.store, slices) } : {}),
      events,
      actions,
      ...(slices ? { slices } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    });
    await host.close();
    // Matching nothing proves nothing: no slice to compare is a failure, said on stderr.
    const nothing = report.slicesCompared === 0 && report.mismatches.length === 0;
    if (nothing)
      err(
        `stream replay: no slice to compare: ${from !== undefined || to !== undefined ? `no slice of the recording starts in the range (--from ${opts.from ?? '-'} --to ${opts.to ?? '-'})` : slices ? 'there is no slice record' : 'the event log holds no valid event'}\n`,
      );
    if (opts.json)
      out(
        `${JSON.stringify({ ok: report.ok, slicesCompared: report.slicesCompared, actionsCompared: report.actionsCompared, mismatches: report.mismatches, context: report.context }, null, 2)}\n`,
      );
    else {
      for (const m of report.mismatches) out(`slice ${m.slice}: ${m.message}\n`);
      const verdict = report.ok ? 'replay matches' : nothing ? 'replay compared nothing' : 'replay differs';
      out(
        `${verdict}: ${report.slicesCompared} slices, ${report.actionsCompared} recorded actions, ${report.mismatches.length} mismatches\n`,
      );
    }
    return report.ok ? ExitCode.ok : ExitCode.failed;
  } finally {
    // A close error after the command's own is not reported over it; on success paths
    // the command awaited close itself and saw it.
    await host.close().catch(() => {});
  }
}
