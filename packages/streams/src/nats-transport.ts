/**
 * NATS JetStream: events, actions, slice records and errors each on a JetStream stream
 * of their own; the context in a JetStream KV bucket; a durable consumer, acknowledged
 * only after a slice is committed, so a restarted processor resumes where the last one
 * left off. Actions and slice records carry message ids, so a slice committed again after
 * a crash publishes nothing twice (within JetStream's duplicate window).
 */

import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import { type ProcessorHeartbeat, type ProcessorView, viewHeartbeats } from './heartbeat.js';
import { isExpired, type StreamAction } from './records.js';
import type { StreamErrorRecord } from './slice-runner.js';
import {
  type Consumption,
  type ContextState,
  type EventDelivery,
  type SliceRecord,
  type StreamClaim,
  type StreamTransport,
  takenOver,
} from './transport.js';

export interface NatsTransportOptions {
  /** The stream id (names the JetStream streams, subjects and KV bucket). */
  streamId: string;
  /** Server URL(s), e.g. "nats://127.0.0.1:4222"; or pass `connection`. */
  servers?: string | string[];
  /** An open connection to use (left open by `close`). */
  connection?: NatsConnection;
  /** The durable consumer's name (default "processor"). */
  consumer?: string;
  /**
   * How long a delivered event may stay unacknowledged before it is delivered again (default
   * 30 s): longer than a slice takes to close and commit; after a crash, what the dead
   * processor held comes back after this long.
   */
  ackWaitMs?: number;
  clock?: Clock;
}

/** Subjects and names a stream uses on NATS. */
export function natsNames(streamId: string) {
  const base = `o8s_${streamId}`;
  return {
    events: { stream: `${base}_events`, subject: `o8s.${streamId}.events` },
    actions: { stream: `${base}_actions`, subject: `o8s.${streamId}.actions` },
    slices: { stream: `${base}_slices`, subject: `o8s.${streamId}.slices` },
    errors: { stream: `${base}_errors`, subject: `o8s.${streamId}.errors` },
    bucket: base,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONTEXT_KEY = 'context';
const CLAIM_KEY = 'claim';
/** Stored as the context by a processor that takes a stream over before any slice was committed. */
const NO_CONTEXT: ContextState = { slice: -1, values: {} };
const HEARTBEAT_PREFIX = 'heartbeat.';
/** A processor id as a KV key token (keys allow letters, digits, "-", "_", "=", "/"). */
const heartbeatKey = (processor: string) =>
  `${HEARTBEAT_PREFIX}${Buffer.from(processor).toString('base64url')}`;

/** Another writer changed the key since it was read (a compare-and-set lost). */
function lostRace(e: unknown): boolean {
  return (
    e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
      e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * The stream's claim in its KV bucket, set by revision: of two claimants, one write wins.
 * A write lost to a concurrent one is read again: lost to the same owner (two renewals at
 * once), the claim is still this owner's.
 */
async function claimIn(kv: KV, { owner, until, now }: StreamClaim): Promise<boolean> {
  const value = encoder.encode(JSON.stringify({ owner, until }));
  const entry = await kv.get(CLAIM_KEY);
  try {
    if (entry?.operation !== 'PUT' || entry.length === 0) await kv.create(CLAIM_KEY, value);
    else {
      const held = entry.json<{ owner: string; until: number }>();
      if (held.owner !== owner && held.until > now) return false;
      await kv.update(CLAIM_KEY, value, entry.revision);
    }
    return true;
  } catch (e) {
    if (!lostRace(e)) throw e;
    const entry = await kv.get(CLAIM_KEY);
    if (entry?.operation !== 'PUT' || entry.length === 0) return false;
    const held = entry.json<{ owner: string; until: number }>();
    // Lost to this owner's own write with the same effect (held, or released): done.
    return held.owner === owner && held.until > now === until > now;
  }
}

/** The committed context in a KV entry (none: no entry, or a takeover's marker before any commit). */
function readContext(entry: KvEntry | null): ContextState | undefined {
  if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
  const state = entry.json<ContextState>();
  return state.slice < 0 ? undefined : state;
}

async function readBeats(kv: KV): Promise<ProcessorHeartbeat[]> {
  const beats: ProcessorHeartbeat[] = [];
  for await (const key of await kv.keys(`${HEARTBEAT_PREFIX}>`)) {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT' && entry.length > 0) beats.push(entry.json<ProcessorHeartbeat>());
  }
  return beats;
}

export async function createNatsTransport(options: NatsTransportOptions): Promise<StreamTransport> {
  const clock = options.clock ?? systemClock;
  const names = natsNames(options.streamId);
  const durable = options.consumer ?? 'processor';
  let nc: NatsConnection;
  try {
    nc = options.connection ?? (await connect({ servers: options.servers ?? '127.0.0.1:4222' }));
  } catch (e) {
    throw new Orchestr8Error(
      ErrorCode.NETWORK,
      `cannot connect to NATS at ${String(options.servers)}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const owns = options.connection === undefined;
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (e) {
    if (owns) await nc.close();
    throw new Orchestr8Error(
      ErrorCode.NETWORK,
      `NATS at ${String(options.servers)} has no JetStream (start nats-server with -js)`,
      { cause: e },
    );
  }
  const js: JetStreamClient = jetstream(nc);
  for (const s of [names.events, names.actions, names.slices, names.errors]) {
    try {
      await jsm.streams.info(s.stream);
    } catch {
      await jsm.streams.add({ name: s.stream, subjects: [s.subject] });
    }
  }
  let ackWaitNanos: number;
  try {
    ackWaitNanos = (await jsm.consumers.info(names.events.stream, durable)).config.ack_wait ?? 30e9;
  } catch {
    ackWaitNanos = nanos(options.ackWaitMs ?? 30_000);
    await jsm.consumers.add(names.events.stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWaitNanos,
      // Events stay unacknowledged until their slice commits: never stall on a busy slice.
      max_ack_pending: 1_000_000,
      deliver_policy: DeliverPolicy.All,
    });
  }
  const kv: KV = await new Kvm(js).create(names.bucket, { history: 1 });
  const running = new Set<ConsumerMessages>();

  async function readAll<T>(s: { stream: string }): Promise<T[]> {
    const count = (await jsm.streams.info(s.stream)).state.messages;
    if (count === 0) return [];
    const consumer = await js.consumers.get(s.stream);
    const out: T[] = [];
    const messages = await consumer.consume();
    for await (const m of messages) {
      out.push(parse(m.data) as T);
      if (m.info.pending === 0) break;
    }
    await messages.close();
    return out;
  }

  function parse(data: Uint8Array): unknown {
    const text = decoder.decode(data);
    try {
      return JSON.parse(text);
    } catch {
      return text; // refused as an event by the processor, with the reason
    }
  }

  function pump(
    messages: ConsumerMessages,
    each: (m: {
      data: Uint8Array;
      ack(): void;
      nak(): void;
      working(): void;
      info: { pending: number };
    }) => void,
    backlog = 0,
  ) {
    running.add(messages);
    void (async () => {
      for await (const m of messages) each(m);
    })().catch(() => {});
    const c: Consumption = {
      backlog,
      stop: async () => {
        running.delete(messages);
        await messages.close().catch(() => {});
      },
    };
    return c;
  }

  return {
    async publishEvent(event) {
      const id = (event as { id?: unknown } | null)?.id;
      await js.publish(
        names.events.subject,
        encoder.encode(JSON.stringify(event)),
        typeof id === 'string' ? { msgID: id } : {},
      );
    },
    async consume(handler) {
      const consumer = await js.consumers.get(names.events.stream, durable);
      const info = await consumer.info();
      const messages = await consumer.consume({ max_messages: 1000 });
      // Events wait unacknowledged until their slice commits: tell the server they are being
      // worked on, so it does not deliver them again while this processor lives.
      const held = new Set<{ working(): void; nak(): void }>();
      const ackWaitMs = (info.config.ack_wait ?? 30e9) / 1e6;
      const keepAlive = setInterval(
        () => {
          for (const m of held) m.working();
        },
        Math.max(100, ackWaitMs / 3),
      );
      keepAlive.unref();
      const c = pump(
        messages,
        (m) => {
          held.add(m);
          const delivery: EventDelivery = {
            event: parse(m.data),
            ack: () => {
              held.delete(m);
              m.ack();
            },
            pending: m.info.pending,
          };
          handler(delivery);
        },
        info.num_pending + info.num_ack_pending,
      );
      return {
        backlog: c.backlog,
        stop: async () => {
          clearInterval(keepAlive);
          // What was taken and not committed goes back at once, not after the ack wait: to
          // the processor that takes the stream over (or this one's next consumption).
          for (const m of held) m.nak();
          held.clear();
          await c.stop();
        },
      };
    },
    async commit({ record, actions, context, revision }) {
      // Another processor took the stream over: publish nothing (its commits would be
      // refused below, but its actions would be out).
      if ((await kv.get(CONTEXT_KEY))?.revision !== revision) throw takenOver(record);
      await Promise.all(
        actions.map((a) =>
          js.publish(names.actions.subject, encoder.encode(JSON.stringify(a)), { msgID: a.id }),
        ),
      );
      await js.publish(names.slices.subject, encoder.encode(JSON.stringify(record)), {
        msgID: `slice:${record.index}`,
      });
      try {
        return await kv.update(CONTEXT_KEY, encoder.encode(JSON.stringify(context)), revision);
      } catch (e) {
        if (lostRace(e)) throw takenOver(record);
        throw e;
      }
    },
    async publishError(error) {
      await js.publish(names.errors.subject, encoder.encode(JSON.stringify(error)));
    },
    async loadContext() {
      return readContext(await kv.get(CONTEXT_KEY));
    },
    async takeContext() {
      const entry = await kv.get(CONTEXT_KEY);
      const state = readContext(entry);
      const value = encoder.encode(JSON.stringify(state ?? NO_CONTEXT));
      try {
        const revision =
          entry?.operation === 'PUT' && entry.length > 0
            ? await kv.update(CONTEXT_KEY, value, entry.revision)
            : await kv.create(CONTEXT_KEY, value);
        return { state, revision };
      } catch (e) {
        if (lostRace(e))
          throw new Orchestr8Error(
            ErrorCode.CONFLICT,
            `another processor took stream "${options.streamId}" over at the same moment`,
          );
        throw e;
      }
    },
    claim: (request) => claimIn(kv, request),
    claimMs: Math.max(3, Math.round(ackWaitNanos / 1e6)),
    async subscribeActions(handler) {
      const consumer = await js.consumers.get(names.actions.stream, { deliver_policy: DeliverPolicy.New });
      const messages = await consumer.consume();
      return pump(messages, (m) => {
        const action = parse(m.data) as StreamAction;
        if (!isExpired(action, clock.now())) handler(action);
      });
    },
    readEvents: () => readAll<unknown>(names.events),
    readActions: () => readAll<StreamAction>(names.actions),
    readSlices: () => readAll<SliceRecord>(names.slices),
    readErrors: () => readAll<StreamErrorRecord>(names.errors),
    async heartbeat(beat) {
      await kv.put(heartbeatKey(beat.processor), encoder.encode(JSON.stringify(beat)));
    },
    readHeartbeats: () => readBeats(kv),
    async close() {
      for (const m of [...running]) await m.close().catch(() => {});
      running.clear();
      if (owns) await nc.drain().catch(() => nc.close());
    },
  };
}

export interface NatsStreamStatus {
  stream: string;
  /** The last slice applied to the context (-1: none). */
  committedSlice: number;
  /** How far the end of the last committed slice is behind the clock, in ms. */
  lagMs: number;
  /** Events in the log not yet acknowledged by the processor's durable consumer. */
  backlog: number;
  events: number;
  actions: number;
  errors: number;
  /** Per crew, over the last `recent` slice records: runs, failures, median and last duration. */
  crews: Record<string, { runs: number; failures: number; medianMs: number; lastMs: number }>;
  recent: number;
  /** Every processor that wrote a heartbeat, newest first; `stale` when it went silent. */
  processors: ProcessorView[];
}

/**
 * What a stream looks like on NATS, for operators: the committed slice and its lag, the
 * consumer's backlog, and per-crew timings from the latest slice records.
 */
export async function natsStreamStatus(options: {
  stream: { id: string; epochMs: number; sliceMs: number };
  servers: string | string[];
  consumer?: string;
  clock?: Clock;
  /** How many of the latest slice records to read (default 100). */
  recent?: number;
}): Promise<NatsStreamStatus> {
  const clock = options.clock ?? systemClock;
  const names = natsNames(options.stream.id);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: options.servers });
  } catch (e) {
    throw new Orchestr8Error(
      ErrorCode.NETWORK,
      `cannot connect to NATS at ${String(options.servers)}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const count = async (name: string) => {
      try {
        return (await jsm.streams.info(name)).state;
      } catch {
        throw new Orchestr8Error(
          ErrorCode.NOT_FOUND,
          `stream "${options.stream.id}" has no ${name} on NATS: has it run there?`,
        );
      }
    };
    const [events, actions, errors, slices] = await Promise.all([
      count(names.events.stream),
      count(names.actions.stream),
      count(names.errors.stream),
      count(names.slices.stream),
    ]);
    let backlog = events.messages;
    try {
      const c = await jsm.consumers.info(names.events.stream, options.consumer ?? 'processor');
      backlog = c.num_pending + c.num_ack_pending;
    } catch {
      // no processor has started yet: everything is waiting
    }
    const kv = await new Kvm(js).open(names.bucket);
    const entry = await kv.get(CONTEXT_KEY);
    const committed = readContext(entry)?.slice ?? -1;
    const recent = options.recent ?? 100;
    const records: SliceRecord[] = [];
    if (slices.messages > 0) {
      const consumer = await js.consumers.get(names.slices.stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(slices.first_seq, slices.last_seq - recent + 1),
      });
      const messages = await consumer.consume();
      for await (const m of messages) {
        records.push(JSON.parse(decoder.decode(m.data)) as SliceRecord);
        if (m.info.pending === 0) break;
      }
      await messages.close();
    }
    const crews: NatsStreamStatus['crews'] = {};
    const durations = new Map<string, number[]>();
    for (const r of records)
      for (const run of r.crews) {
        if (run.status === 'skipped') continue;
        crews[run.crew] ??= { runs: 0, failures: 0, medianMs: 0, lastMs: 0 };
        const c = crews[run.crew]!;
        c.runs++;
        if (run.status === 'failed') c.failures++;
        c.lastMs = run.durationMs;
        durations.set(run.crew, [...(durations.get(run.crew) ?? []), run.durationMs]);
      }
    for (const [id, list] of durations) {
      const sorted = list.sort((a, b) => a - b);
      crews[id]!.medianMs = sorted[Math.floor(sorted.length / 2)]!;
    }
    const end = options.stream.epochMs + (committed + 1) * options.stream.sliceMs;
    return {
      stream: options.stream.id,
      committedSlice: committed,
      lagMs: committed < 0 ? 0 : Math.max(0, clock.now() - end),
      backlog,
      events: events.messages,
      actions: actions.messages,
      errors: errors.messages,
      crews,
      recent: records.length,
      processors: viewHeartbeats(await readBeats(kv), clock.now()),
    };
  } finally {
    await nc.close();
  }
}
