/** `orchestr8 stream run`: NDJSON events from a file or stdin, or live on NATS JetStream. */
import { writeFileSync } from 'node:fs';
import { createNatsTransport, createStreamProcessor, runEvents } from '@orchestr8/streams';
import { ExitCode } from '../exit-codes.js';
import { UsageError } from '../inputs.js';
import {
  durationFlag,
  type EngineFlags,
  engineFor,
  err,
  errorLine,
  loadOrReport,
  out,
  plural,
  readNdjson,
  resolverFor,
} from './stream-io.js';

export interface RunOptions extends EngineFlags {
  events?: string;
  nats?: string;
  ackWait?: string;
  heartbeat?: string;
  processorId?: string;
  slicesOut?: string;
}

/** Errors that mean an event was not taken (the others are about crews and slices). */
const REFUSALS = new Set(['invalid-event', 'late-event', 'too-many-events']);

export async function runCommand(file: string, opts: RunOptions): Promise<number> {
  if ((opts.events === undefined) === (opts.nats === undefined))
    throw new UsageError('stream run needs exactly one of --events <file|-> and --nats <url>');
  const stream = await loadOrReport(file);
  if (!stream) return ExitCode.usage;
  const host = await engineFor(opts);
  // Closed on every path, a failed one included (close is idempotent).
  try {
    const { engine } = host;
    const resolveWorkflow = resolverFor(file);
    if (opts.events !== undefined) {
      const { values: events, bad } = await readNdjson(opts.events);
      for (const line of bad) err(`invalid-event (${line})\n`);
      const result = await runEvents({
        stream,
        engine,
        resolveWorkflow,
        events,
        onSlice: (outcome) => {
          for (const a of outcome.actions) out(`${JSON.stringify(a)}\n`);
        },
      });
      for (const e of result.errors) err(errorLine(e));
      if (opts.slicesOut !== undefined)
        writeFileSync(opts.slicesOut, result.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await host.close();
      const read = events.length + bad.length;
      const refused = bad.length + result.errors.filter((e) => REFUSALS.has(e.kind)).length;
      const duplicates = result.errors.filter((e) => e.kind === 'duplicate-event').length;
      const crewErrors = result.errors.length + bad.length - refused - duplicates;
      err(
        `stream ${stream.id}: ${plural(read, 'event')} read, ${read - refused - duplicates} accepted, ${refused} refused, ${plural(duplicates, 'duplicate')}; ${plural(result.records.length, 'slice')}, ${plural(result.actions.length, 'action')}, ${plural(crewErrors, 'crew error')}\n`,
      );
      return ExitCode.ok;
    }
    const ackWaitMs =
      opts.ackWait === undefined ? undefined : durationFlag(opts.ackWait, '--ack-wait', '30s');
    const heartbeatMs =
      opts.heartbeat === undefined ? undefined : durationFlag(opts.heartbeat, '--heartbeat', '5s');
    const transport = await createNatsTransport({
      streamId: stream.id,
      servers: opts.nats!,
      ...(ackWaitMs !== undefined ? { ackWaitMs } : {}),
    });
    const processor = createStreamProcessor({
      stream,
      engine,
      transport,
      resolveWorkflow,
      ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
      ...(opts.processorId !== undefined ? { processorId: opts.processorId } : {}),
      onSlice: (outcome) => {
        for (const a of outcome.actions) out(`${JSON.stringify(a)}\n`);
      },
      onError: (e) => err(errorLine(e)),
    });
    try {
      await processor.start();
    } catch (e) {
      // The transport connected: close it too, or its connection keeps the process alive.
      await processor.stop().catch(() => {});
      await transport.close().catch(() => {});
      throw e;
    }
    // One processor holds a stream at a time: say whether this one does, and when that changes.
    // Standby because of its own failed commit (standbyReason) is not "another holds it".
    const holding = (active: boolean) => {
      if (active) return `stream ${stream.id}: processing events from ${opts.nats} (Ctrl-C to stop)\n`;
      const reason = processor.status().standbyReason;
      return reason !== undefined
        ? `stream ${stream.id}: standby, this processor ${reason} (Ctrl-C to stop)\n`
        : `stream ${stream.id}: standby, another processor holds the stream; this one takes it over when that one stops or its claim runs out (Ctrl-C to stop)\n`;
    };
    let active = processor.status().active;
    err(holding(active));
    const watch = setInterval(() => {
      const now = processor.status().active;
      if (now === active) return;
      active = now;
      err(holding(active));
    }, 500);
    watch.unref();
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    clearInterval(watch);
    await processor.stop();
    await transport.close();
    await host.close();
    const s = processor.status();
    err(
      `stream ${stream.id}: stopped after slice ${s.committedSlice} (${s.eventsIn} events, ${s.actionsOut} actions)\n`,
    );
    return ExitCode.ok;
  } finally {
    // A close error after the command's own is not reported over it; on success paths
    // the command awaited close itself and saw it.
    await host.close().catch(() => {});
  }
}
