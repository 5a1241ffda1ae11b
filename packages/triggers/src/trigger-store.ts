/**
 * Scheduler state: the last occurrence handled per trigger, whether it is paused, the
 * leader lease, and webhook deliveries seen (accepted, or still being decided). Small on
 * purpose, so that each store (memory, SQLite, PostgreSQL) is a few statements.
 */
export interface TriggerState {
  /** `<workflow id>/<trigger name>`. */
  key: string;
  /** The scheduled time of the newest occurrence handled (fired, skipped or dropped). */
  lastFireAt?: number;
  paused: boolean;
  /** The newest execution this trigger started (overlap checks after a restart). */
  lastExecutionId?: string;
  updatedAt: number;
}

/** What `claimPendingDelivery` found: see there. */
export type DeliveryClaim = 'claimed' | 'pending' | 'duplicate';

export interface TriggerStore {
  get(key: string): Promise<TriggerState | undefined>;
  list(): Promise<TriggerState[]>;
  put(state: TriggerState): Promise<void>;
  /** Several states in one transaction (a tick where many schedules are due). */
  putMany(states: readonly TriggerState[]): Promise<void>;
  /**
   * Takes or renews the lease `name` for `owner` until `now + ttlMs`. True when `owner`
   * holds it afterwards: it was free, expired, or already its own. Atomic.
   */
  acquireLease(name: string, owner: string, now: number, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /**
   * Records a delivery id as accepted at once; false when it was recorded before and has not
   * expired. Atomic. The scheduler uses `claimPendingDelivery` when the store has it.
   */
  claimDelivery(key: string, now: number, ttlMs: number): Promise<boolean>;
  /**
   * Records a delivery id as pending (being decided) until `now + pendingMs`, when it is free
   * or its claim has expired. Atomic. Answers `claimed` (the caller now decides it and then
   * calls `settleDelivery` or `releaseDelivery` with the same `now` and `pendingMs`), `pending`
   * (another call, maybe in another process, is deciding it) or `duplicate` (accepted before).
   * A pending claim not settled within `pendingMs` (its process died) can be claimed again.
   * Optional, with `settleDelivery`: without them the scheduler claims with `claimDelivery`
   * and knows only its own process's deliveries in flight.
   */
  claimPendingDelivery?(key: string, now: number, pendingMs: number): Promise<DeliveryClaim>;
  /**
   * Marks the pending claim made by `claimPendingDelivery(key, now, pendingMs)` accepted, kept
   * until `now + ttlMs`. Only that claim (same key, still pending, same expiry): a claim taken
   * over since its pending lease expired is left alone.
   */
  settleDelivery?(key: string, now: number, pendingMs: number, ttlMs: number): Promise<void>;
  /**
   * Undoes `claimDelivery(key, now, ttlMs)`, or `claimPendingDelivery(key, now, pendingMs)`
   * given `pendingMs` as `ttlMs`: deletes that claim, so that the delivery can be claimed again
   * (it was not accepted: dropped or failed, and its sender retries). Deletes only the claim
   * that call made (same key and expiry), not a later claim of the same key. Optional: a store
   * without it keeps the claim until it expires (a pending one, until its lease ends).
   */
  releaseDelivery?(key: string, now: number, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A TriggerStore in memory: for tests and for a server on the memory store. */
export function createMemoryTriggerStore(): TriggerStore {
  const states = new Map<string, TriggerState>();
  const leases = new Map<string, { owner: string; expiresAt: number }>();
  /** Delivery claims: when each expires, and whether it is still being decided. */
  const deliveries = new Map<string, { expiresAt: number; pending: boolean }>();
  const claim = (key: string, now: number, expiresAt: number, pending: boolean): DeliveryClaim => {
    const d = deliveries.get(key);
    if (d !== undefined && d.expiresAt > now) return d.pending ? 'pending' : 'duplicate';
    deliveries.set(key, { expiresAt, pending });
    if (deliveries.size > 100_000)
      for (const [k, c] of deliveries) if (c.expiresAt <= now) deliveries.delete(k);
    return 'claimed';
  };
  return {
    async get(key) {
      const s = states.get(key);
      return s ? { ...s } : undefined;
    },
    async list() {
      return [...states.values()].map((s) => ({ ...s }));
    },
    async put(state) {
      states.set(state.key, { ...state });
    },
    async putMany(list) {
      for (const state of list) states.set(state.key, { ...state });
    },
    async acquireLease(name, owner, now, ttlMs) {
      const l = leases.get(name);
      if (l && l.owner !== owner && l.expiresAt > now) return false;
      leases.set(name, { owner, expiresAt: now + ttlMs });
      return true;
    },
    async releaseLease(name, owner) {
      if (leases.get(name)?.owner === owner) leases.delete(name);
    },
    async claimDelivery(key, now, ttlMs) {
      return claim(key, now, now + ttlMs, false) === 'claimed';
    },
    async claimPendingDelivery(key, now, pendingMs) {
      return claim(key, now, now + pendingMs, true);
    },
    async settleDelivery(key, now, pendingMs, ttlMs) {
      const d = deliveries.get(key);
      if (d?.pending && d.expiresAt === now + pendingMs)
        deliveries.set(key, { expiresAt: now + ttlMs, pending: false });
    },
    async releaseDelivery(key, now, ttlMs) {
      if (deliveries.get(key)?.expiresAt === now + ttlMs) deliveries.delete(key);
    },
    async close() {},
  };
}
