/**
 * A processor's hold on its stream: the claim in the transport that makes it the one
 * processor taking events and committing slices. It is renewed every third of its length;
 * a processor without it (a standby) tries to take it at the same interval. A holder stands
 * down when it finds the claim taken, or when its claim ran out (by its own monotonic clock)
 * without a renewal that succeeded: a holder that cannot reach the transport gives way too.
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
  /** The claim went to another processor or ran out: stop taking events, commit nothing more. */
  onLost(): void;
  /** A failure of `onGained`. */
  onError(error: unknown): void;
}

export interface ClaimKeeper {
  /** Whether this processor holds the stream and has taken it over (false while `onGained` runs). */
  readonly active: boolean;
  /** Takes the claim if it is free (then `onGained`), and keeps renewing or trying. */
  start(): Promise<void>;
  /**
   * Whether the claim is still this processor's with at least a third of its length left, by
   * its own clock; else renews it first (`onLost` if it is taken or ran out). A transport
   * failure is thrown.
   */
  holds(): Promise<boolean>;
  /** Stands down (`onLost`) while keeping the claim: the next renewal takes the stream over afresh. */
  restart(): void;
  /** Stops renewing; releases the claim if this processor wrote it, so a standby need not wait for it to run out. */
  stop(): Promise<void>;
}

export function createClaimKeeper(options: ClaimKeeperOptions): ClaimKeeper {
  const { transport, clock, claimMs } = options;
  const owner = `${options.processorId}#${process.pid}#${randomUUID().slice(0, 8)}`;
  const interval = Math.floor(claimMs / 3);
  /** The processor holds the stream (from the claim's gain, through `onGained`, to its loss). */
  let holding = false;
  let active = false;
  let stopped = false;
  /** Counts gains and losses: an `onGained` that a loss overtook does not make the processor active. */
  let generation = 0;
  /** When the claim runs out, by this processor's monotonic clock (0: it holds none). */
  let heldUntil = 0;
  /** The last claim write succeeded: the transport may hold this processor's claim. */
  let written = false;
  /** One claim write at a time: two of one owner at once would race each other. */
  let inflight: Promise<boolean> | undefined;
  let timer: TimerHandle | undefined;

  function claim(): Promise<boolean> {
    inflight ??= (async () => {
      const started = clock.monotonic();
      const now = clock.now();
      try {
        const ok = await transport.claim({ owner, until: now + claimMs, now });
        written = ok;
        // Counted from before the request: the transport's copy runs out no earlier.
        heldUntil = ok ? started + claimMs : 0;
        return ok;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  const ranOut = () => clock.monotonic() >= heldUntil;

  async function gain(): Promise<void> {
    holding = true;
    const mine = ++generation;
    try {
      await options.onGained();
      if (holding && mine === generation) active = true;
    } catch (e) {
      if (mine === generation) lose();
      throw e;
    }
  }

  function lose(): void {
    if (!holding) return;
    holding = false;
    active = false;
    generation++;
    options.onLost();
  }

  function loop(): void {
    timer = undefined;
    if (stopped) return;
    if (holding && ranOut()) lose();
    claim()
      .then(
        async (ok) => {
          if (ok && !holding && !stopped) await gain();
          else if (!ok) lose();
        },
        // Transport unreachable: tried again next time, and the holder stands down once its claim ran out.
        () => {
          if (holding && ranOut()) lose();
        },
      )
      .catch(options.onError)
      .finally(() => {
        if (stopped) return;
        // A holder whose renewal failed looks again when its claim runs out, not later.
        const next = holding ? Math.min(interval, Math.max(1, heldUntil - clock.monotonic())) : interval;
        timer = clock.setTimeout(loop, next, { unref: true });
      });
  }

  return {
    get active() {
      return active;
    },
    async start() {
      if (await claim()) await gain();
      if (!stopped) timer = clock.setTimeout(loop, interval, { unref: true });
    },
    async holds() {
      if (!holding) return false;
      if (heldUntil - clock.monotonic() >= claimMs / 3) return true;
      let ok: boolean;
      try {
        ok = await claim();
      } catch (e) {
        if (ranOut()) lose();
        throw e;
      }
      if (!ok) lose();
      return holding && ok;
    },
    restart: lose,
    async stop() {
      stopped = true;
      timer?.cancel();
      await inflight?.catch(() => {});
      holding = active = false;
      if (written) await transport.claim({ owner, until: 0, now: clock.now() }).catch(() => {});
      written = false;
    },
  };
}
