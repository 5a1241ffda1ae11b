import type { ExecutionRecord } from './types.js';
import type { WaitEvent, WaitRecord, WaitStore } from './waits.js';

/**
 * The memory store's waits and event inbox. Records are copied in and out (unlike the
 * executions on the hot path): waits are few and written rarely.
 */
export function createMemoryWaits(
  executions: Map<string, ExecutionRecord>,
  assertOpen: () => void,
  cancelRequested: (executionId: string) => boolean,
): WaitStore {
  const waits = new Map<string, WaitRecord>();
  const inbox = new Map<string, WaitEvent>(); // `${name}\0${id}` -> event, in arrival order
  const copy = (w: WaitRecord): WaitRecord => structuredClone(w);
  const dueOrder = (a: WaitRecord, b: WaitRecord) =>
    (a.state === 'woken' ? 0 : 1) - (b.state === 'woken' ? 0 : 1) ||
    (a.dueAt ?? 0) - (b.dueAt ?? 0) ||
    a.createdAt - b.createdAt;
  return {
    async putWait(w) {
      assertOpen();
      waits.set(w.id, copy(w));
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
    async waitsForEvent(name) {
      const out: WaitRecord[] = [];
      for (const w of waits.values())
        if (w.state === 'pending' && w.events?.includes(name)) out.push(copy(w));
      return out;
    },
    async listWaits(q = {}) {
      const out: WaitRecord[] = [];
      for (const w of waits.values()) {
        if (q.kind !== undefined && w.kind !== q.kind) continue;
        if (q.executionId !== undefined && w.executionId !== q.executionId) continue;
        if (q.state !== undefined && w.state !== q.state) continue;
        out.push(copy(w));
        if (q.limit !== undefined && out.length >= q.limit) break;
      }
      return out;
    },
    async claimWait(id, version, next) {
      assertOpen();
      const w = waits.get(id);
      if (w === undefined || w.state !== 'pending' || w.version !== version) return false;
      waits.set(id, copy(next));
      return true;
    },
    async deleteWait(id) {
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
