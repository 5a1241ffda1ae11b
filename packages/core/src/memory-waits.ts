import type { ExecutionRecord } from './types.js';
import { eventKeyValue, waitIndexKeys } from './wait-correlation.js';
import { compareWaits, type StoredAnswer, type WaitEvent, type WaitRecord, type WaitStore } from './waits.js';

/** Pending waits by event name: those without a key, and those with one by path and value. */
interface NameIndex {
  unkeyed: Set<string>;
  byPath: Map<string, Map<string, Set<string>>>;
}

/**
 * The memory store's waits and event inbox. Records are copied in and out (unlike the
 * executions on the hot path): waits are few and written rarely.
 */
/** The memory store's executions, as the waits read and write them. */
export interface ExecutionTable {
  get(id: string): ExecutionRecord | undefined;
  set(id: string, execution: ExecutionRecord): void;
  values(): Iterable<ExecutionRecord>;
}

export function createMemoryWaits(
  executions: ExecutionTable,
  assertOpen: () => void,
  cancelRequested: (executionId: string) => boolean,
): WaitStore {
  const waits = new Map<string, WaitRecord>();
  const index = new Map<string, NameIndex>();
  const answers = new Map<string, StoredAnswer>();
  const unindex = (w: WaitRecord | undefined) => {
    if (w === undefined) return;
    for (const k of waitIndexKeys(w)) {
      const n = index.get(k.name);
      if (n === undefined) continue;
      if (k.path === '') n.unkeyed.delete(w.id);
      else {
        const byValue = n.byPath.get(k.path);
        const ids = byValue?.get(k.value);
        ids?.delete(w.id);
        if (ids?.size === 0) byValue!.delete(k.value);
        if (byValue?.size === 0) n.byPath.delete(k.path);
      }
      if (n.unkeyed.size === 0 && n.byPath.size === 0) index.delete(k.name);
    }
  };
  const reindex = (before: WaitRecord | undefined, w: WaitRecord) => {
    unindex(before);
    for (const k of waitIndexKeys(w)) {
      let n = index.get(k.name);
      if (n === undefined) {
        n = { unkeyed: new Set(), byPath: new Map() };
        index.set(k.name, n);
      }
      if (k.path === '') n.unkeyed.add(w.id);
      else {
        let byValue = n.byPath.get(k.path);
        if (byValue === undefined) {
          byValue = new Map();
          n.byPath.set(k.path, byValue);
        }
        let ids = byValue.get(k.value);
        if (ids === undefined) {
          ids = new Set();
          byValue.set(k.value, ids);
        }
        ids.add(w.id);
      }
    }
  };
  const inbox = new Map<string, WaitEvent>(); // `${name}\0${id}` -> event, in arrival order
  const copy = (w: WaitRecord): WaitRecord => structuredClone(w);
  const dueOrder = (a: WaitRecord, b: WaitRecord) =>
    (a.state === 'woken' ? 0 : 1) - (b.state === 'woken' ? 0 : 1) ||
    (a.dueAt ?? 0) - (b.dueAt ?? 0) ||
    a.createdAt - b.createdAt;
  return {
    async putWait(w) {
      assertOpen();
      const c = copy(w);
      reindex(waits.get(w.id), c);
      waits.set(w.id, c);
    },
    async getWait(id) {
      const w = waits.get(id);
      return w && copy(w);
    },
    async dueWaits(now, limit = 1000) {
      const out: WaitRecord[] = [];
      for (const w of waits.values())
        if (w.state === 'woken' || (w.dueAt !== undefined && w.dueAt <= now)) out.push(w);
      return out.sort(dueOrder).slice(0, limit).map(copy);
    },
    async nextDueAt() {
      let next: number | undefined;
      for (const w of waits.values())
        if (w.state === 'pending' && w.dueAt !== undefined && (next === undefined || w.dueAt < next))
          next = w.dueAt;
      return next;
    },
    async waitsForEvent(name, event) {
      const n = index.get(name);
      if (n === undefined) return [];
      const ids = new Set(n.unkeyed);
      for (const [path, byValue] of n.byPath) {
        if (event === undefined) {
          for (const set of byValue.values()) for (const id of set) ids.add(id);
          continue;
        }
        const v = eventKeyValue(event, path);
        if (v !== undefined) for (const id of byValue.get(v) ?? []) ids.add(id);
      }
      const out: WaitRecord[] = [];
      for (const id of ids) {
        const w = waits.get(id);
        if (w?.state === 'pending') out.push(w);
      }
      return out.sort((a, b) => a.createdAt - b.createdAt).map(copy);
    },
    async listWaits(q = {}) {
      const { after } = q;
      const matches: WaitRecord[] = [];
      for (const w of waits.values()) {
        if (q.kind !== undefined && w.kind !== q.kind) continue;
        if (q.executionId !== undefined && w.executionId !== q.executionId) continue;
        if (q.state !== undefined && w.state !== q.state) continue;
        if (after !== undefined && compareWaits(w, after) <= 0) continue;
        matches.push(w);
      }
      // Inserted about in createdAt order, so the sort has little to do; copies only of the page.
      matches.sort(compareWaits);
      const page = q.limit === undefined ? matches : matches.slice(0, q.limit);
      return page.map(copy);
    },
    async claimWait(id, version, next) {
      assertOpen();
      const w = waits.get(id);
      if (w === undefined || w.state !== 'pending' || w.version !== version) return false;
      const c = copy(next);
      reindex(w, c);
      waits.set(id, c);
      return true;
    },
    async deleteWait(id) {
      unindex(waits.get(id));
      waits.delete(id);
    },
    async takeWaitingExecution(executionId, at) {
      assertOpen();
      const e = executions.get(executionId);
      if (e === undefined || e.status !== 'waiting') return false;
      executions.set(executionId, { ...e, status: 'running', statusReason: 'woken', updatedAt: at });
      return true;
    },
    async putEvent(e) {
      assertOpen();
      const key = `${e.name}\0${e.id}`;
      if (inbox.has(key)) return false;
      inbox.set(key, structuredClone(e));
      return true;
    },
    async recentEvents(name, since) {
      const out: WaitEvent[] = [];
      for (const e of inbox.values())
        if (e.name === name && e.receivedAt >= since) out.push(structuredClone(e));
      return out.sort((a, b) => a.receivedAt - b.receivedAt);
    },
    async waitingCancels() {
      const out: string[] = [];
      for (const e of executions.values())
        if (e.status === 'waiting' && cancelRequested(e.id)) out.push(e.id);
      return out;
    },
    async putAnswer(key, a, now) {
      assertOpen();
      const existing = answers.get(key);
      if (existing !== undefined && existing.expiresAt > now) return structuredClone(existing);
      answers.set(key, structuredClone(a));
      if (answers.size % 256 === 0) for (const [k, v] of answers) if (v.expiresAt <= now) answers.delete(k);
      return undefined;
    },
    async getAnswer(key, now) {
      const a = answers.get(key);
      return a !== undefined && a.expiresAt > now ? structuredClone(a) : undefined;
    },
    async pruneEvents(before) {
      let n = 0;
      for (const [k, e] of inbox)
        if (e.receivedAt < before) {
          inbox.delete(k);
          n++;
        }
      return n;
    },
  };
}
