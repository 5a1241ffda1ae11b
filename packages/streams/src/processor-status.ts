/**
 * A live processor's status: the counters it keeps as events come in and slices are
 * committed, and the heartbeat that publishes part of it through the transport.
 */
import { hostname } from 'node:os';
import type { Clock } from '@orchestr8/common';
import type { ProcessorHeartbeat } from './heartbeat.js';
import type { CompiledStream } from './load-stream.js';
import type { SliceOutcome } from './slice-runner.js';
import type { StreamTransport } from './transport.js';

export interface StreamStatus {
  stream: string;
  /** True while this processor holds the stream; false for a standby (another one holds it). */
  active: boolean;
  /** The last slice applied to the context (-1: none). */
  committedSlice: number;
  /** The last slice closed: an event for it or an earlier one is late (-1: none). */
  closedSlice: number;
  /** Closed slices waiting to be processed. */
  backlog: number;
  /**
   * How far the end of the oldest slice holding events not yet committed is behind the
   * clock, in ms; 0 when no such slice has ended (an idle stream has no lag).
   */
  lagMs: number;
  eventsIn: number;
  actionsOut: number;
  invalidEvents: number;
  lateEvents: number;
  slicesProcessed: number;
  slicesSkipped: number;
  slicesMerged: number;
  crewFailures: number;
  /** Per crew: runs and total duration. */
  crews: Record<string, { runs: number; failures: number; totalMs: number; lastMs: number }>;
  /**
   * Why a processor that held the stream is not active, when it stood down on its own: its
   * commit failed (e.g. NATS unreachable). Unset while active, and for a standby that never held it.
   */
  standbyReason?: string;
}

/** The counters of a processor that has taken nothing yet. */
export function newStatus(stream: CompiledStream): StreamStatus {
  const stats: StreamStatus = {
    stream: stream.id,
    active: false,
    committedSlice: -1,
    closedSlice: -1,
    backlog: 0,
    lagMs: 0,
    eventsIn: 0,
    actionsOut: 0,
    invalidEvents: 0,
    lateEvents: 0,
    slicesProcessed: 0,
    slicesSkipped: 0,
    slicesMerged: 0,
    crewFailures: 0,
    crews: Object.fromEntries(
      stream.crews.map((c) => [c.id, { runs: 0, failures: 0, totalMs: 0, lastMs: 0 }]),
    ),
  };
  return stats;
}

/** Counts a committed slice: its actions and its crews' runs (a skipped crew did not run). */
export function countSlice(stats: StreamStatus, outcome: SliceOutcome): void {
  stats.slicesProcessed++;
  stats.actionsOut += outcome.actions.length;
  for (const run of outcome.crews) {
    if (run.status === 'skipped') continue;
    const c = stats.crews[run.crew]!;
    c.runs++;
    c.totalMs += run.durationMs;
    c.lastMs = run.durationMs;
    if (run.status === 'failed') {
      c.failures++;
      stats.crewFailures++;
    }
  }
}

export interface HeartbeatWriterOptions {
  transport: StreamTransport;
  stream: CompiledStream;
  clock: Clock;
  processorId: string;
  heartbeatMs: number;
  /** The processor's status as of now: a heartbeat carries its slice, backlog and lag. */
  status(): StreamStatus;
}

export interface HeartbeatWriter {
  /** The processor starts: its heartbeats say since when. */
  markStart(): void;
  /** Writes one heartbeat; never fails. */
  beat(state: ProcessorHeartbeat['state']): Promise<void>;
}

export function createHeartbeatWriter(options: HeartbeatWriterOptions): HeartbeatWriter {
  const { transport, stream, clock, processorId, heartbeatMs, status } = options;
  let startedAt = 0;

  function markStart(): void {
    startedAt = clock.now();
  }

  function beat(state: ProcessorHeartbeat['state']): Promise<void> {
    const s = status();
    return transport
      .heartbeat({
        processor: processorId,
        stream: stream.id,
        host: hostname(),
        pid: process.pid,
        startedAt,
        at: clock.now(),
        intervalMs: heartbeatMs,
        committedSlice: s.committedSlice,
        backlog: s.backlog,
        lagMs: s.lagMs,
        state,
      })
      .catch(() => {}); // best effort: a missed heartbeat shows as one, later
  }

  return { markStart, beat };
}
