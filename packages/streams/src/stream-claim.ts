/**
 * A processor's hold on its stream: the claim in the transport that makes it the one
 * processor taking events and committing slices. It is renewed every third of its length;
 * a processor without it (a standby) tries to take it at the same interval, and one that
 * finds it taken (it stalled, or lost the transport, longer than the claim lasts) stands down.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '@orchestr8/common';
import type { StreamTransport } from './transport.js';

export const DEFAULT_CLAIM_MS = 30_000;

export interface ClaimKeeperOptions {
  transport: StreamTransport;
  clock: Clock;
  /** The processor's id; made unique per instance (two processors of one host share an id). */
  processorId: string;
  claimMs: number;
  /** The claim was taken: start taking events. A failure stands the processor down again. */
  onGained(): Promise<void>;
  /** The claim went to another processor: stop taking events, commit nothing more. */
  onLost(): void;
  /** A failure of `onGained`. */
  onError(error: unknown): void;
}

export interface ClaimKeeper {
  /** Whether this processor holds the stream (as far as it knows). */
  readonly active: boolean;
  /** Takes the claim if it is free (then `onGained`), and keeps renewing or trying. */
  start(): Promise<void>;
  /** Whether the claim is still this processor's: by its own end time, else by renewing it (`onLost` if not). */
  holds(): Promise<boolean>;
  /** Stops renewing; releases the claim if held, so a standby need not wait for it to run out. */
  stop(): Promise<void>;
}

export function createClaimKeeper(options: ClaimKeeperOptions): ClaimKeeper {
  const { transport, clock, claimMs } = options;
  const owner = `${options.processorId}#${process.pid}#${randomUUID().slice(0, 8)}`;
  let active = false;
  let stopped = false;
  /** When the claim runs out, by this processor's clock (0: it holds none). */
  let heldUntil = 0;
  let timer: TimerHandle | undefined;

  async function claim(): Promise<boolean> {
    const now = clock.now();
    const ok = await transport.claim({ owner, until: now + claimMs, now });
    heldUntil = ok ? now + claimMs : 0;
    return ok;
  }

  async function gain(): Promise<void> {
    active = true;
    try {
      await options.onGained();
    } catch (e) {
      lose();
      throw e;
    }
  }

  function lose(): void {
    active = false;
    heldUntil = 0;
    options.onLost();
  }

  function loop(): void {
    timer = undefined;
    if (stopped) return;
    claim()
      .then(
        async (ok) => {
          if (ok && !active && !stopped) await gain();
          else if (!ok && active) lose();
        },
        // Transport unreachable: tried again next time; `holds` catches a claim that ran out.
        () => {},
      )
      .catch(options.onError)
      .finally(() => {
        if (!stopped) timer = clock.setTimeout(loop, Math.floor(claimMs / 3), { unref: true });
      });
  }

  return {
    get active() {
      return active;
    },
    async start() {
      if (await claim()) await gain();
      timer = clock.setTimeout(loop, Math.floor(claimMs / 3), { unref: true });
    },
    async holds() {
      if (!active) return false;
      if (clock.now() < heldUntil) return true;
      if (await claim()) return true;
      lose();
      return false;
    },
    async stop() {
      stopped = true;
      timer?.cancel();
      if (active) await transport.claim({ owner, until: 0, now: clock.now() }).catch(() => {});
    },
  };
}
