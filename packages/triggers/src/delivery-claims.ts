/**
 * Webhook delivery claims as the scheduler uses them: claimed pending before the firing runs,
 * then settled (accepted: later copies are duplicates) or released (refused: the sender's retry
 * is processed as new). Where the store keeps the pending state, every process sharing the
 * store sees it; a store without it (written before `claimPendingDelivery`) records the claim
 * as accepted at once, and only this process knows that it is still being decided.
 */
import type { DeliveryClaim, TriggerStore } from './trigger-store.js';

/**
 * How long a claim stays pending at most: long enough for a firing to be decided (rendering
 * the inputs and starting the execution), short enough that a claim left by a process that
 * died mid-delivery does not answer 409 for long.
 */
export const DELIVERY_PENDING_MS = 60_000;

export interface DeliveryClaims {
  /** `claimed`: the caller decides it, then calls `settle` or `release` with the same `now`. */
  claim(key: string, now: number): Promise<DeliveryClaim>;
  settle(key: string, now: number): Promise<void>;
  release(key: string, now: number): Promise<void>;
}

export function deliveryClaims(
  store: TriggerStore,
  options: { ttlMs: number; pendingMs?: number },
): DeliveryClaims {
  const { ttlMs } = options;
  const pendingMs = Math.min(options.pendingMs ?? DELIVERY_PENDING_MS, ttlMs);
  const { claimPendingDelivery, settleDelivery } = store;
  if (claimPendingDelivery && settleDelivery)
    return {
      claim: (key, now) => claimPendingDelivery.call(store, key, now, pendingMs),
      settle: (key, now) => settleDelivery.call(store, key, now, pendingMs, ttlMs),
      release: async (key, now) => store.releaseDelivery?.(key, now, pendingMs),
    };
  /** Claims this process took and has not decided yet. */
  const inFlight = new Set<string>();
  return {
    async claim(key, now) {
      if (await store.claimDelivery(key, now, ttlMs)) {
        inFlight.add(key);
        return 'claimed';
      }
      return inFlight.has(key) ? 'pending' : 'duplicate';
    },
    async settle(key) {
      inFlight.delete(key);
    },
    async release(key, now) {
      try {
        await store.releaseDelivery?.(key, now, ttlMs);
      } finally {
        inFlight.delete(key);
      }
    },
  };
}
