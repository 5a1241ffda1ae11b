/**
 * The feed behind `GET /events`: every engine event of this server process, numbered by a
 * server-local counter and kept in a ring buffer so a client can resume with
 * `Last-Event-ID`. Event ids are `<bootId>-<n>`: `bootId` changes with every server start,
 * so an id from a previous process is recognised as such (the client is told that it may
 * have missed events) instead of being confused with a new event of the same number.
 */
import { randomBytes } from 'node:crypto';
import type { EngineEvent, EventBus, Subscription } from '@orchestr8/core';

export interface FeedEvent {
  n: number;
  event: EngineEvent;
}

export type Resume =
  | { ok: true; events: FeedEvent[] }
  /** The id is from another server process, or older than the buffer holds. */
  | { ok: false; reason: string };

export class EventFeed {
  readonly bootId = randomBytes(4).toString('hex');
  private readonly ring: (FeedEvent | undefined)[];
  private n = 0;
  private readonly listeners = new Set<(e: FeedEvent) => void>();
  private subscription: Subscription | undefined;
  private closed = false;

  constructor(
    private readonly bus: EventBus,
    private readonly capacity = 10_000,
  ) {
    this.ring = new Array(Math.max(1, capacity));
  }

  /**
   * Starts recording at the first client and never stops: ids exist only from then on, so
   * nothing a client could resume from is missing, and a server nobody follows this way
   * does not pay for building and queueing every event.
   */
  private start(): void {
    if (this.subscription || this.closed) return;
    this.subscription = this.bus.subscribe((event) => this.push(event), {
      capacity: Math.max(1000, this.capacity),
    });
  }

  private push(event: EngineEvent): void {
    const fe: FeedEvent = { n: ++this.n, event };
    this.ring[fe.n % this.ring.length] = fe;
    for (const l of this.listeners) l(fe);
  }

  idOf(fe: FeedEvent): string {
    return `${this.bootId}-${fe.n}`;
  }

  /** Events after `lastEventId`, or why they cannot be replayed. */
  since(lastEventId: string): Resume {
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId);
    if (!m || m[1] !== this.bootId)
      return { ok: false, reason: 'the Last-Event-ID is from another server process' };
    const after = Number(m[2]);
    if (after > this.n) return { ok: false, reason: 'the Last-Event-ID is ahead of this server' };
    const oldest = Math.max(1, this.n - this.ring.length + 1);
    if (after + 1 < oldest)
      return { ok: false, reason: `events after ${lastEventId} are no longer buffered` };
    const events: FeedEvent[] = [];
    for (let k = after + 1; k <= this.n; k++) events.push(this.ring[k % this.ring.length]!);
    return { ok: true, events };
  }

  /** Live events from now on; returns the unsubscribe function. */
  listen(fn: (e: FeedEvent) => void): () => void {
    this.start();
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get size(): number {
    return this.capacity;
  }

  close(): void {
    this.closed = true;
    this.subscription?.unsubscribe();
    this.listeners.clear();
  }
}
