/**
 * Where events come from and where actions, slice records, errors and the context go.
 * The processor knows only this interface; memory and NATS JetStream implement it.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { ContextValues } from './context-merge.js';
import type { ProcessorHeartbeat } from './heartbeat.js';
import type { StreamAction } from './records.js';
import type { CrewRun, StreamErrorRecord } from './slice-runner.js';

/** What the processor decided for one processed slice: enough to replay it exactly. */
export interface SliceRecord {
  stream: string;
  index: number;
  /** The slices processed together (one, or several under backlog: merge). */
  slices: number[];
  /** Slices dropped before this one under backlog: latest. */
  skipped: number[];
  /** The events processed, in processing order. */
  eventIds: string[];
  actionIds: string[];
  crews: CrewRun[];
  durationMs: number;
}

/** The context as committed after a slice: `slice` is the last slice applied to it. */
export interface ContextState {
  slice: number;
  values: ContextValues;
}

export interface EventDelivery {
  /** The event as received (not yet validated). */
  event: unknown;
  /** Marks the event done: it is not delivered again, even after a restart. */
  ack(): void;
  /** Logged events not yet delivered after this one, when the transport knows. */
  pending?: number;
}

export interface Consumption {
  /**
   * Events already waiting when consumption began (never delivered, or delivered and not
   * acknowledged): until they have come, the processor closes slices by event time.
   */
  backlog: number;
  stop(): Promise<void>;
}

export interface StreamClaim {
  owner: string;
  until: number;
  now: number;
}

export interface SliceCommit {
  record: SliceRecord;
  actions: StreamAction[];
  context: ContextState;
  /** The context's revision this processor last took or committed (`takeContext`, `commit`). */
  revision: number;
}

/** The committed context as a new holder takes it over. */
export interface HeldContext {
  /** The last committed context (undefined: none yet). */
  state: ContextState | undefined;
  /** The revision a commit names: it is refused once another processor took the context over. */
  revision: number;
}

export interface StreamTransport {
  /** Appends an event to the stream's log (producers). */
  publishEvent(event: unknown): Promise<void>;
  /**
   * Delivers the logged events not yet acknowledged, in log order, then new ones as they
   * arrive. After a restart, what was delivered but not acknowledged comes again.
   */
  consume(handler: (delivery: EventDelivery) => void): Promise<Consumption>;
  /**
   * Publishes a slice's actions and record, then stores its context: a slice committed
   * twice (after a crash) publishes nothing twice. Conditional: when the context's revision
   * is no longer `commit.revision` (another processor took it over since), the context is
   * not written and the commit fails with `CONFLICT`, having published nothing (memory) or,
   * on NATS, nothing unless the takeover came while it was publishing. Returns the new revision.
   */
  commit(commit: SliceCommit): Promise<number>;
  publishError(error: StreamErrorRecord): Promise<void>;
  /** The last committed context, if any. */
  loadContext(): Promise<ContextState | undefined>;
  /**
   * The last committed context, written again under a new revision: every commit naming an
   * earlier revision (a processor that held the stream before) is refused from now on.
   * Fails with `CONFLICT` when another processor took it over at the same moment.
   */
  takeContext(): Promise<HeldContext>;
  /**
   * Claims the stream for `owner` until `until` (epoch ms): the claim's holder is the one
   * processor that takes events and commits slices. True when nobody holds it, `owner` does
   * (renewed; `until` 0 releases it), or the holder's claim ran out before `now`; false while
   * another owner's claim holds. Compare-and-set: of processors claiming at once, one wins.
   */
  claim(request: StreamClaim): Promise<boolean>;
  /**
   * How long a claim lasts by default (a processor's `claimMs` wins). NATS: the consumer's ack
   * wait, so a dead processor's stream and the events it held come back together.
   */
  readonly claimMs?: number;
  /** Calls `handler` with each action published from now on, unless its time to live ran out. */
  subscribeActions(handler: (action: StreamAction) => void): Promise<Consumption>;
  /** The logs, for replay. */
  readEvents(): Promise<unknown[]>;
  readActions(): Promise<StreamAction[]>;
  readSlices(): Promise<SliceRecord[]>;
  readErrors(): Promise<StreamErrorRecord[]>;
  /** Records a processor's heartbeat (the latest per processor is kept). */
  heartbeat(beat: ProcessorHeartbeat): Promise<void>;
  /** The latest heartbeat of every processor that wrote one. */
  readHeartbeats(): Promise<ProcessorHeartbeat[]>;
  close(): Promise<void>;
}

/** A commit refused because another processor took the stream (and its context) over. */
export function takenOver(slice: { stream: string; index: number }): Orchestr8Error {
  return new Orchestr8Error(
    ErrorCode.CONFLICT,
    `another processor took stream "${slice.stream}" over: slice ${slice.index} was not committed here`,
  );
}
