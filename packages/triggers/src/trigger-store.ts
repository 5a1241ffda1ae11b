/**
 * Scheduler state: the last occurrence handled per trigger, whether it is paused, the
 * leader lease, and webhook deliveries already seen. Small on purpose, so that each store
 * (memory, SQLite, later PostgreSQL) is a few statements.
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
  /** Records a delivery id; false when it was recorded before and has not expired. Atomic. */
  claimDelivery(key: string, now: number, ttlMs: number): Promise<boolean>;
  /**
   * Undoes `claimDelivery(key, now, ttlMs)`: deletes that claim, so that the delivery can be
   * claimed again (it was not accepted: dropped or failed, and its sender retries). Deletes
   * only the claim that call made (same key and expiry), not a later claim of the same key.
   * Optional: a store without it keeps the claim until it expires.
   */
  releaseDelivery?(key: string, now: number, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A TriggerStore in memory: for tests and for a server on the memory store. */
export function createMemoryTriggerStore(): TriggerStore {
  const states = new Map<string, TriggerState>();
  const leases = new Map<string, { owner: string; expiresAt: number }>();
  const deliveries = new Map<string, number>();
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
      const at = deliveries.get(key);
      if (at !== undefined && at > now) return false;
      deliveries.set(key, now + ttlMs);
      if (deliveries.size > 100_000) for (const [k, exp] of deliveries) if (exp <= now) deliveries.delete(k);
      return true;
    },
    async releaseDelivery(key, now, ttlMs) {
      if (deliveries.get(key) === now + ttlMs) deliveries.delete(key);
    },
    async close() {},
  };
}
