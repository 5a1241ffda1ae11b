/**
 * Stream processors hosted in a long-running process (`orchestr8 serve --stream`): one
 * processor per stream on its transport, the recent actions kept for resuming readers,
 * the ids of accepted events remembered so a producer's retry is not logged twice, and
 * metrics fed from each slice. The HTTP router (http-router.ts) is a view of this.
 */
import { type Clock, ErrorCode, Orchestr8Error, serializeError, systemClock } from '@orchestr8/common';
import type { Engine } from '@orchestr8/core';
import type { WorkflowResolver } from './crews.js';
import { type ProcessorView, viewHeartbeats } from './heartbeat.js';
import type { CompiledStream } from './load-stream.js';
import { createStreamProcessor, type StreamProcessor, type StreamStatus } from './processor.js';
import type { StreamAction } from './records.js';
import type { StreamErrorRecord } from './slice-runner.js';
import type { StreamMetrics } from './stream-metrics.js';
import type { Consumption, StreamTransport } from './transport.js';

export interface HostedStreamOptions {
  stream: CompiledStream;
  transport: StreamTransport;
  resolveWorkflow?: WorkflowResolver;
}

export interface StreamServiceOptions {
  engine: Engine;
  streams: readonly HostedStreamOptions[];
  clock?: Clock;
  /** Late events' grace after a slice ends (default 0 ms). */
  graceMs?: number;
  heartbeatMs?: number;
  processorId?: string;
  metrics?: StreamMetrics;
  onError?: (error: StreamErrorRecord) => void;
  /** Actions kept per stream for readers resuming with Last-Event-ID (default 10,000). */
  actionBuffer?: number;
  /** Event ids remembered per stream to refuse a repeated event (default 100,000). */
  rememberedIds?: number;
  /** How far ahead of the clock an event's `ts` may be; beyond it the event is refused (default 5 minutes). */
  maxFutureSkewMs?: number;
}

/** Default of `maxFutureSkewMs`: an event more than 5 minutes ahead of the clock is refused. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Publishing an event failed (the transport is down): the events from `failedAt` on were not logged. */
export class EventPublishError extends Error {
  constructor(
    readonly accepted: number,
    readonly duplicates: number,
    readonly failedAt: number,
    override readonly cause: unknown,
  ) {
    super(`the event log is unavailable: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'EventPublishError';
  }
}

/** One hosted stream. */
export interface HostedStream {
  readonly stream: CompiledStream;
  readonly transport: StreamTransport;
  readonly processor: StreamProcessor;
  /** How far ahead of the clock an event's `ts` may be. */
  readonly maxFutureSkewMs: number;
  /** The service clock's time. */
  now(): number;
  /**
   * Logs the events whose ids were not accepted before (here, or earlier in `events`);
   * returns how many were logged and how many were repeats. An id is remembered only once
   * its event is logged: when publishing fails this throws `EventPublishError` and a retry
   * of the events from the failed one on is taken, not counted as a duplicate.
   */
  accept(events: readonly { id: string }[]): Promise<{ accepted: number; duplicates: number }>;
  /**
   * Reports events left out for being late (their slices closed up to `closed`) to the error
   * sink, and counts them in the status and metrics.
   */
  refuseLate(ids: readonly string[], closed: number): void;
  /** Counts events refused as invalid before they were logged (in the status and metrics). */
  refuseInvalid(count: number): void;
  /** Actions published after the one with `lastId` still in the buffer and not expired. */
  actionsAfter(lastId: string | undefined): StreamAction[];
  /** Calls `fn` with every action published from now on; returns the unsubscribe. */
  onAction(fn: (action: StreamAction) => void): () => void;
  status(): Promise<StreamStatus & { processors: ProcessorView[] }>;
}

export interface StreamService {
  get(id: string): HostedStream | undefined;
  list(): HostedStream[];
  /** Starts every processor (resuming from each transport's committed context). */
  start(): Promise<void>;
  /** Stops the processors, ends the action readers, closes the transports. */
  stop(): Promise<void>;
  /** Called on stop: readers (SSE responses) register their `end` here. */
  readonly closing: Set<() => void>;
}

/** Insertion-ordered set with a cap: the oldest ids are forgotten first. */
class BoundedIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
  }
}

/** `<stream>:<slice>:<crew>:<n>` → slice, for resuming after an id no longer buffered. */
function sliceOfActionId(id: string): number | undefined {
  const parts = id.split(':');
  const n = Number(parts[parts.length - 3]);
  return parts.length >= 4 && Number.isSafeInteger(n) ? n : undefined;
}

export function createStreamService(options: StreamServiceOptions): StreamService {
  const clock = options.clock ?? systemClock;
  const bufferMax = options.actionBuffer ?? 10_000;
  const closing = new Set<() => void>();
  const subscriptions: Consumption[] = [];
  const hosted = new Map<string, HostedStream>();
  const starters: (() => Promise<void>)[] = [];

  for (const h of options.streams) {
    const { stream, transport } = h;
    if (hosted.has(stream.id)) throw new Error(`stream "${stream.id}" is hosted twice`);
    const processor = createStreamProcessor({
      stream,
      engine: options.engine,
      transport,
      clock,
      ...(h.resolveWorkflow ? { resolveWorkflow: h.resolveWorkflow } : {}),
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
      ...(options.processorId !== undefined ? { processorId: options.processorId } : {}),
      onSlice: (outcome, record) => options.metrics?.slice(stream.id, outcome, record),
      onError: (e) => {
        options.metrics?.error(e);
        options.onError?.(e);
      },
    });
    const buffer: StreamAction[] = [];
    const listeners = new Set<(a: StreamAction) => void>();
    const seen = new BoundedIds(options.rememberedIds ?? 100_000);
    starters.push(async () => {
      subscriptions.push(
        await transport.subscribeActions((a) => {
          buffer.push(a);
          if (buffer.length > bufferMax) buffer.splice(0, buffer.length - bufferMax);
          for (const l of listeners) l(a);
        }),
      );
      await processor.start();
    });
    options.metrics?.track(stream.id, processor);
    hosted.set(stream.id, {
      stream,
      transport,
      processor,
      maxFutureSkewMs: options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
      now: () => clock.now(),
      async accept(events) {
        let accepted = 0;
        let duplicates = 0;
        // Ids of this request: a repeat inside it is a duplicate even before it is logged.
        const inRequest = new Set<string>();
        for (const [i, e] of events.entries()) {
          if (seen.has(e.id) || inRequest.has(e.id)) {
            duplicates++;
            continue;
          }
          inRequest.add(e.id);
          try {
            await transport.publishEvent(e);
          } catch (cause) {
            throw new EventPublishError(accepted, duplicates, i, cause);
          }
          // Remembered only once logged, so a producer's retry after a failure is taken.
          seen.add(e.id);
          accepted++;
        }
        return { accepted, duplicates };
      },
      refuseInvalid(count) {
        processor.countRefused('invalid-event', count);
        for (let i = 0; i < count; i++)
          options.metrics?.error({
            stream: stream.id,
            kind: 'invalid-event',
            error: serializeError(new Orchestr8Error(ErrorCode.VALIDATION, 'event refused over HTTP')),
          });
      },
      refuseLate(ids, closed) {
        processor.countRefused('late-event', ids.length);
        for (const id of ids) {
          const e: StreamErrorRecord = {
            stream: stream.id,
            kind: 'late-event',
            eventId: id,
            error: serializeError(
              new Orchestr8Error(
                ErrorCode.VALIDATION,
                `event arrived over HTTP after its slice was closed (closed up to slice ${closed})`,
              ),
            ),
          };
          options.metrics?.error(e);
          options.onError?.(e);
          transport.publishError(e).catch(() => {});
        }
      },
      actionsAfter(lastId) {
        const now = clock.now();
        const live = (a: StreamAction) => now < a.ts + a.ttlMs;
        if (lastId === undefined) return [];
        const at = buffer.findIndex((a) => a.id === lastId);
        if (at >= 0) return buffer.slice(at + 1).filter(live);
        const slice = sliceOfActionId(lastId);
        return slice === undefined ? [] : buffer.filter((a) => a.slice > slice && live(a));
      },
      onAction(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      async status() {
        return {
          ...processor.status(),
          processors: viewHeartbeats(await transport.readHeartbeats(), clock.now()),
        };
      },
    });
  }

  return {
    closing,
    get: (id) => hosted.get(id),
    list: () => [...hosted.values()],
    async start() {
      for (const start of starters) await start();
    },
    async stop() {
      for (const end of [...closing]) end();
      closing.clear();
      for (const h of hosted.values()) await h.processor.stop();
      for (const s of subscriptions.splice(0)) await s.stop();
      for (const h of hosted.values()) await h.transport.close();
    },
  };
}
