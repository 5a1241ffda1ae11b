/**
 * The live processor: bins delivered events into slices by their timestamps, closes a
 * slice when the clock passes its end (plus a grace period for stragglers), applies the
 * backlog policy when closed slices wait, runs each slice and commits it through the
 * transport. Events are acknowledged only after their slice is committed, so a restart
 * re-delivers exactly what was not applied; the committed context says which slices were.
 * Only the processor holding the stream's claim (renewed while it lives) takes events and
 * commits: a second processor on the same stream waits as a standby until the claim is free.
 * Commits are conditional on the context revision the processor took over, so one replaced
 * after its claim check (it stalled) commits nothing.
 * Slices and their events are kept in slice-book.ts, the counters and heartbeats in
 * processor-status.ts, the errors go through error-sink.ts.
 */

import {
  type Clock,
  ErrorCode,
  Orchestr8Error,
  serializeError,
  systemClock,
  type TimerHandle,
  ValidationError,
} from '@orchestr8/common';
import type { Engine } from '@orchestr8/core';
import type { ContextValues } from './context-merge.js';
import { compileCrews, type WorkflowResolver } from './crews.js';
import type { ExtendedConsumption } from './delivery-extras.js';
import { createErrorSink } from './error-sink.js';
import { DEFAULT_HEARTBEAT_MS, defaultProcessorId } from './heartbeat.js';
import { type CompiledStream, MAX_TIMER_MS } from './load-stream.js';
import { countSlice, createHeartbeatWriter, newStatus, type StreamStatus } from './processor-status.js';
import { sliceBounds, sliceIndex } from './records.js';
import { createSliceBook } from './slice-book.js';
import {
  createSliceRunner,
  type SliceOutcome,
  type SliceRunner,
  type StreamErrorRecord,
} from './slice-runner.js';
import { createClaimKeeper, DEFAULT_CLAIM_MS } from './stream-claim.js';
import {
  type Consumption,
  type EventDelivery,
  type SliceRecord,
  type StreamTransport,
  takenOver,
} from './transport.js';

export type { StreamStatus } from './processor-status.js';

export interface StreamProcessorOptions {
  stream: CompiledStream;
  engine: Engine;
  transport: StreamTransport;
  clock?: Clock;
  /** How long after a slice ends its late events are still taken (default 0 ms; at most 2^31-1 ms). */
  graceMs?: number;
  resolveWorkflow?: WorkflowResolver;
  /** Prefix of the crews' idempotency keys (default "stream"). */
  keyPrefix?: string;
  /** Called after each slice is committed. */
  onSlice?: (outcome: SliceOutcome, record: SliceRecord) => void;
  /** Called with each error also sent to the transport's error sink. */
  onError?: (error: StreamErrorRecord) => void;
  /** Names this processor in its heartbeats (default: the host name). */
  processorId?: string;
  /** How often a heartbeat is written through the transport (default 5 s; 0: never). */
  heartbeatMs?: number;
  /**
   * How long the stream's claim lasts unless renewed (renewed every third of it): a processor
   * that died (or stalled this long) gives the stream up to a standby after it. Default: the
   * transport's (NATS: its ack wait), else 30 s.
   */
  claimMs?: number;
}

export interface StreamProcessor {
  start(): Promise<void>;
  /** Closes every slice that holds events now, due or not, and waits until all are committed. */
  flush(): Promise<void>;
  /**
   * Closes no more slices, waits for those in progress, then stops taking events and releases
   * the stream: open slices stay unacknowledged (NATS hands them back to the log at once).
   */
  stop(): Promise<void>;
  status(): StreamStatus;
  /** Counts events refused before they reached the transport (e.g. over HTTP) in the status. */
  countRefused(kind: 'invalid-event' | 'late-event', count: number): void;
  /** The context as last committed. */
  context(): ContextValues;
}

export function createStreamProcessor(options: StreamProcessorOptions): StreamProcessor {
  const { stream, engine, transport } = options;
  const clock = options.clock ?? systemClock;
  const graceMs = options.graceMs ?? 0;
  // The limit of every stream duration (slice, crew timeout): a timer's, 2^31-1 ms.
  if (!(graceMs >= 0 && graceMs <= MAX_TIMER_MS))
    throw new ValidationError(`graceMs must be from 0 to 2147483647 ms (24 days), got ${graceMs}`);
  const claimMs = options.claimMs ?? transport.claimMs ?? DEFAULT_CLAIM_MS;
  if (!(Number.isInteger(claimMs) && claimMs >= 3 && claimMs <= MAX_TIMER_MS))
    throw new ValidationError(`claimMs must be an integer from 3 to 2147483647 ms, got ${claimMs}`);
  let runner: SliceRunner | undefined;
  let context: ContextValues = structuredClone(stream.initialContext);
  let committed = -1;
  /** The context's revision as this processor took or last committed it: commits are conditional on it. */
  let revision = 0;
  let consumption: Consumption | undefined;
  let timer: TimerHandle | undefined;
  let working: Promise<void> | undefined;
  /** The first slice of the group being run, while one is. */
  let running: number | undefined;
  let stopped = false;
  let catchingUp = false;
  let startBacklog = 0;
  let delivered = 0;
  let standbyReason: string | undefined;
  const processorId = options.processorId ?? defaultProcessorId();
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  let beatTimer: TimerHandle | undefined;
  /** start() finished: the processor claims and beats. */
  let started = false;
  /** Counts takeovers and stand-downs: a slice begun in an earlier term is not committed. */
  let term = 0;
  const stats = newStatus(stream);
  const { report, refuse } = createErrorSink(options);
  // kick is declared below (hoisted): the book calls it when it closes slices.
  const book = createSliceBook({ stream, stats, refuse, kick });
  const { open, ready, onDelivery, close, nextGroup, remember, setInFlight } = book;

  /**
   * No slice closes until the backlog found at start has been read: it may hold events a
   * dead processor had taken, redelivered in any order, for slices the clock has passed.
   */
  function afterDelivery(d: EventDelivery): void {
    delivered++;
    if (catchingUp && delivered >= startBacklog && (d.pending ?? 0) === 0) {
      catchingUp = false;
      schedule();
    }
  }

  function schedule(): void {
    if (stopped || catchingUp) return;
    const now = clock.now();
    const current = sliceIndex(now - graceMs, stream);
    close(current - 1);
    const next = sliceBounds(current, stream).end + graceMs;
    // At most one slice length away (the grace only shifts when slices close): a timer Node can time.
    timer = clock.setTimeout(schedule, Math.max(1, next - now), { unref: true });
  }

  async function work(): Promise<void> {
    while (ready.length > 0) {
      const { group, from, skipped } = nextGroup();
      setInFlight([...skipped, ...from]);
      stats.backlog = ready.length;
      for (const s of skipped) {
        stats.slicesSkipped++;
        refuse(
          'slice-skipped',
          `slice ${s.index} skipped (backlog: latest): ${s.events.size} events not processed`,
          undefined,
          s.index,
        );
      }
      if (from.length > 1) stats.slicesMerged += from.length - 1;
      running = from[0]!.index;
      const began = term;
      const outcome = await runner!(group, context);
      // A processor that stalled past its claim may have been replaced: it must not commit.
      // (The commit is conditional too: this check only spares a doomed one.)
      if (began !== term || !(await claims.holds()))
        throw takenOver({ stream: stream.id, index: group.index });
      const record: SliceRecord = {
        stream: stream.id,
        index: group.index,
        slices: group.slices,
        skipped: skipped.map((s) => s.index),
        eventIds: outcome.eventIds,
        actionIds: outcome.actions.map((a) => a.id),
        crews: outcome.crews,
        durationMs: outcome.durationMs,
      };
      revision = await transport.commit({
        record,
        actions: outcome.actions,
        context: { slice: group.index, values: outcome.context },
        revision,
      });
      context = outcome.context;
      committed = group.index;
      running = undefined;
      setInFlight([]);
      for (const s of [...skipped, ...from]) {
        remember(s);
        for (const d of s.deliveries) d.ack();
      }
      stats.committedSlice = committed;
      countSlice(stats, outcome);
      for (const e of outcome.errors) report(e);
      options.onSlice?.(outcome, record);
    }
  }

  function kick(): void {
    if (working || !runner) return;
    let failed: number | undefined;
    working = work().finally(() => {
      failed = running;
      working = undefined;
      running = undefined;
      setInFlight([]);
      if (ready.length > 0 && !stopped) kick();
    });
    working.catch((e) => {
      // The slice was not committed (stream taken over, or the transport failed): its events
      // are still unacknowledged. Stand down; a processor still holding the claim takes the
      // stream over again at its next renewal, from the committed context, and redoes them.
      const conflict = e instanceof Orchestr8Error && e.code === ErrorCode.CONFLICT;
      const at = failed === undefined ? 'a slice' : `slice ${failed}`;
      if (!stopped && !conflict)
        standbyReason = `stood down: its commit of ${at} failed (${(e as Error)?.message ?? String(e)}); it takes the stream over again from the committed context at its next claim renewal`;
      report({
        stream: stream.id,
        kind: 'commit-failed',
        ...(failed === undefined ? {} : { slice: failed }),
        error: serializeError(
          conflict || stopped
            ? e
            : new Orchestr8Error(
                e instanceof Orchestr8Error ? e.code : ErrorCode.INTERNAL,
                `${at} was not committed: ${(e as Error)?.message ?? String(e)}; this processor stands down and takes the stream over again from the committed context at its next claim renewal`,
                { cause: e, ...(e instanceof Orchestr8Error ? { retryable: e.retryable } : {}) },
              ),
        ),
      });
      if (!stopped) claims.restart();
    });
  }

  /** Lag: from the end of the oldest slice with uncommitted events that has ended, else 0. */
  function lagMs(now: number): number {
    let oldest = running ?? ready[0]?.index;
    for (const s of open.values())
      if (s.events.size > 0 && (oldest === undefined || s.index < oldest)) oldest = s.index;
    if (oldest === undefined) return 0;
    return Math.max(0, now - sliceBounds(oldest, stream).end);
  }

  function status(): StreamStatus {
    return {
      ...stats,
      active: claims.active,
      committedSlice: committed,
      closedSlice: book.closedUpTo,
      backlog: ready.length,
      lagMs: lagMs(clock.now()),
      crews: structuredClone(stats.crews),
      ...(standbyReason !== undefined && !claims.active ? { standbyReason } : {}),
    };
  }

  const { markStart, beat } = createHeartbeatWriter({
    transport,
    stream,
    clock,
    processorId,
    heartbeatMs,
    status,
  });

  function beatLoop(): void {
    if (stopped || heartbeatMs <= 0) return;
    void beat(claims.active ? 'running' : 'standby');
    beatTimer = clock.setTimeout(beatLoop, heartbeatMs, { unref: true });
  }

  /** Takes the stream over: from the committed context, with the events not yet acknowledged. */
  async function activate(): Promise<void> {
    const mine = ++term;
    context = structuredClone(stream.initialContext);
    committed = -1;
    book.reset();
    delivered = 0;
    // Taken under a new revision: a commit of the processor that held the stream before is refused.
    const held = await transport.takeContext();
    revision = held.revision;
    const saved = held.state;
    if (saved) {
      context = saved.values;
      committed = saved.slice;
      book.resume(saved);
    }
    stats.committedSlice = committed;
    catchingUp = true;
    startBacklog = Number.POSITIVE_INFINITY;
    const taken: ExtendedConsumption = await transport.consume((d) => {
      onDelivery(d);
      afterDelivery(d);
    });
    // Stood down (or stopped) while taking over: hand the events back.
    if (term !== mine || stopped) {
      await taken.stop();
      return;
    }
    consumption = taken;
    standbyReason = undefined;
    if (taken.caughtUp) {
      // The transport knows when the waiting events (a dead processor's among them) are in.
      void taken.caughtUp.then(() => {
        if (term !== mine || stopped || !catchingUp) return;
        catchingUp = false;
        schedule();
      });
      return;
    }
    startBacklog = taken.backlog;
    if (catchingUp && delivered >= startBacklog) {
      catchingUp = false;
      schedule();
    }
  }

  /**
   * Another processor holds the stream now: stop taking events and drop the open slices
   * unacknowledged (the holder gets them again); the slice in progress is not committed.
   */
  function standDown(): void {
    term++;
    timer?.cancel();
    const taken = consumption;
    consumption = undefined;
    void taken?.stop().catch(() => {});
    open.clear();
    ready.length = 0;
    stats.backlog = 0;
  }

  const claims = createClaimKeeper({
    transport,
    clock,
    processorId,
    claimMs,
    onGained: activate,
    onLost: standDown,
    onError: (e) => report({ stream: stream.id, kind: 'commit-failed', error: serializeError(e) }),
  });

  return {
    async start() {
      markStart();
      const workflows = await compileCrews(stream, engine, options.resolveWorkflow);
      runner = createSliceRunner({
        stream,
        engine,
        workflows,
        clock,
        keyPrefix: options.keyPrefix ?? 'stream',
      });
      // A standby starts too: it takes the stream over once the holder's claim runs out.
      await claims.start();
      started = true;
      beatLoop();
    },
    async flush() {
      const highest = Math.max(-1, ...open.keys());
      close(highest);
      while (working || ready.length > 0) {
        kick();
        await working?.catch(() => {});
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      timer?.cancel();
      beatTimer?.cancel();
      await working?.catch(() => {});
      // After the slices in progress: events of open slices go back to the log at once.
      await consumption?.stop();
      await claims.stop();
      // Only one that started says it stopped: a failed start may share its id (the host
      // name by default) with a live processor, whose heartbeat it would overwrite.
      if (heartbeatMs > 0 && started) await beat('stopped');
    },
    status,
    countRefused(kind, count) {
      if (kind === 'late-event') stats.lateEvents += count;
      else stats.invalidEvents += count;
    },
    context: () => structuredClone(context),
  };
}
