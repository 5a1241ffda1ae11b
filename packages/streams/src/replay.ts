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
  return {
    stream,
    kind,
    ...(slice === undefined ? {} : { slice }),
    ...(eventId === undefined ? {} : { eventId }),
    error: serializeError(
      new Orchestr8Error(
        kind === 'too-many-events' ? ErrorCode.LIMIT_EXCEEDED : ErrorCode.VALIDATION,
        message,
      ),
    ),
  };
}

/** Valid events by id (first of a duplicated id wins), and the refusals, in log order. */
function checkLog(stream: CompiledStream, log: readonly unknown[]) {
  const events = new Map<string, StreamEvent>();
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
    if (events.has(checked.event.id)) continue;
    const index = sliceIndex(checked.event.ts, stream);
    const n = perSlice.get(index) ?? 0;
    if (n >= stream.limits.maxEventsPerSlice) {
      errors.push(
        refused(
          stream.id,
          'too-many-events',
          `slice ${index} already holds ${stream.limits.maxEventsPerSlice} events`,
          checked.event.id,
          index,
        ),
      );
      continue;
    }
    perSlice.set(index, n + 1);
    events.set(checked.event.id, checked.event);
  }
  return { events, errors };
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
  const result = await runGroups(options, binned(events.values(), options.stream), new Map());
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
  /** True when every compared slice produced the recorded actions. */
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
  /** Only slices starting before this time (epoch ms). */
  to?: number;
}

const comparable = (a: StreamAction) => canonicalJson({ ...a });

/** Re-processes a recorded stream into a fresh context and compares its actions, slice by slice. */
export async function replayStream(options: ReplayOptions): Promise<ReplayReport> {
  const { stream } = options;
  const { events } = checkLog(stream, options.events);
  const mismatches: ReplayMismatch[] = [];
  let groups: SliceGroup[];
  const skipped = new Map<number, number[]>();
  if (options.slices) {
    groups = [];
    for (const record of options.slices) {
      const list: StreamEvent[] = [];
      for (const id of record.eventIds) {
        const e = events.get(id);
        if (!e) {
          mismatches.push({ slice: record.index, message: `event "${id}" is not in the event log` });
          continue;
        }
        const at = sliceIndex(e.ts, stream);
        if (!record.slices.includes(at))
          mismatches.push({
            slice: record.index,
            message: `event "${id}" falls in slice ${at}, recorded in ${record.slices.join(', ')}`,
          });
        list.push(e);
      }
      skipped.set(record.index, record.skipped);
      groups.push({ index: record.index, slices: record.slices, events: list.sort(compareEvents) });
    }
    groups.sort((a, b) => a.index - b.index);
  } else {
    groups = binned(events.values(), stream);
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
    ok: mismatches.length === 0,
    slicesCompared: groups.length,
    actionsCompared,
    mismatches,
    actions: result.actions,
    context: result.context,
  };
}
