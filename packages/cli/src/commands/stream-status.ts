/** `orchestr8 stream status`: a stream's position, crews and processors, on NATS or in a serve. */
import { natsStreamStatus, type ProcessorView, type StreamStatus } from '@orchestr8/streams';
import { ExitCode } from '../exit-codes.js';
import { UsageError } from '../inputs.js';
import { callServerAt, RemoteError } from '../server-call.js';
import { err, loadOrReport, out, plural } from './stream-io.js';

export interface StatusOptions {
  nats?: string;
  server?: string;
  apiKey?: string;
  json?: boolean;
}

export async function statusCommand(file: string, opts: StatusOptions): Promise<number> {
  if ((opts.nats === undefined) === (opts.server === undefined))
    throw new UsageError('stream status needs exactly one of --nats <url> and --server <url>');
  const stream = await loadOrReport(file, { crews: false });
  if (!stream) return ExitCode.usage;
  if (opts.server !== undefined) return serverStatus(stream.id, opts);
  const s = await natsStreamStatus({ stream, servers: opts.nats! });
  if (opts.json) {
    out(`${JSON.stringify(s, null, 2)}\n`);
    return s.processors.some((p) => p.stale) ? ExitCode.failed : ExitCode.ok;
  }
  out(
    `stream ${s.stream}: committed slice ${s.committedSlice}, lag ${Math.round(s.lagMs)} ms, backlog ${s.backlog} events\n`,
  );
  out(`log: ${s.events} events, ${s.actions} actions, ${s.errors} errors\n`);
  for (const [id, c] of Object.entries(s.crews))
    out(
      `crew ${id}: ${plural(c.runs, 'run')}, ${c.failures} failed, median ${c.medianMs.toFixed(1)} ms, last ${c.lastMs.toFixed(1)} ms (last ${s.recent} slices)\n`,
    );
  return printProcessors(s.processors);
}

/** A stream hosted by `orchestr8 serve --stream`: its processor's status over HTTP. */
async function serverStatus(id: string, opts: StatusOptions): Promise<number> {
  let s: StreamStatus & { processors: ProcessorView[] };
  try {
    s = (await callServerAt(opts, 'GET', `/streams/${encodeURIComponent(id)}`)) as typeof s;
  } catch (e) {
    if (!(e instanceof RemoteError)) throw e;
    err(`error ${e.code}: ${e.message}\n`);
    return e.status === -1 || e.status === 401 || e.status === 403 ? ExitCode.usage : ExitCode.failed;
  }
  if (opts.json) {
    out(`${JSON.stringify(s, null, 2)}\n`);
    return s.processors.some((p) => p.stale) ? ExitCode.failed : ExitCode.ok;
  }
  out(
    `stream ${s.stream}: committed slice ${s.committedSlice}, lag ${Math.round(s.lagMs)} ms, backlog ${s.backlog} slices\n`,
  );
  out(
    `processed: ${s.eventsIn} events, ${s.actionsOut} actions, ${s.slicesProcessed} slices (${s.slicesMerged} merged, ${s.slicesSkipped} skipped); refused ${s.invalidEvents} invalid, ${s.lateEvents} late\n`,
  );
  for (const [crew, c] of Object.entries(s.crews))
    out(
      `crew ${crew}: ${plural(c.runs, 'run')}, ${c.failures} failed, mean ${(c.runs > 0 ? c.totalMs / c.runs : 0).toFixed(1)} ms, last ${c.lastMs.toFixed(1)} ms\n`,
    );
  return printProcessors(s.processors);
}

/** One line per processor; a stale one fails the command, so a monitoring script can alert on it. */
function printProcessors(processors: readonly ProcessorView[]): number {
  if (processors.length === 0) out('processors: none has written a heartbeat\n');
  for (const p of processors) {
    const state = p.stale
      ? `STALE: no heartbeat for ${formatAge(p.ageMs)} (every ${formatAge(p.intervalMs)} expected)`
      : p.state === 'stopped'
        ? `stopped ${formatAge(p.ageMs)} ago`
        : p.state === 'standby'
          ? `standby (another processor holds the stream), heartbeat ${formatAge(p.ageMs)} ago`
          : `running, heartbeat ${formatAge(p.ageMs)} ago`;
    out(
      `processor ${p.processor} (pid ${p.pid}): ${state}; at slice ${p.committedSlice}, backlog ${p.backlog} slices, lag ${Math.round(p.lagMs)} ms\n`,
    );
  }
  return processors.some((p) => p.stale) ? ExitCode.failed : ExitCode.ok;
}

function formatAge(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
