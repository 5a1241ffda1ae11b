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
 */

import { hostname } from 'node:os';
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
import type { ExtendedConsumption, ExtendedDelivery } from './delivery-extras.js';
import { DEFAULT_HEARTBEAT_MS, defaultProcessorId, type ProcessorHeartbeat } from './heartbeat.js';
import { type CompiledStream, MAX_TIMER_MS } from './load-stream.js';
import { checkEvent, compareEvents, type StreamEvent, sliceBounds, sliceIndex } from './records.js';
import {
  createSliceRunner,
  type SliceGroup,
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

/** How many ids of committed events a processor remembers to tell a redelivery from a late event. */
const MAX_APPLIED_IDS = 100_000;

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

interface OpenSlice {
  index: number;
  events: Map<string, StreamEvent>;
  deliveries: EventDelivery[];
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
  let committedAtStart = -1;
  let closedUpTo = -1;
  const open = new Map<number, OpenSlice>();
  const ready: OpenSlice[] = [];
  let consumption: Consumption | undefined;
  let timer: TimerHandle | undefined;
  let working: Promise<void> | undefined;
  /** The first slice of the group being run, while one is. */
  let running: number | undefined;
  let stopped = false;
  let catchingUp = false;
  let startBacklog = 0;
  let delivered = 0;
  /** Slices taken out of `ready` and being run: a redelivery of one of their events is not late. */
  let inFlight: OpenSlice[] = [];
  /** The ids of the events of slices committed since the takeover, newest slices last (bounded). */
  const applied = new Map<number, Set<string>>();
  let appliedIds = 0;
  let standbyReason: string | undefined;
  const processorId = options.processorId ?? defaultProcessorId();
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  let beatTimer: TimerHandle | undefined;
  let startedAt = 0;
  /** start() finished: the processor claims and beats. */
  let started = false;
  /** Counts takeovers and stand-downs: a slice begun in an earlier term is not committed. */
  let term = 0;
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

  const report = (error: StreamErrorRecord) => {
    options.onError?.(error);
    // The sink is best effort: an unreachable sink must not stop the stream.
    transport.publishError(error).catch(() => {});
  };
  const refuse = (kind: StreamErrorRecord['kind'], message: string, eventId?: string, slice?: number) =>
    report({
      stream: stream.id,
      kind,
      ...(slice === undefined ? {} : { slice }),
      ...(eventId === undefined ? {} : { eventId }),
      error: serializeError(
        new Orchestr8Error(
          kind === 'too-many-events' ? ErrorCode.LIMIT_EXCEEDED : ErrorCode.VALIDATION,
          message,
        ),
      ),
    });

  /** An event that cannot be handled (a bug, a value no check foresaw) is refused, not left to stall the stream. */
  function onDelivery(d: ExtendedDelivery): void {
    try {
      take(d);
    } catch (e) {
      stats.invalidEvents++;
      let id: unknown;
      try {
        id = (d.event as { id?: unknown } | null)?.id;
      } catch {}
      refuse(
        'invalid-event',
        `the event could not be handled: ${(e as Error)?.message ?? String(e)}`,
        typeof id === 'string' ? id : undefined,
      );
      d.ack();
    }
  }

  function take(d: ExtendedDelivery): void {
    const checked = checkEvent(d.event, stream, d.bytes === undefined ? {} : { bytes: d.bytes });
    const rawId = (d.event as { id?: unknown } | null)?.id;
    if (!checked.event) {
      stats.invalidEvents++;
      refuse(
        'invalid-event',
        checked.problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join('; '),
        typeof rawId === 'string' ? rawId : undefined,
      );
      d.ack();
      return;
    }
    const event = checked.event;
    const index = sliceIndex(event.ts, stream);
    if (index <= committedAtStart) {
      // Its slice was committed before this processor started: a redelivery of an event
      // applied (or refused) before a restart. Its effect is in the committed context.
      d.ack();
      return;
    }
    if (index <= closedUpTo) {
      // Delivered again (its acknowledgement was lost, or it was not acknowledged in time): not late.
      if (applied.get(index)?.has(event.id)) {
        d.ack();
        return;
      }
      const pending = inFlight.find((s) => s.index === index) ?? ready.find((s) => s.index === index);
      if (pending?.events.has(event.id)) {
        pending.deliveries.push(d); // acknowledged with its slice
        return;
      }
      stats.lateEvents++;
      refuse('late-event', `event arrived after its slice ${index} was closed`, event.id, index);
      d.ack();
      return;
    }
    let slice = open.get(index);
    if (!slice) {
      slice = { index, events: new Map(), deliveries: [] };
      open.set(index, slice);
    }
    slice.deliveries.push(d);
    if (slice.events.has(event.id)) return; // a redelivery or a producer's duplicate
    if (slice.events.size >= stream.limits.maxEventsPerSlice) {
      refuse(
        'too-many-events',
        `slice ${index} already holds ${stream.limits.maxEventsPerSlice} events`,
        event.id,
        index,
      );
      return;
    }
    stats.eventsIn++;
    slice.events.set(event.id, event);
  }

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

  function close(upTo: number): void {
    if (upTo <= closedUpTo) return;
    closedUpTo = upTo;
    const due = [...open.values()].filter((s) => s.index <= upTo).sort((a, b) => a.index - b.index);
    for (const s of due) {
      open.delete(s.index);
      ready.push(s);
    }
    stats.backlog = ready.length;
    kick();
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

  /** The next group to process, by the backlog policy. */
  function nextGroup(): { group: SliceGroup; from: OpenSlice[]; skipped: OpenSlice[] } {
    let from = [ready.shift()!];
    let skipped: OpenSlice[] = [];
    if (ready.length > 0 && stream.backlog === 'latest') {
      skipped = from.concat(ready.splice(0, ready.length - 1));
      from = [ready.shift()!];
    } else if (ready.length > 0 && stream.backlog === 'merge') {
      from = from.concat(ready.splice(0));
    }
    const events = from.flatMap((s) => [...s.events.values()]).sort(compareEvents);
    const last = from[from.length - 1]!;
    return { group: { index: last.index, slices: from.map((s) => s.index), events }, from, skipped };
  }

  async function work(): Promise<void> {
    while (ready.length > 0) {
      const { group, from, skipped } = nextGroup();
      inFlight = [...skipped, ...from];
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
      inFlight = [];
      for (const s of [...skipped, ...from]) {
        remember(s);
        for (const d of s.deliveries) d.ack();
      }
      stats.committedSlice = committed;
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
      for (const e of outcome.errors) report(e);
      options.onSlice?.(outcome, record);
    }
  }

  /** The ids of a committed slice's events, so that a redelivery of one is not taken for a late event. */
  function remember(s: OpenSlice): void {
    applied.set(s.index, new Set(s.events.keys()));
    appliedIds += s.events.size;
    for (const [index, ids] of applied) {
      if (appliedIds <= MAX_APPLIED_IDS || applied.size === 1) break;
      applied.delete(index);
      appliedIds -= ids.size;
    }
  }

  function kick(): void {
    if (working || !runner) return;
    let failed: number | undefined;
    working = work().finally(() => {
      failed = running;
      working = undefined;
      running = undefined;
      inFlight = [];
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
      closedSlice: closedUpTo,
      backlog: ready.length,
      lagMs: lagMs(clock.now()),
      crews: structuredClone(stats.crews),
      ...(standbyReason !== undefined && !claims.active ? { standbyReason } : {}),
    };
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

  function beatLoop(): void {
    if (stopped || heartbeatMs <= 0) return;
    void beat(claims.active ? 'running' : 'standby');
    beatTimer = clock.setTimeout(beatLoop, heartbeatMs, { unref: true });
  }

  /** Takes the stream over: from the committed context, with the events not yet acknowledged. */
  async function activate(): Promise<void> {
    const mine = ++term;
    context = structuredClone(stream.initialContext);
    committed = committedAtStart = closedUpTo = -1;
    open.clear();
    ready.length = 0;
    inFlight = [];
    applied.clear();
    appliedIds = 0;
    delivered = 0;
    // Taken under a new revision: a commit of the processor that held the stream before is refused.
    const held = await transport.takeContext();
    revision = held.revision;
    const saved = held.state;
    if (saved) {
      context = saved.values;
      committed = saved.slice;
      committedAtStart = saved.slice;
      closedUpTo = saved.slice;
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
      startedAt = clock.now();
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
