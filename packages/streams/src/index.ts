/**
 * @module @orchestr8/streams
 * Event streams processed in time slices by cooperating crews: events are binned into
 * slices by their timestamps; in each slice the crews subscribed to its event kinds run
 * on the engine, in dependency order, reading one shared context whose writes are merged
 * at the slice's end; their outputs are actions with a time to live. Transports: memory
 * and NATS JetStream (KV for the context), HTTP in a server (`createStreamService`,
 * `createStreamRouter`). A recorded stream replays to the same actions.
 *
 * @example
 * import { createEngine } from '@orchestr8/core';
 * import { createMemoryTransport, createStreamProcessor, loadStreamFile } from '@orchestr8/streams';
 * const { stream } = await loadStreamFile('match.stream.yaml');
 * const transport = createMemoryTransport();
 * const processor = createStreamProcessor({ stream: stream!, engine, transport });
 * await processor.start();
 * await transport.publishEvent({ id: 'e1', ts: Date.now(), kind: 'goal', stream: 'match', payload: {} });
 */

export {
  type ContextValues,
  type ContextWrite,
  checkContextWrite,
  mergeWrites,
  policyOf,
} from './context-merge.js';
export { compileCrews, type WorkflowResolver } from './crews.js';
export {
  DEFAULT_HEARTBEAT_MS,
  defaultProcessorId,
  type ProcessorHeartbeat,
  type ProcessorView,
  STALE_INTERVALS,
  viewHeartbeats,
} from './heartbeat.js';
export { createStreamRouter, type StreamRouterOptions } from './http-router.js';
export {
  type CompiledCrew,
  type CompiledStream,
  DEFAULT_CREW_TIMEOUT_MS,
  DEFAULT_LIMITS,
  loadStream,
  loadStreamFile,
  StreamDiagnosticCode,
  type StreamLimits,
  type StreamLoadOptions,
  type StreamLoadResult,
  validateStreamObject,
} from './load-stream.js';
export { createMemoryTransport, type MemoryTransport } from './memory-transport.js';
export { natsNames } from './nats-kv.js';
export { type NatsStreamStatus, natsStreamStatus } from './nats-status.js';
export { createNatsTransport, type NatsTransportOptions } from './nats-transport.js';
export {
  createStreamProcessor,
  type StreamProcessor,
  type StreamProcessorOptions,
  type StreamStatus,
} from './processor.js';
export {
  checkEvent,
  compareEvents,
  type EventProblem,
  isExpired,
  jsonBytes,
  type StreamAction,
  type StreamEvent,
  sliceBounds,
  sliceIndex,
} from './records.js';
export {
  type BatchOptions,
  type BatchResult,
  type ReplayMismatch,
  type ReplayOptions,
  type ReplayReport,
  replayStream,
  runEvents,
} from './replay.js';
export {
  type CrewExecutor,
  type CrewResult,
  type CrewRun,
  createSliceRunner,
  type SliceGroup,
  type SliceOutcome,
  type SliceRunner,
  type StreamErrorRecord,
} from './slice-runner.js';
export { createStreamMetrics, type StreamMetrics } from './stream-metrics.js';
export {
  type BacklogPolicy,
  type CrewDocument,
  type CrewErrorPolicy,
  KIND_PATTERN,
  type MergePolicy,
  STREAM_ID_PATTERN,
  STREAM_JSON_SCHEMA,
  STREAM_SCHEMA_ID,
  type StreamDocument,
} from './stream-schema.js';
export {
  createStreamService,
  DEFAULT_MAX_FUTURE_SKEW_MS,
  EventPublishError,
  type HostedStream,
  type HostedStreamOptions,
  type StreamService,
  type StreamServiceOptions,
} from './stream-service.js';
export type {
  Consumption,
  ContextState,
  EventDelivery,
  HeldContext,
  SliceCommit,
  SliceRecord,
  StreamClaim,
  StreamTransport,
} from './transport.js';
