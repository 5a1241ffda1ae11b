/** An in-process transport: logs in arrays. For tests, embedding and `stream run` on files. */
import { type Clock, systemClock } from '@orchestr8/common';
import type { ProcessorHeartbeat } from './heartbeat.js';
import { isExpired, type StreamAction } from './records.js';
import type { StreamErrorRecord } from './slice-runner.js';
import {
  type Consumption,
  type ContextState,
  type EventDelivery,
  type SliceRecord,
  type StreamTransport,
  takenOver,
} from './transport.js';

export interface MemoryTransport extends StreamTransport {
  /** The log positions of the acknowledged events (what a restarted processor will not see again). */
  readonly acked: ReadonlySet<number>;
}

export function createMemoryTransport(options: { clock?: Clock } = {}): MemoryTransport {
  const clock = options.clock ?? systemClock;
  const events: unknown[] = [];
  const acked = new Set<number>();
  const actions: StreamAction[] = [];
  const actionIds = new Set<string>();
  const slices: SliceRecord[] = [];
  const sliceIds = new Set<number>();
  const errors: StreamErrorRecord[] = [];
  let context: ContextState | undefined;
  /** Bumped by each takeover and commit: a commit naming an older one is refused. */
  let revision = 0;
  let holder: { owner: string; until: number } | undefined;
  const beats = new Map<string, ProcessorHeartbeat>();
  const consumers = new Set<(seq: number) => void>();
  const actionSubscribers = new Set<(a: StreamAction) => void>();

  return {
    acked,
    async publishEvent(event) {
      const seq = events.push(structuredClone(event)) - 1;
      for (const c of consumers) c(seq);
    },
    async consume(handler) {
      const deliver = (seq: number) => {
        if (acked.has(seq)) return;
        const delivery: EventDelivery = {
          event: structuredClone(events[seq]),
          ack: () => acked.add(seq),
          pending: events.length - 1 - seq,
        };
        handler(delivery);
      };
      const backlog = events.length - acked.size;
      consumers.add(deliver);
      for (let seq = 0; seq < events.length; seq++) deliver(seq);
      const c: Consumption = {
        backlog,
        stop: async () => {
          consumers.delete(deliver);
        },
      };
      return c;
    },
    async commit({ record, actions: list, context: next, revision: expected }) {
      if (expected !== revision) throw takenOver(record);
      for (const a of list) {
        if (actionIds.has(a.id)) continue;
        actionIds.add(a.id);
        actions.push(a);
        const now = clock.now();
        for (const s of actionSubscribers) if (!isExpired(a, now)) s(a);
      }
      if (!sliceIds.has(record.index)) {
        sliceIds.add(record.index);
        slices.push(record);
      }
      context = structuredClone(next);
      return ++revision;
    },
    async publishError(error) {
      errors.push(error);
    },
    async loadContext() {
      return context && structuredClone(context);
    },
    async takeContext() {
      return { state: context && structuredClone(context), revision: ++revision };
    },
    async claim({ owner, until, now }) {
      if (holder && holder.owner !== owner && holder.until > now) return false;
      holder = { owner, until };
      return true;
    },
    async subscribeActions(handler) {
      actionSubscribers.add(handler);
      return { backlog: 0, stop: async () => void actionSubscribers.delete(handler) };
    },
    async readEvents() {
      return structuredClone(events);
    },
    async readActions() {
      return structuredClone(actions);
    },
    async readSlices() {
      return structuredClone(slices);
    },
    async readErrors() {
      return structuredClone(errors);
    },
    async heartbeat(beat) {
      beats.set(beat.processor, structuredClone(beat));
    },
    async readHeartbeats() {
      return structuredClone([...beats.values()]);
    },
    async close() {
      consumers.clear();
      actionSubscribers.clear();
    },
  };
}
