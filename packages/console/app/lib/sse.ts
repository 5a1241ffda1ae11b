/**
 * Follows an execution's event stream with `fetch` (EventSource cannot send an API key).
 * It resumes where it stopped: every reconnect sends `Last-Event-ID` with the last sequence
 * number delivered, after a back-off that doubles up to `maxDelayMs`. The server ends the stream
 * once the execution is terminal; `restart()` (after a retry, say) follows it again from there.
 */
import { parseSse } from '@orchestr8/client';
import type { JournalEntryLike } from './execution-state.js';

export interface FollowOptions {
  /** Fetches the stream; `lastEventId` goes in the `Last-Event-ID` header. */
  open(lastEventId: string | undefined, signal: AbortSignal): Promise<Response>;
  onEntries(entries: JournalEntryLike[]): void;
  /** Connection state, for the page's "live" indicator. */
  onState?(state: 'connecting' | 'live' | 'ended' | 'retrying', error?: unknown): void;
  /** The last sequence number already applied (0 for none). */
  lastSeq?: number;
  /** Waits between reconnects (injected in tests). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Events arriving within this window are delivered together (one render). */
  batchMs?: number;
  maxDelayMs?: number;
  /** Whether the execution is over (the stream then ends for good). */
  isTerminal(type: string): boolean;
  /**
   * Asked when a stream ends without a terminal event: true when the execution is known to be
   * over (the server closes a finished execution's stream at once), so no reconnect is needed.
   */
  isFinished?(): boolean;
}

export interface Follower {
  restart(): void;
  close(): void;
  readonly lastSeq: number;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

export function followExecution(options: FollowOptions): Follower {
  let lastSeq = options.lastSeq ?? 0;
  let controller = new AbortController();
  const sleep = options.sleep ?? defaultSleep;
  const maxDelay = options.maxDelayMs ?? 10_000;
  const batchMs = options.batchMs ?? 50;

  async function loop(signal: AbortSignal): Promise<void> {
    let delay = 500;
    while (!signal.aborted) {
      let ended = false;
      try {
        options.onState?.('connecting');
        const res = await options.open(lastSeq > 0 ? String(lastSeq) : undefined, signal);
        if (!res.ok || !res.body) throw new Error(`the event stream answered ${res.status}`);
        options.onState?.('live');
        delay = 500;
        let batch: JournalEntryLike[] = [];
        let timer: ReturnType<typeof setTimeout> | undefined;
        // `lastSeq` counts what was handed to onEntries only: a batch an abort (restart,
        // close) drops is asked for again by the next stream, not skipped.
        let seen = lastSeq;
        const flush = () => {
          timer = undefined;
          if (batch.length === 0 || signal.aborted) return;
          const out = batch;
          batch = [];
          lastSeq = out[out.length - 1]!.seq;
          options.onEntries(out);
        };
        for await (const m of parseSse<JournalEntryLike>(res.body)) {
          if (signal.aborted) break;
          const e = m.data;
          if (typeof e !== 'object' || e === null || typeof e.seq !== 'number' || e.seq <= seen) continue;
          seen = e.seq;
          batch.push(e);
          if (options.isTerminal(e.type)) ended = true;
          if (batchMs <= 0) flush();
          else timer ??= setTimeout(flush, batchMs);
        }
        if (timer !== undefined) clearTimeout(timer);
        flush();
        if (ended || options.isFinished?.()) {
          options.onState?.('ended');
          return;
        }
      } catch (e) {
        if (signal.aborted) return;
        options.onState?.('retrying', e);
      }
      if (signal.aborted) return;
      // The stream dropped before the end: come back after a pause, from lastSeq.
      await sleep(delay, signal);
      delay = Math.min(maxDelay, delay * 2);
    }
  }

  void loop(controller.signal);
  return {
    restart() {
      controller.abort();
      controller = new AbortController();
      void loop(controller.signal);
    },
    close() {
      controller.abort();
    },
    get lastSeq() {
      return lastSeq;
    },
  };
}
