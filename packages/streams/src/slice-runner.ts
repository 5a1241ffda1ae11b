/**
 * One slice: its crews run on the engine in dependency order (independent crews at the
 * same time), each as an execution of its own; their writes are merged into the context
 * and their actions collected, all in an order that does not depend on timing.
 */
import {
  type Clock,
  ErrorCode,
  Orchestr8Error,
  type SerializedError,
  serializeError,
  TimeoutError,
} from '@orchestr8/common';
import { type Engine, TERMINAL_EXECUTION_STATUSES } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import { type ContextValues, type ContextWrite, checkContextWrite, mergeWrites } from './context-merge.js';
import type { CompiledCrew, CompiledStream } from './load-stream.js';
import { checkActionOutput, jsonBytes, type StreamAction, type StreamEvent, sliceBounds } from './records.js';

/** Something that went wrong, sent to the error sink; processing goes on. */
export interface StreamErrorRecord {
  stream: string;
  kind:
    | 'invalid-event'
    | 'late-event'
    /** An id already taken in its slice, dropped (reported by file runs; live drops them silently). */
    | 'duplicate-event'
    | 'too-many-events'
    | 'crew-failed'
    | 'crew-skipped'
    | 'slice-skipped'
    | 'context-too-large'
    | 'commit-failed';
  slice?: number;
  crew?: string;
  eventId?: string;
  error: SerializedError;
}

export interface CrewRun {
  crew: string;
  status: 'completed' | 'failed' | 'skipped';
  durationMs: number;
  executionId?: string;
  actions: number;
}

/** The slices processed together: one, or several under the merge backlog policy. */
export interface SliceGroup {
  /** The slice the group is processed as (the latest of `slices`). */
  index: number;
  /** Every slice in the group, ascending. */
  slices: number[];
  /** Sorted by ts, then id. */
  events: StreamEvent[];
}

export interface SliceOutcome {
  stream: string;
  index: number;
  slices: number[];
  eventIds: string[];
  actions: StreamAction[];
  context: ContextValues;
  crews: CrewRun[];
  errors: StreamErrorRecord[];
  durationMs: number;
}

/** What a crew execution ended with: the engine's result, or a stand-in's (recorded outputs). */
export interface CrewResult {
  executionId: string;
  status: string;
  outputs?: unknown;
  steps: Record<string, { output?: unknown } | undefined>;
  error?: { code: string; message: string };
}

/**
 * Runs one crew's workflow for a slice instead of the engine, e.g. against the step outputs
 * recorded when the stream first ran (`stream replay --recorded-outputs`).
 */
export type CrewExecutor = (call: {
  crew: CompiledCrew;
  workflow: CompiledWorkflow;
  /** The slice the crew runs for. */
  slice: number;
  inputs: unknown;
  signal: AbortSignal;
}) => Promise<CrewResult>;

export interface SliceRunnerOptions {
  stream: CompiledStream;
  engine: Engine;
  /** The compiled workflow of each crew, by crew id. */
  workflows: ReadonlyMap<string, CompiledWorkflow>;
  clock: Clock;
  /** Prefix of the executions' idempotency keys: a re-run slice reuses its finished executions. */
  keyPrefix: string;
  /** Runs crews instead of the engine (default: each crew is an execution of `engine`). */
  executeCrew?: CrewExecutor;
}

interface CrewState {
  run: CrewRun;
  actions: StreamAction[];
  /** This crew or one it depends on failed with onError: skip-dependents. */
  blocks: boolean;
}

function crewError(
  stream: string,
  slice: number,
  crew: string,
  error: unknown,
  kind: StreamErrorRecord['kind'] = 'crew-failed',
): StreamErrorRecord {
  return { stream, kind, slice, crew, error: serializeError(error) };
}

export function createSliceRunner(options: SliceRunnerOptions) {
  const { stream, engine, workflows, clock, keyPrefix } = options;

  async function execute(crew: CompiledCrew, group: SliceGroup, inputs: unknown) {
    const workflow = workflows.get(crew.id)!;
    const abort = new AbortController();
    const overTime = () =>
      new TimeoutError(`crew "${crew.id}" ran longer than its timeout of ${crew.timeoutMs} ms`);
    let timer = clock.setTimeout(() => abort.abort(overTime()), crew.timeoutMs);
    try {
      let result: CrewResult;
      if (options.executeCrew)
        result = await options.executeCrew({
          crew,
          workflow,
          slice: group.index,
          inputs,
          signal: abort.signal,
        });
      else {
        let handle = await engine.start(workflow, {
          inputs,
          signal: abort.signal,
          idempotencyKey: `${keyPrefix}:${stream.id}:${group.index}:${crew.id}`,
        });
        // The slice was begun by a processor that died (durable store): its crew execution
        // was left running; resume it here rather than wait for a result that never comes.
        if (!handle.created) {
          timer.cancel();
          const left = await timeLeft(crew, handle.id);
          if (left !== undefined && left > 0) timer = clock.setTimeout(() => abort.abort(overTime()), left);
          else if (left !== undefined) {
            // Over its timeout already: a recorded cancel request halts it before any step runs.
            abort.abort(overTime());
            await engine.store.requestCancel(handle.id, overTime().message, clock.now());
          }
          const resumed = await engine.resume(handle.id);
          const stop = () => resumed.cancel((abort.signal.reason as Error).message);
          // The timeout may have passed while the execution was being loaded.
          if (abort.signal.aborted) stop();
          else abort.signal.addEventListener('abort', stop, { once: true });
          handle = resumed;
        }
        result = await handle.result;
      }
      const handle = { id: result.executionId };
      if (result.status !== 'completed') {
        const reason = abort.signal.aborted ? (abort.signal.reason as Error) : undefined;
        const err =
          reason ??
          new Orchestr8Error(
            result.error?.code ?? ErrorCode.AGENT_FAILED,
            result.error?.message ?? `crew execution ${result.status}`,
            { cause: result.error },
          );
        return { executionId: handle.id, error: err };
      }
      const output = crew.resultStep ? result.steps[crew.resultStep]?.output : result.outputs;
      return { executionId: handle.id, output };
    } finally {
      timer.cancel();
    }
  }

  /**
   * What is left of a crew's timeout for its execution a dead processor began: the timeout runs
   * from the execution's creation, not from its resumption (undefined: it has finished).
   */
  async function timeLeft(crew: CompiledCrew, executionId: string): Promise<number | undefined> {
    const record = await engine.store.getExecution(executionId);
    if (!record || TERMINAL_EXECUTION_STATUSES.has(record.status)) return undefined;
    return record.createdAt + crew.timeoutMs - clock.now();
  }

  /** The crew's result as actions and writes, or why it cannot be used. */
  function readOutput(crew: CompiledCrew, group: SliceGroup, output: unknown) {
    const o = (output ?? {}) as { actions?: unknown; context?: unknown };
    if (typeof o !== 'object' || Array.isArray(o))
      throw new Orchestr8Error(ErrorCode.VALIDATION, 'a crew result must be an object {actions?, context?}');
    const list = o.actions ?? [];
    if (!Array.isArray(list)) throw new Orchestr8Error(ErrorCode.VALIDATION, 'actions must be an array');
    if (list.length > stream.limits.maxActionsPerCrew)
      throw new Orchestr8Error(
        ErrorCode.LIMIT_EXCEEDED,
        `${list.length} actions; a crew may publish ${stream.limits.maxActionsPerCrew} per slice`,
      );
    const { end } = sliceBounds(group.index, stream);
    const actions = list.map((a, n): StreamAction => {
      const problem = checkActionOutput(a, `actions[${n}]`);
      if (problem) throw new Orchestr8Error(ErrorCode.VALIDATION, problem);
      const { kind, payload, ttlMs } = a as { kind: string; payload?: unknown; ttlMs?: number };
      const action: StreamAction = {
        id: `${stream.id}:${group.index}:${crew.id}:${n}`,
        ts: end,
        kind,
        stream: stream.id,
        payload: payload ?? null,
        ttlMs: ttlMs ?? stream.actionTtlMs,
        slice: group.index,
        crew: crew.id,
      };
      const bytes = jsonBytes(action);
      if (bytes > stream.limits.maxActionBytes)
        throw new Orchestr8Error(
          ErrorCode.LIMIT_EXCEEDED,
          `actions[${n}] is ${bytes} bytes; the limit is ${stream.limits.maxActionBytes}`,
        );
      return action;
    });
    let values: ContextValues = {};
    if (o.context !== undefined && o.context !== null) {
      const problem = checkContextWrite(o.context, stream.keyPolicies);
      if (problem) throw new Orchestr8Error(ErrorCode.VALIDATION, problem);
      values = o.context as ContextValues;
    }
    return { actions, values };
  }

  return async function runSlice(group: SliceGroup, context: ContextValues): Promise<SliceOutcome> {
    const began = clock.monotonic();
    const errors: StreamErrorRecord[] = [];
    const writes: ContextWrite[] = [];
    const states = new Map<string, Promise<CrewState>>();
    const { start, end } = sliceBounds(group.index, stream);
    const snapshot = structuredClone(context);
    for (const crew of stream.order) {
      const deps = crew.dependsOn.map((d) => states.get(d)!);
      states.set(
        crew.id,
        Promise.all(deps).then(async (before): Promise<CrewState> => {
          const events = group.events.filter((e) => crew.on.has(e.kind));
          const skipped = (blocks: boolean): CrewState => ({
            run: { crew: crew.id, status: 'skipped', durationMs: 0, actions: 0 },
            actions: [],
            blocks,
          });
          const blocked = before.some((s) => s.blocks);
          if (events.length === 0) return skipped(blocked);
          if (blocked) {
            errors.push(
              crewError(
                stream.id,
                group.index,
                crew.id,
                new Orchestr8Error(
                  ErrorCode.CANCELLED,
                  `skipped: a crew it depends on failed (onError: skip-dependents)`,
                ),
                'crew-skipped',
              ),
            );
            return skipped(true);
          }
          const t0 = clock.monotonic();
          const inputs = {
            stream: stream.id,
            slice: { index: group.index, start, end, slices: group.slices },
            events,
            context: snapshot,
            actions: before.flatMap((s) => s.actions),
          };
          let executionId: string | undefined;
          try {
            const r = await execute(crew, group, inputs);
            executionId = r.executionId;
            if ('error' in r) throw r.error;
            const { actions, values } = readOutput(crew, group, r.output);
            writes.push({ crew: crew.id, crewIndex: crew.index, ts: events[events.length - 1]!.ts, values });
            const run: CrewRun = {
              crew: crew.id,
              status: 'completed',
              durationMs: clock.monotonic() - t0,
              executionId,
              actions: actions.length,
            };
            return { run, actions, blocks: false };
          } catch (e) {
            errors.push(crewError(stream.id, group.index, crew.id, e));
            const run: CrewRun = {
              crew: crew.id,
              status: 'failed',
              durationMs: clock.monotonic() - t0,
              actions: 0,
              ...(executionId ? { executionId } : {}),
            };
            return { run, actions: [], blocks: crew.onError === 'skip-dependents' };
          }
        }),
      );
    }
    const done = new Map<string, CrewState>();
    for (const crew of stream.order) done.set(crew.id, await states.get(crew.id)!);
    let next = mergeWrites(context, writes, stream.keyPolicies);
    const bytes = jsonBytes(next);
    if (bytes > stream.limits.maxContextBytes) {
      errors.push({
        stream: stream.id,
        kind: 'context-too-large',
        slice: group.index,
        error: serializeError(
          new Orchestr8Error(
            ErrorCode.LIMIT_EXCEEDED,
            `the context would be ${bytes} bytes; the limit is ${stream.limits.maxContextBytes}: this slice's writes were dropped`,
          ),
        ),
      });
      next = context;
    }
    const inDocumentOrder = stream.crews.map((c) => done.get(c.id)!);
    // Errors in document order too, so a replay reports them identically.
    const rank = new Map(stream.crews.map((c) => [c.id, c.index]));
    errors.sort((a, b) => (rank.get(a.crew ?? '') ?? -1) - (rank.get(b.crew ?? '') ?? -1));
    return {
      stream: stream.id,
      index: group.index,
      slices: group.slices,
      eventIds: group.events.map((e) => e.id),
      actions: inDocumentOrder.flatMap((s) => s.actions),
      context: next,
      crews: inDocumentOrder.map((s) => s.run),
      errors,
      durationMs: clock.monotonic() - began,
    };
  };
}

export type SliceRunner = ReturnType<typeof createSliceRunner>;
