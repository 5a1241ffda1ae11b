import type { Clock, TimerHandle } from '@orchestr8/common';

/** Something with a deadline, linked into its queue (no allocation per entry). */
export interface DeadlineEntry {
  deadline: number;
  prevEntry: DeadlineEntry | undefined;
  nextEntry: DeadlineEntry | undefined;
  onDeadline(): void;
}

/**
 * All pending deadlines of one duration on one clock, sharing one clock timer. Arming and
 * clearing a Node timer per call costs ~300 ns; entries of one duration expire in the order
 * they were added, so a FIFO list and one timer armed for its head do the same work for the
 * price of a list link. When the list empties the timer is cleared on the next turn of the
 * event loop (setImmediate), so a back-to-back call reuses it but an idle process is not
 * kept alive.
 */
export class DeadlineQueue {
  private head: DeadlineEntry | undefined = undefined;
  private tail: DeadlineEntry | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;
  private idleCheck = false;

  constructor(
    private readonly clock: Clock,
    private readonly durationMs: number,
  ) {}

  add(entry: DeadlineEntry): void {
    entry.deadline = this.clock.monotonic() + this.durationMs;
    const tail = this.tail;
    entry.prevEntry = tail;
    entry.nextEntry = undefined;
    if (tail !== undefined) tail.nextEntry = entry;
    else this.head = entry;
    this.tail = entry;
    if (this.timer === undefined) this.timer = this.clock.setTimeout(this.fire, this.durationMs);
  }

  remove(entry: DeadlineEntry): void {
    const { prevEntry: prev, nextEntry: next } = entry;
    if (prev !== undefined) prev.nextEntry = next;
    else if (this.head === entry) this.head = next;
    else return; // not queued (already expired)
    if (next !== undefined) next.prevEntry = prev;
    else this.tail = prev;
    entry.prevEntry = entry.nextEntry = undefined;
    if (this.head === undefined && this.timer !== undefined && !this.idleCheck) {
      this.idleCheck = true;
      setImmediate(this.disarmIfIdle);
    }
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.clock.monotonic();
    for (let entry = this.head; entry !== undefined && entry.deadline <= now; entry = this.head) {
      this.head = entry.nextEntry;
      if (this.head !== undefined) this.head.prevEntry = undefined;
      else this.tail = undefined;
      entry.prevEntry = entry.nextEntry = undefined;
      entry.onDeadline();
    }
    // The timer was armed for an earlier head that has since settled: re-arm for the new one.
    if (this.head !== undefined && this.timer === undefined) {
      this.timer = this.clock.setTimeout(this.fire, this.head.deadline - now);
    }
  };

  private readonly disarmIfIdle = (): void => {
    this.idleCheck = false;
    if (this.head === undefined && this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
  };
}

const queuesByClock = new WeakMap<Clock, Map<number, DeadlineQueue>>();
let lastClock: Clock | undefined;
let lastQueues: Map<number, DeadlineQueue> | undefined;

/** The shared queue for deadlines of `durationMs` on `clock`. */
export function deadlineQueue(clock: Clock, durationMs: number): DeadlineQueue {
  let queues: Map<number, DeadlineQueue> | undefined;
  if (clock === lastClock) queues = lastQueues!;
  else {
    queues = queuesByClock.get(clock);
    if (queues === undefined) {
      queues = new Map();
      queuesByClock.set(clock, queues);
    }
    lastClock = clock;
    lastQueues = queues;
  }
  let queue = queues.get(durationMs);
  if (queue === undefined) {
    queue = new DeadlineQueue(clock, durationMs);
    queues.set(durationMs, queue);
  }
  return queue;
}
