import type { JournalEntry } from './types.js';

/** Everything the engine reports; every journal entry is also published as an event. */
export const EventType = {
  executionStarted: 'execution.started',
  executionResumed: 'execution.resumed',
  executionCancelling: 'execution.cancelling',
  executionSuspended: 'execution.suspended',
  executionCompleted: 'execution.completed',
  executionFailed: 'execution.failed',
  executionCancelled: 'execution.cancelled',
  stepStarted: 'step.started',
  stepAttempt: 'step.attempt',
  stepRetrying: 'step.retrying',
  stepCompleted: 'step.completed',
  stepFailed: 'step.failed',
  stepSkipped: 'step.skipped',
  stepCancelled: 'step.cancelled',
  stepFallback: 'step.fallback',
  stepChild: 'step.child',
  timeoutExceeded: 'timeout.exceeded',
  circuitOpened: 'circuit.opened',
  circuitHalfOpen: 'circuit.half_open',
  circuitClosed: 'circuit.closed',
  circuitRejected: 'circuit.rejected',
  /** The journal passed its per-execution cap: the oldest entries are being dropped (once per execution). */
  journalDropped: 'journal.dropped',
  /** A wait step registered its wait (kind, due time, event names) and stops holding a slot. */
  stepWaiting: 'step.waiting',
  /** A wait ended: its timer fired or its event arrived (the event is the step's output). */
  stepWoken: 'step.woken',
  /** A wait for an event or a decision passed its timeout: the step fails with TIMEOUT or takes its onTimeout output. */
  waitTimedOut: 'wait.timed_out',
  /** A person approved or rejected an approval step: who (`by`), the decision and the form data. */
  approvalDecided: 'approval.decided',
  /** Every unfinished step of the execution waits: it is left in the store (status `waiting`) and dropped from memory. */
  executionWaiting: 'execution.waiting',
  /**
   * A failed or cancelled execution is run again in place (`engine.retry`): the steps listed
   * (`steps`) start over with a fresh retry budget; completed steps keep their outputs.
   */
  executionRetried: 'execution.retried',
  /**
   * The first entry of an execution started by `engine.rerun`: the execution (`of`) and step
   * (`fromStep`) it reruns from, the steps it runs (`rerun`) and those whose outputs it reuses (`reused`).
   */
  executionRerun: 'execution.rerun',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

export interface EngineEvent extends JournalEntry {
  executionId: string;
  workflowId: string;
}

export type EventHandler = (event: EngineEvent) => void | Promise<void>;

export interface SubscribeOptions {
  /**
   * Queue bound (default 1000). A full queue is first delivered on the spot, so a subscriber
   * whose handler is synchronous (or returns a settled promise each time) misses nothing,
   * even in a burst that never yields. Only while the handler's promise is pending (a slow
   * asynchronous consumer) does a full queue drop its oldest event: counted in `dropped`,
   * and warned about once through the engine's logger.
   */
  capacity?: number;
  executionId?: string;
  types?: readonly string[];
}

export interface Subscription {
  unsubscribe(): void;
  /** Events dropped because this subscriber fell behind. */
  readonly dropped: number;
}

interface Subscriber {
  handler: EventHandler;
  capacity: number;
  executionId: string | undefined;
  types: ReadonlySet<string> | undefined;
  /** A ring of at most `capacity` events: `count` of them from `head`; grows up to capacity. */
  ring: (EngineEvent | undefined)[];
  head: number;
  count: number;
  dropped: number;
  /** A delivery is scheduled or under way. */
  draining: boolean;
  /** Delivering on the stack, or waiting for the handler's promise: do not deliver again. */
  busy: boolean;
  closed: boolean;
}

/**
 * In-process event bus. Each subscriber has its own bounded queue, delivered on the next
 * turn of the event loop, so a slow or throwing subscriber never slows or breaks an
 * execution; a queue that fills up before then is delivered at once (see `capacity`).
 */
export class EventBus {
  private subscribers: Subscriber[] = [];
  /** Total events dropped across subscribers (also exposed for metrics). */
  droppedTotal = 0;
  onError: (error: unknown, event: EngineEvent) => void = () => {};
  /** Told once per subscriber, when it first loses an event (the engine logs a warning). */
  onDrop: (capacity: number) => void = () => {};

  get hasSubscribers(): boolean {
    return this.subscribers.length > 0;
  }

  subscribe(handler: EventHandler, options: SubscribeOptions = {}): Subscription {
    const sub: Subscriber = {
      handler,
      capacity: Math.max(1, options.capacity ?? 1000),
      executionId: options.executionId,
      types: options.types ? new Set(options.types) : undefined,
      ring: [],
      head: 0,
      count: 0,
      dropped: 0,
      draining: false,
      busy: false,
      closed: false,
    };
    this.subscribers = [...this.subscribers, sub];
    return {
      unsubscribe: () => {
        sub.closed = true;
        this.subscribers = this.subscribers.filter((s) => s !== sub);
      },
      get dropped() {
        return sub.dropped;
      },
    };
  }

  publish(event: EngineEvent): void {
    const subs = this.subscribers;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (s.executionId !== undefined && s.executionId !== event.executionId) continue;
      if (s.types !== undefined && !s.types.has(event.type)) continue;
      enqueue(s, event, this);
      if (!s.draining) {
        s.draining = true;
        setImmediate(drainLater, this, s);
      }
    }
  }

  /** Resolves once every subscriber has been handed everything published so far. */
  async flush(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      if (!this.subscribers.some((s) => s.draining)) return;
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /**
   * @internal Delivers the queue synchronously until it is empty or the handler returns a
   * pending promise; then carries on once it settles.
   */
  deliver(s: Subscriber): void {
    if (s.busy) return;
    s.busy = true;
    while (!s.closed && s.count > 0) {
      const event = s.ring[s.head]!;
      s.ring[s.head] = undefined;
      s.head = s.head + 1 === s.ring.length ? 0 : s.head + 1;
      s.count--;
      let r: unknown;
      try {
        r = s.handler(event);
      } catch (error) {
        this.report(error, event);
        continue;
      }
      if (r && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(
          () => this.resume(s),
          (error) => {
            this.report(error, event);
            this.resume(s);
          },
        );
        return;
      }
    }
    if (s.closed) {
      s.ring = [];
      s.count = 0;
    }
    if (s.count === 0) s.head = 0;
    s.busy = false;
    s.draining = false;
  }

  private resume(s: Subscriber): void {
    s.busy = false;
    this.deliver(s);
  }

  private report(error: unknown, event: EngineEvent): void {
    try {
      this.onError(error, event);
    } catch {
      // an error reporter that throws must not break delivery either
    }
  }
}

function drainLater(bus: EventBus, s: Subscriber): void {
  bus.deliver(s);
}

/** Appends to the subscriber's ring; when full, delivers it first, else drops the oldest. */
function enqueue(s: Subscriber, event: EngineEvent, bus: EventBus): void {
  if (s.count === s.capacity && !s.busy) {
    s.draining = true;
    bus.deliver(s);
  }
  const ring = s.ring;
  if (s.count === s.capacity) {
    // Still full (the handler is busy with a promise): overwrite the oldest.
    ring[s.head] = event;
    s.head = s.head + 1 === ring.length ? 0 : s.head + 1;
    if (s.dropped++ === 0) bus.onDrop(s.capacity);
    bus.droppedTotal++;
    return;
  }
  if (s.count === ring.length) {
    // Not yet at capacity: grow. Unwrap first so the ring stays contiguous from head.
    if (s.head !== 0) {
      s.ring = ring.slice(s.head).concat(ring.slice(0, s.head));
      s.head = 0;
    }
    s.ring.push(event);
  } else {
    const at = s.head + s.count;
    ring[at < ring.length ? at : at - ring.length] = event;
  }
  s.count++;
}

/**
 * A synchronous observer of the engine (metrics, logs): called in order, on the engine's
 * own call stack, for every event. It must be cheap and must not throw (exceptions are
 * swallowed); use `EventBus.subscribe` for anything slow.
 */
export interface EngineObserver {
  onEvent?(event: EngineEvent): void;
  /** A group-commit batch was written: its duration and number of writes. */
  onStoreWrite?(ms: number, writes: number): void;
}
