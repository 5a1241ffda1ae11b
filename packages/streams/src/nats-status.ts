/** What a stream looks like on NATS, for operators (`orchestr8 stream status`). */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import { type ProcessorView, viewHeartbeats } from './heartbeat.js';
import { CONTEXT_KEY, decoder, natsNames, readBeats, readContext } from './nats-kv.js';
import type { SliceRecord } from './transport.js';

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
