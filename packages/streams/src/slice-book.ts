/**
 * The processor's slice bookkeeping: which slice each delivered event belongs to, the slices
 * open (still taking events), closed and waiting (ready) or being run (in flight), and the ids
 * of the events of slices committed since the takeover. An event for a closed slice is late,
 * unless it is a redelivery of one already taken; an event for a slice committed before the
 * takeover is acknowledged at once (its effect is in the committed context).
 */
import type { ExtendedDelivery } from './delivery-extras.js';
import type { Refuse } from './error-sink.js';
import type { CompiledStream } from './load-stream.js';
import type { StreamStatus } from './processor-status.js';
import { checkEvent, compareEvents, type StreamEvent, sliceIndex } from './records.js';
import type { SliceGroup } from './slice-runner.js';
import type { ContextState, EventDelivery } from './transport.js';

/** How many ids of committed events a processor remembers to tell a redelivery from a late event. */
const MAX_APPLIED_IDS = 100_000;

export interface OpenSlice {
  index: number;
  events: Map<string, StreamEvent>;
  deliveries: EventDelivery[];
}

export interface SliceBookOptions {
  stream: CompiledStream;
  /** Counts events in, invalid and late. */
  stats: StreamStatus;
  refuse: Refuse;
  /** Slices were closed: run those ready. */
  kick(): void;
}

export interface SliceBook {
  /** Slices taking events, by index. */
  readonly open: Map<number, OpenSlice>;
  /** Closed slices waiting to be run, oldest first. */
  readonly ready: OpenSlice[];
  /** The last slice closed (-1: none). */
  readonly closedUpTo: number;
  /** Takes a delivered event into its slice, or refuses it (acknowledged); never throws. */
  onDelivery(d: ExtendedDelivery): void;
  /** Closes every open slice up to `upTo`: they are ready to run. */
  close(upTo: number): void;
  /** Takes the next group to run out of `ready`, by the backlog policy. */
  nextGroup(): { group: SliceGroup; from: OpenSlice[]; skipped: OpenSlice[] };
  /** The slices being run (taken out of `ready`); [] when none is. */
  setInFlight(slices: OpenSlice[]): void;
  /** A committed slice: its events' redeliveries are not late. */
  remember(s: OpenSlice): void;
  /** A takeover: forget every slice, open, closed or committed. */
  reset(): void;
  /** The takeover found a committed context: its slice and those before it are done. */
  resume(saved: ContextState): void;
}

export function createSliceBook({ stream, stats, refuse, kick }: SliceBookOptions): SliceBook {
  let committedAtStart = -1;
  let closedUpTo = -1;
  const open = new Map<number, OpenSlice>();
  const ready: OpenSlice[] = [];
  /** Slices taken out of `ready` and being run: a redelivery of one of their events is not late. */
  let inFlight: OpenSlice[] = [];
  /** The ids of the events of slices committed since the takeover, newest slices last (bounded). */
  const applied = new Map<number, Set<string>>();
  let appliedIds = 0;

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

  function reset(): void {
    committedAtStart = closedUpTo = -1;
    open.clear();
    ready.length = 0;
    inFlight = [];
    applied.clear();
    appliedIds = 0;
  }

  function resume(saved: ContextState): void {
    committedAtStart = saved.slice;
    closedUpTo = saved.slice;
  }

  return {
    open,
    ready,
    get closedUpTo() {
      return closedUpTo;
    },
    onDelivery,
    close,
    nextGroup,
    setInFlight: (slices) => {
      inFlight = slices;
    },
    remember,
    reset,
    resume,
  };
}
