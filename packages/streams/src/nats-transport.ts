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
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import { type Clock, ErrorCode, Orchestr8Error, serializeError, systemClock } from '@orchestr8/common';
import type { ExtendedConsumption, ExtendedDelivery } from './delivery-extras.js';
import {
  CONTEXT_KEY,
  claimIn,
  decoder,
  encoder,
  heartbeatKey,
  lostRace,
  NO_CONTEXT,
  nats,
  natsFailure,
  natsNames,
  quietly,
  readBeats,
  readContext,
} from './nats-kv.js';
import { isExpired, type StreamAction } from './records.js';
import type { StreamErrorRecord } from './slice-runner.js';
import { type Consumption, type SliceRecord, type StreamTransport, takenOver } from './transport.js';

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
  /**
   * Told of the transport's own failures that no caller awaits: a consumption of events or
   * actions that failed (it is started again) or an event its handler threw on (acknowledged,
   * and sent to the error sink). Default: a process warning (`process.emitWarning`).
   */
  onError?: (error: Orchestr8Error) => void;
}

/** How long a consumption that failed waits before it is started again (doubling to 30 s). */
const RECONSUME_MS = 1000;
/**
 * After the ack wait, how long a takeover still waits for the events a dead processor held
 * (they are delivered again once their ack wait ran out, on the server's timer).
 */
const REDELIVERY_MARGIN_MS = 2000;

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
  /** The consumptions not stopped, each by its current messages (replaced when it is started again). */
  const running = new Set<{ messages: ConsumerMessages }>();
  let closed = false;
  const warn =
    options.onError ??
    ((e: Orchestr8Error) => process.emitWarning(e.message, { type: 'Orchestr8StreamWarning', code: e.code }));

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

  type Message = ConsumerMessages extends AsyncIterable<infer M> ? M : never;

  /**
   * Feeds each message to `each`, one failing message at a time: a message `each` throws on is
   * given to `failed` and the loop goes on. A loop that ends without `stop` (the consumer
   * failed, the connection closed) is reported and started again with fresh `messages`.
   */
  function pump(
    what: string,
    start: () => Promise<ConsumerMessages>,
    messages: ConsumerMessages,
    each: (m: Message) => void,
    failed: (m: Message, error: unknown) => void,
  ): { stop(): Promise<void> } {
    const current = { messages };
    let stopped = false;
    let delay = RECONSUME_MS;
    running.add(current);
    const loop = async (): Promise<void> => {
      for await (const m of current.messages) {
        delay = RECONSUME_MS;
        try {
          each(m);
        } catch (e) {
          failed(m, e);
        }
      }
    };
    const again = (error: unknown): void => {
      if (stopped || closed) return;
      const why = error === undefined ? '' : `: ${(error as Error)?.message ?? String(error)}`;
      if (nc.isClosed()) {
        // Nothing to consume from again: said once; the claim and heartbeats fail from now on too.
        warn(new Orchestr8Error(ErrorCode.NETWORK, `NATS: ${what} stopped, the connection is closed${why}`));
        return;
      }
      const e = new Orchestr8Error(
        ErrorCode.NETWORK,
        `NATS: ${what} stopped${why}; consuming again in ${delay} ms`,
        error === undefined ? {} : { cause: error },
      );
      warn(e);
      publishErrorRecord({ stream: options.streamId, kind: 'commit-failed', error: serializeError(e) });
      const wait = delay;
      delay = Math.min(30_000, delay * 2);
      const retry = setTimeout(() => {
        if (stopped || closed) return;
        start().then(
          (next) => {
            if (stopped || closed) {
              void next.close().catch(() => {});
              return;
            }
            current.messages = next;
            loop().then(() => again(undefined), again);
          },
          (e) => again(e),
        );
      }, wait);
      retry.unref();
    };
    loop().then(() => again(undefined), again);
    return {
      stop: async () => {
        stopped = true;
        running.delete(current);
        await current.messages.close().catch(() => {});
      },
    };
  }

  /** Sends an error record to the sink, best effort (the sink may be what is down). */
  function publishErrorRecord(error: StreamErrorRecord): void {
    js.publish(names.errors.subject, encoder.encode(JSON.stringify(error))).catch(() => {});
  }

  return {
    async publishEvent(event) {
      const id = (event as { id?: unknown } | null)?.id;
      await nats(`publishing event ${typeof id === 'string' ? `"${id}"` : ''}`.trimEnd(), () =>
        js.publish(
          names.events.subject,
          encoder.encode(JSON.stringify(event)),
          typeof id === 'string' ? { msgID: id } : {},
        ),
      );
    },
    async consume(handler) {
      const consumer = await nats('opening the event consumer', () =>
        js.consumers.get(names.events.stream, durable),
      );
      const info = await nats('reading the event consumer', () => consumer.info());
      // What waits: events never delivered (up to the stream's last one now), and events
      // delivered and not acknowledged, held by a processor that died: NATS delivers those
      // again only when their ack wait runs out, while new events keep coming.
      const lastSeq =
        info.num_pending === 0
          ? 0
          : (await nats('reading the event stream', () => jsm.streams.info(names.events.stream))).state
              .last_seq;
      const heldElsewhere = info.num_ack_pending;
      const start = () => consumer.consume({ max_messages: 1000 });
      const messages = await nats('consuming events', start);
      // Events wait unacknowledged until their slice commits: tell the server they are being
      // worked on, so it does not deliver them again while this processor lives.
      const held = new Set<Message>();
      const ackWaitMs = (info.config.ack_wait ?? 30e9) / 1e6;
      const keepAlive = setInterval(
        () => {
          for (const m of held) quietly(() => m.working());
        },
        Math.max(100, ackWaitMs / 3),
      );
      keepAlive.unref();
      let readToLast = lastSeq === 0;
      let redelivered = 0;
      let caughtUp: () => void = () => {};
      const settled = new Promise<void>((resolve) => {
        caughtUp = resolve;
      });
      // Held events that never come back (acknowledged after all, by a processor that was
      // dying as this one looked) stop waiting once they would have come.
      let gaveUp = false;
      const deadline = setTimeout(() => {
        gaveUp = true;
        check();
      }, ackWaitMs + REDELIVERY_MARGIN_MS);
      deadline.unref();
      // Or the consumer says so: no event is waiting for its acknowledgement but those this one holds.
      let othersHoldNone = false;
      const poll = setInterval(
        () => {
          consumer.info().then(
            (now) => {
              const mine = new Set([...held].map((m) => m.info.streamSequence)).size;
              if (now.num_ack_pending <= mine) othersHoldNone = true;
              check();
            },
            () => {},
          );
        },
        Math.max(200, Math.min(1000, ackWaitMs / 5)),
      );
      poll.unref();
      let settledYet = false;
      function check(): void {
        if (settledYet || !readToLast || !(gaveUp || othersHoldNone || redelivered >= heldElsewhere)) return;
        settledYet = true;
        clearTimeout(deadline);
        clearInterval(poll);
        caughtUp();
      }
      check();
      // An acknowledgement that cannot be sent (the connection closed) is not the caller's
      // failure: the event comes again after the ack wait, and is known as a redelivery.
      const ack = (m: Message) => {
        held.delete(m);
        quietly(() => m.ack());
      };
      const c = pump(
        'the event consumer',
        start,
        messages,
        (m) => {
          held.add(m);
          if (m.info.streamSequence >= lastSeq || m.info.pending === 0) readToLast = true;
          if (m.info.redelivered) redelivered++;
          const delivery: ExtendedDelivery = {
            event: parse(m.data),
            ack: () => ack(m),
            pending: m.info.pending,
            bytes: m.data.length,
          };
          try {
            handler(delivery);
          } finally {
            check();
          }
        },
        (m, e) => {
          // The handler failed on this event: refused, so that it does not stall the stream.
          const error = new Orchestr8Error(
            ErrorCode.VALIDATION,
            `event at stream sequence ${m.info.streamSequence} could not be handled: ${(e as Error)?.message ?? String(e)}`,
            { cause: e },
          );
          warn(error);
          publishErrorRecord({
            stream: options.streamId,
            kind: 'invalid-event',
            error: serializeError(error),
          });
          ack(m);
        },
      );
      const consumption: ExtendedConsumption = {
        backlog: info.num_pending + info.num_ack_pending,
        caughtUp: settled,
        stop: async () => {
          clearInterval(keepAlive);
          clearTimeout(deadline);
          clearInterval(poll);
          // Pull no more first: a message handed back while this consumption still pulls may
          // be delivered to it again, and wait out the ack wait.
          await c.stop();
          // What was taken and not committed goes back at once, not after the ack wait: to
          // the processor that takes the stream over (or this one's next consumption).
          for (const m of held) quietly(() => m.nak());
          held.clear();
        },
      };
      return consumption;
    },
    async commit({ record, actions, context, revision }) {
      const slice = `slice ${record.index}`;
      // Another processor took the stream over: publish nothing (its commits would be
      // refused below, but its actions would be out).
      const entry = await nats(`reading the context to commit ${slice}`, () => kv.get(CONTEXT_KEY));
      if (entry?.revision !== revision) throw takenOver(record);
      await nats(`publishing the actions of ${slice}`, () =>
        Promise.all(
          actions.map((a) =>
            js.publish(names.actions.subject, encoder.encode(JSON.stringify(a)), { msgID: a.id }),
          ),
        ),
      );
      await nats(`publishing the record of ${slice}`, () =>
        js.publish(names.slices.subject, encoder.encode(JSON.stringify(record)), {
          msgID: `slice:${record.index}`,
        }),
      );
      try {
        return await kv.update(CONTEXT_KEY, encoder.encode(JSON.stringify(context)), revision);
      } catch (e) {
        if (lostRace(e)) throw takenOver(record);
        throw natsFailure(`writing the context of ${slice}`, e);
      }
    },
    async publishError(error) {
      await nats('publishing an error record', () =>
        js.publish(names.errors.subject, encoder.encode(JSON.stringify(error))),
      );
    },
    async loadContext() {
      return readContext(await nats('reading the context', () => kv.get(CONTEXT_KEY)));
    },
    async takeContext() {
      const entry = await nats('reading the context', () => kv.get(CONTEXT_KEY));
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
        throw natsFailure('taking the context over', e);
      }
    },
    claim: (request) => nats('claiming the stream', () => claimIn(kv, request)),
    claimMs: Math.max(3, Math.round(ackWaitNanos / 1e6)),
    async subscribeActions(handler) {
      const consumer = await nats('opening an action consumer', () =>
        js.consumers.get(names.actions.stream, { deliver_policy: DeliverPolicy.New }),
      );
      const start = () => consumer.consume();
      const messages = await nats('consuming actions', start);
      const c = pump(
        'an action consumer',
        start,
        messages,
        (m) => {
          const action = parse(m.data) as StreamAction;
          if (!isExpired(action, clock.now())) handler(action);
        },
        // A subscriber that throws misses that action, not the ones after it.
        (_m, e) =>
          warn(
            new Orchestr8Error(
              ErrorCode.INTERNAL,
              `an action subscriber of stream "${options.streamId}" failed: ${(e as Error)?.message ?? String(e)}`,
              { cause: e },
            ),
          ),
      );
      const consumption: Consumption = { backlog: 0, stop: c.stop };
      return consumption;
    },
    readEvents: () => readAll<unknown>(names.events),
    readActions: () => readAll<StreamAction>(names.actions),
    readSlices: () => readAll<SliceRecord>(names.slices),
    readErrors: () => readAll<StreamErrorRecord>(names.errors),
    async heartbeat(beat) {
      await nats('writing a heartbeat', () =>
        kv.put(heartbeatKey(beat.processor), encoder.encode(JSON.stringify(beat))),
      );
    },
    readHeartbeats: () => readBeats(kv),
    async close() {
      closed = true;
      for (const c of [...running]) await c.messages.close().catch(() => {});
      running.clear();
      if (owns) await nc.drain().catch(() => nc.close());
    },
  };
}
