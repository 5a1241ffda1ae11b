/**
 * Processing a recorded log: `runEvents` runs every slice of a list of events in order
 * (the file transport of `orchestr8 stream run`), and `replayStream` re-processes a
 * recorded stream into a fresh context and compares the actions with the recorded ones.
 */
import { type Clock, ErrorCode, Orchestr8Error, serializeError, systemClock } from '@orchestr8/common';
import type { Engine } from '@orchestr8/core';
import { canonicalJson } from '@orchestr8/schema';
import type { ContextValues } from './context-merge.js';
import { compileCrews, type WorkflowResolver } from './crews.js';
import type { CompiledStream } from './load-stream.js';
import {
  checkEvent,
  compareEvents,
  type StreamAction,
  type StreamEvent,
  sliceBounds,
  sliceIndex,
} from './records.js';
import {
  type CrewExecutor,
  createSliceRunner,
  type SliceGroup,
  type SliceOutcome,
  type StreamErrorRecord,
} from './slice-runner.js';
import type { SliceRecord } from './transport.js';

export interface BatchOptions {
  stream: CompiledStream;
  engine: Engine;
  clock?: Clock;
  resolveWorkflow?: WorkflowResolver;
  /** Prefix of the crews' idempotency keys (default: a fresh one per call). */
  keyPrefix?: string;
  /** Called after each slice. */
  onSlice?: (outcome: SliceOutcome) => void;
  /** Runs crews instead of the engine (e.g. against recorded step outputs). */
  executeCrew?: CrewExecutor;
}

export interface BatchResult {
  outcomes: SliceOutcome[];
  records: SliceRecord[];
  actions: StreamAction[];
  context: ContextValues;
  errors: StreamErrorRecord[];
}

function refused(
  stream: string,
  kind: StreamErrorRecord['kind'],
  message: string,
  eventId?: string,
  slice?: number,
): StreamErrorRecord {
  const code =
    kind === 'too-many-events'
      ? ErrorCode.LIMIT_EXCEEDED
      : kind === 'duplicate-event'
        ? ErrorCode.CONFLICT
        : ErrorCode.VALIDATION;
  return {
    stream,
    kind,
    ...(slice === undefined ? {} : { slice }),
    ...(eventId === undefined ? {} : { eventId }),
    error: serializeError(new Orchestr8Error(code, message)),
  };
}

/** Where an event is taken: its slice and id (the live processor's rule for duplicates). */
const slotOf = (slice: number, id: string) => `${slice}\u0000${id}`;

/**
 * The events a live processor takes from this log, in log order, and the refusals. Like the
 * processor, an id already taken in the same slice is dropped (a redelivery or a producer's
 * retry; the first one wins), while the same id in another slice is another event: so a
 * replay of the log reproduces what ran live. Dropped duplicates are reported here
 * (`duplicate-event`); the processor drops them silently, as redeliveries are routine.
 */
function checkLog(stream: CompiledStream, log: readonly unknown[]) {
  const events: StreamEvent[] = [];
  const taken = new Map<string, StreamEvent>();
  const errors: StreamErrorRecord[] = [];
  const perSlice = new Map<number, number>();
  for (const raw of log) {
    const checked = checkEvent(raw, stream);
    if (!checked.event) {
      const id = (raw as { id?: unknown } | null)?.id;
      errors.push(
        refused(
          stream.id,
          'invalid-event',
          checked.problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join('; '),
          typeof id === 'string' ? id : undefined,
        ),
      );
      continue;
    }
    const event = checked.event;
    const index = sliceIndex(event.ts, stream);
    const first = taken.get(slotOf(index, event.id));
    if (first) {
      const same = canonicalJson(first) === canonicalJson(event);
      errors.push(
        refused(
          stream.id,
          'duplicate-event',
          `slice ${index} already holds an event "${event.id}"${same ? '' : ' (a different one)'}: the first is kept, this one dropped`,
          event.id,
          index,
        ),
      );
      continue;
    }
    const n = perSlice.get(index) ?? 0;
    if (n >= stream.limits.maxEventsPerSlice) {
      errors.push(
        refused(
          stream.id,
          'too-many-events',
          `slice ${index} already holds ${stream.limits.maxEventsPerSlice} events`,
          event.id,
          index,
        ),
      );
      continue;
    }
    perSlice.set(index, n + 1);
    taken.set(slotOf(index, event.id), event);
    events.push(event);
  }
  return { events, taken, errors };
}

/** Every slice on its own, in order: slices from the events' timestamps alone. */
function binned(events: Iterable<StreamEvent>, stream: CompiledStream): SliceGroup[] {
  const bins = new Map<number, StreamEvent[]>();
  for (const e of events) {
    const i = sliceIndex(e.ts, stream);
    const bin = bins.get(i) ?? [];
    bin.push(e);
    bins.set(i, bin);
  }
  return [...bins.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([index, list]) => ({ index, slices: [index], events: list.sort(compareEvents) }));
}

async function runGroups(
  options: BatchOptions,
  groups: SliceGroup[],
  skippedBefore: Map<number, number[]>,
): Promise<BatchResult> {
  const { stream, engine } = options;
  const workflows = await compileCrews(stream, engine, options.resolveWorkflow);
  const runner = createSliceRunner({
    stream,
    engine,
    workflows,
    clock: options.clock ?? systemClock,
    keyPrefix: options.keyPrefix ?? `batch-${crypto.randomUUID()}`,
    ...(options.executeCrew ? { executeCrew: options.executeCrew } : {}),
  });
  let context: ContextValues = structuredClone(stream.initialContext);
  const result: BatchResult = { outcomes: [], records: [], actions: [], context, errors: [] };
  for (const group of groups) {
    const outcome = await runner(group, context);
    context = outcome.context;
    result.outcomes.push(outcome);
    result.actions.push(...outcome.actions);
    result.errors.push(...outcome.errors);
    result.records.push({
      stream: stream.id,
      index: group.index,
      slices: group.slices,
      skipped: skippedBefore.get(group.index) ?? [],
      eventIds: outcome.eventIds,
      actionIds: outcome.actions.map((a) => a.id),
      crews: outcome.crews,
      durationMs: outcome.durationMs,
    });
    options.onSlice?.(outcome);
  }
  result.context = context;
  return result;
}

/** Runs a recorded list of events: each slice in order, from a fresh context. */
export async function runEvents(
  options: BatchOptions & { events: readonly unknown[] },
): Promise<BatchResult> {
  const { events, errors } = checkLog(options.stream, options.events);
  const result = await runGroups(options, binned(events, options.stream), new Map());
  result.errors.unshift(...errors);
  return result;
}

export interface ReplayMismatch {
  slice: number;
  message: string;
  expected?: unknown;
  actual?: unknown;
}

export interface ReplayReport {
  /**
   * True when at least one slice was compared and every compared slice produced the recorded
   * actions: a replay that compared nothing (no slice in the range) proves nothing.
   */
  ok: boolean;
  slicesCompared: number;
  actionsCompared: number;
  mismatches: ReplayMismatch[];
  actions: StreamAction[];
  context: ContextValues;
}

export interface ReplayOptions extends BatchOptions {
  /** The event log. */
  events: readonly unknown[];
  /** The recorded actions to compare with. */
  actions: readonly StreamAction[];
  /**
   * The recorded slice decisions (which events each slice processed, merged or skipped
   * slices). Without them, slices come from the events' timestamps alone.
   */
  slices?: readonly SliceRecord[];
  /** Only slices starting at or after this time (epoch ms). */
  from?: number;
  /** Only slices starting before this time (epoch ms); must be after `from` (else VALIDATION). */
  to?: number;
}

const comparable = (a: StreamAction) => canonicalJson({ ...a });

/** An instant for a message: ISO-8601, or the number when no date has it. */
function when(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** Re-processes a recorded stream into a fresh context and compares its actions, slice by slice. */
export async function replayStream(options: ReplayOptions): Promise<ReplayReport> {
  const { stream } = options;
  if (options.from !== undefined && options.to !== undefined && options.from >= options.to)
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      `replay range is empty: from (${when(options.from)}) must be before to (${when(options.to)})`,
    );
  const { events, taken } = checkLog(stream, options.events);
  const firstById = new Map<string, StreamEvent>();
  for (const e of events) if (!firstById.has(e.id)) firstById.set(e.id, e);
  const mismatches: ReplayMismatch[] = [];
  let groups: SliceGroup[];
  const skipped = new Map<number, number[]>();
  if (options.slices) {
    groups = [];
    for (const record of options.slices) {
      const list: StreamEvent[] = [];
      const used = new Set<string>();
      for (const id of record.eventIds) {
        // The same id may stand for one event in each slice of a merged group.
        const at = record.slices.find((s) => taken.has(slotOf(s, id)) && !used.has(slotOf(s, id)));
        if (at !== undefined) {
          used.add(slotOf(at, id));
          list.push(taken.get(slotOf(at, id))!);
          continue;
        }
        const e = firstById.get(id);
        if (!e) {
          mismatches.push({ slice: record.index, message: `event "${id}" is not in the event log` });
          continue;
        }
        mismatches.push({
          slice: record.index,
          message: `event "${id}" falls in slice ${sliceIndex(e.ts, stream)}, recorded in ${record.slices.join(', ')}`,
        });
        list.push(e);
      }
      skipped.set(record.index, record.skipped);
      groups.push({ index: record.index, slices: record.slices, events: list.sort(compareEvents) });
    }
    groups.sort((a, b) => a.index - b.index);
  } else {
    groups = binned(events, stream);
  }
  const inRange = (index: number) => {
    const { start } = sliceBounds(index, stream);
    return (
      (options.from === undefined || start >= options.from) &&
      (options.to === undefined || start < options.to)
    );
  };
  groups = groups.filter((g) => inRange(g.index));
  const result = await runGroups(options, groups, skipped);
  const recorded = new Map<number, StreamAction[]>();
  for (const a of options.actions) {
    if (!inRange(a.slice)) continue;
    const list = recorded.get(a.slice) ?? [];
    list.push(a);
    recorded.set(a.slice, list);
  }
  const replayed = new Map<number, StreamAction[]>();
  for (const a of result.actions) replayed.set(a.slice, [...(replayed.get(a.slice) ?? []), a]);
  const indices = [...new Set([...recorded.keys(), ...replayed.keys()])].sort((a, b) => a - b);
  let actionsCompared = 0;
  for (const index of indices) {
    const expected = recorded.get(index) ?? [];
    const actual = replayed.get(index) ?? [];
    actionsCompared += expected.length;
    const n = Math.max(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      const e = expected[i];
      const a = actual[i];
      if (!e || !a || comparable(e) !== comparable(a)) {
        mismatches.push({
          slice: index,
          message: !e
            ? `replay published an extra action ${a!.id}`
            : !a
              ? `replay did not publish ${e.id}`
              : `action ${e.id} differs`,
          ...(e ? { expected: e } : {}),
          ...(a ? { actual: a } : {}),
        });
      }
    }
  }
  return {
    ok: mismatches.length === 0 && groups.length > 0,
    slicesCompared: groups.length,
    actionsCompared,
    mismatches,
    actions: result.actions,
    context: result.context,
  };
}
