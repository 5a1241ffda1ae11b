/**
 * The in-memory `Store`: for tests, benchmarks and `--store memory` runs.
 *
 * It sits on the engine's hot path, so `write()` does no copying: **the store keeps
 * references to the records it is handed**, and the engine must treat a record as owned
 * by the store once written (write a new object, or the same object again after
 * changing it, but never mutate one between writes expecting the store not to see it).
 * Reads return shallow copies, so a caller reassigning a field of a returned record
 * cannot change stored state; nested values (`inputs`, `output`, `data`, ...) are
 * shared and must be treated as immutable.
 *
 * Semantics match the SQLite store (both pass `test/store-contract.ts`): steps and
 * journal entries must belong to an existing execution, a batch is all-or-nothing, and
 * idempotency keys are unique among unexpired claims.
 */
import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import { definitionConflict, latestDefinition } from './definition-versions.js';
import { DefinitionTable } from './memory-definitions.js';
import { FinishedRetention, type Slot } from './memory-retention.js';
import { JournalTable, StepTable } from './memory-tables.js';
import { createMemoryWaits, type ExecutionTable } from './memory-waits.js';
import { decodeCursor, type ExecutionCursor, encodeCursor, pageSize } from './paging.js';
import type {
  CreateExecutionResult,
  ExecutionQuery,
  IdempotencyClaim,
  Page,
  Store,
  StoreWrite,
} from './store.js';
import {
  type CircuitStateRecord,
  type ExecutionRecord,
  type IdempotencyRecord,
  type JournalEntry,
  TERMINAL_EXECUTION_STATUSES,
} from './types.js';

export interface MemoryStoreOptions {
  /** Decides whether an idempotency claim has expired when a new one arrives. */
  clock?: Clock;
  /**
   * How many finished executions (with their steps and journals) are kept; beyond it the
   * oldest finished are forgotten, so a long-running process on the memory store does not
   * grow without bound. Running executions are never dropped. The idempotency claims of a
   * forgotten execution are forgotten with it (the same key then starts a new execution);
   * other claims stay until they expire. Default 1,000; `Infinity` (here and in `maxFinishedJournalEntries`)
   * keeps everything.
   */
  maxFinishedExecutions?: number;
  /**
   * A bound on memory: how many journal entries finished executions may hold together
   * (with their step records, about 350 bytes of heap per entry for small inputs and
   * outputs, so the default of 100,000 is some 35 MB); beyond it the oldest finished
   * executions are forgotten, whichever bound is reached first. The most recent finished
   * execution is always kept. `Infinity` turns the bound off.
   */
  maxFinishedJournalEntries?: number;
}

export { definitionConflict, latestDefinition };

// A long-lived engine on its own memory store holds this much, not more: 10,000 small
// executions took some 80 MB of heap (and each retained object is one the garbage
// collector copies out of the young generation), for results nobody reads back.
export const DEFAULT_MAX_FINISHED_EXECUTIONS = 1_000;
export const DEFAULT_MAX_FINISHED_JOURNAL_ENTRIES = 100_000;

interface CancelRequest {
  executionId: string;
  reason: string;
  requestedAt: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const clock = options.clock ?? systemClock;
  // Map iteration order is insertion order: the order listExecutions scans.
  const slots = new Map<string, Slot>();
  const definitions = new DefinitionTable();
  const idempotency = new Map<string, IdempotencyRecord>();
  const circuits = new Map<string, CircuitStateRecord>();
  const cancelRequests = new Map<string, CancelRequest>();
  let closed = false;
  const retention = new FinishedRetention(
    options.maxFinishedExecutions ?? DEFAULT_MAX_FINISHED_EXECUTIONS,
    options.maxFinishedJournalEntries ?? DEFAULT_MAX_FINISHED_JOURNAL_ENTRIES,
    (old) => {
      const id = old.execution.id;
      forgetClaims(id, old);
      forget(id, old);
    },
  );

  const forget = (id: string, slot: Slot) => {
    // Its place in the retention queue, if any, is skipped from now on.
    retention.unlink(slot);
    slots.delete(id);
    // Emptied, not just dropped: an earlier hash table of `slots` that reached the old
    // generation can keep the slot reachable until a full collection (see LiveMap), and its
    // journal and steps would be copied and promoted instead of dying young.
    slot.journal = undefined;
    slot.steps = undefined;
    if (cancelRequests.size > 0) cancelRequests.delete(id);
  };

  const putClaim = (c: IdempotencyClaim, slot: Slot) => {
    idempotency.set(c.key, claimRecord(c, slot.execution.id, clock.now()));
    if (!retention.bounded) return;
    if (slot.claims === undefined) slot.claims = [c.key];
    else slot.claims.push(c.key);
  };

  /** Drops the claims still naming `executionId` (a key may since name another execution). */
  const forgetClaims = (executionId: string, slot: Slot) => {
    const keys = slot.claims;
    if (keys === undefined) return;
    slot.claims = undefined;
    for (const key of keys) if (idempotency.get(key)?.executionId === executionId) idempotency.delete(key);
  };

  const assertOpen = () => {
    if (closed) throw new Orchestr8Error(ErrorCode.STORE, 'memory store is closed');
  };

  /**
   * Checks the whole batch before applying any of it, so a bad batch changes nothing. True
   * when the batch creates an execution (its other writes may come before it).
   */
  const validate = (batch: readonly StoreWrite[]): boolean => {
    let created: Set<string> | undefined;
    let known: string | undefined;
    for (const w of batch) {
      switch (w.kind) {
        case 'execution':
          if (!slots.has(w.execution.id)) {
            created ??= new Set();
            created.add(w.execution.id);
          }
          break;
        case 'step':
        case 'journal': {
          const id = w.kind === 'step' ? w.step.executionId : w.executionId;
          // Consecutive writes are mostly of one execution: looked up once.
          if (id === known) break;
          if (!slots.has(id) && !created?.has(id)) {
            throw new Orchestr8Error(
              ErrorCode.NOT_FOUND,
              `cannot write ${w.kind}: execution ${id} does not exist`,
            );
          }
          known = id;
          break;
        }
        case 'journalTrim':
        case 'circuit':
          break;
        default:
          throw new Orchestr8Error(
            ErrorCode.STORE,
            `unknown store write kind: ${String((w as { kind?: unknown }).kind)}`,
          );
      }
    }
    return created !== undefined;
  };

  const putExecution = (e: ExecutionRecord): Slot => {
    let slot = slots.get(e.id);
    if (slot === undefined) {
      slot = { execution: e, steps: undefined, journal: undefined, finished: false, claims: undefined };
      slots.set(e.id, slot);
    } else slot.execution = e;
    retention.noteWritten(slot);
    return slot;
  };

  /** Applies a validated batch. */
  const applyAll = (batch: readonly StoreWrite[], creates: boolean) => {
    if (creates) {
      // The executions first: a batch may carry an execution's steps before its record.
      for (const w of batch) if (w.kind === 'execution') putExecution(w.execution);
    }
    let lastId: string | undefined;
    let last: Slot | undefined;
    for (const w of batch) {
      switch (w.kind) {
        case 'execution':
          if (!creates) putExecution(w.execution);
          // It may have forgotten a slot (retention) or made one: look the next one up again.
          lastId = undefined;
          break;
        case 'step': {
          const id = w.step.executionId;
          const slot = id === lastId ? last : slots.get(id);
          lastId = id;
          last = slot;
          // Forgotten by the retention bound within this very batch.
          if (slot === undefined) break;
          if (slot.steps === undefined) slot.steps = new StepTable();
          slot.steps.put(w.step);
          break;
        }
        case 'journal': {
          const id = w.executionId;
          const slot = id === lastId ? last : slots.get(id);
          lastId = id;
          last = slot;
          if (slot === undefined) break;
          if (slot.journal === undefined) slot.journal = new JournalTable();
          const journal = slot.journal;
          const before = journal.length;
          const entries = w.entries;
          for (let i = 0; i < entries.length; i++) journal.put(entries[i]!);
          retention.journalChanged(slot, journal.length - before);
          break;
        }
        case 'journalTrim': {
          const slot = slots.get(w.executionId);
          const journal = slot?.journal;
          if (journal) {
            const dropped = journal.trimBefore(w.beforeSeq);
            retention.journalChanged(slot!, -dropped);
          }
          break;
        }
        case 'circuit':
          circuits.set(w.circuit.key, w.circuit);
          break;
      }
    }
  };

  /** The executions as memory-waits sees them. */
  const executionTable: ExecutionTable = {
    get: (id) => slots.get(id)?.execution,
    set: (id, e) => {
      const slot = slots.get(id);
      if (slot !== undefined) slot.execution = e;
    },
    *values() {
      for (const slot of slots.values()) yield slot.execution;
    },
  };

  const store: Store = {
    kind: 'memory',
    waits: createMemoryWaits(
      executionTable,
      () => assertOpen(),
      (id) => cancelRequests.has(id),
    ),

    // Not async: on the engine's hot path, one shared resolved promise instead of one per batch.
    write(batch) {
      try {
        assertOpen();
        applyAll(batch, validate(batch));
      } catch (e) {
        return Promise.reject(e);
      }
      return RESOLVED;
    },

    async createExecution(execution, claim): Promise<CreateExecutionResult> {
      assertOpen();
      if (claim) {
        const existing = idempotency.get(claim.key);
        if (existing && existing.expiresAt > clock.now())
          return { created: false, existing: { ...existing } };
      }
      if (slots.has(execution.id)) {
        throw new Orchestr8Error(ErrorCode.CONFLICT, `execution ${execution.id} already exists`);
      }
      // Single-threaded: nothing can interleave between the check above and these sets,
      // which is what a unique constraint gives the SQL stores.
      const slot = putExecution(execution);
      // A record created finished may be forgotten at once by the retention bound: then its
      // claim must not outlive it (a key naming a missing execution).
      if (claim && slots.get(execution.id) === slot) putClaim(claim, slot);
      return { created: true, execution: { ...execution } };
    },

    async getExecution(id) {
      assertOpen();
      const execution = slots.get(id)?.execution;
      return execution && { ...execution };
    },

    async listExecutions(query: ExecutionQuery = {}): Promise<Page<ExecutionRecord>> {
      assertOpen();
      const limit = pageSize(query.limit);
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const statuses =
        query.status === undefined
          ? undefined
          : new Set<string>(typeof query.status === 'string' ? [query.status] : query.status);
      const prefixes =
        query.correlationIdPrefix === undefined
          ? undefined
          : typeof query.correlationIdPrefix === 'string'
            ? [query.correlationIdPrefix]
            : query.correlationIdPrefix;
      const matches: ExecutionRecord[] = [];
      for (const slot of slots.values()) {
        const e = slot.execution;
        if (statuses && !statuses.has(e.status)) continue;
        if (query.workflowId !== undefined && e.workflowId !== query.workflowId) continue;
        if (prefixes && !prefixes.some((p) => (e.correlationId ?? '').startsWith(p))) continue;
        if (query.since !== undefined && e.createdAt < query.since) continue;
        if (query.until !== undefined && e.createdAt >= query.until) continue;
        if (query.idPrefix !== undefined && !e.id.startsWith(query.idPrefix)) continue;
        if (query.parentExecutionId !== undefined && e.parentExecutionId !== query.parentExecutionId)
          continue;
        if (after && !isOlder(e, after)) continue;
        matches.push(e);
      }
      matches.sort(newestFirst);
      const items = matches.slice(0, limit).map((e) => ({ ...e }));
      const last = items[items.length - 1];
      return matches.length > limit && last ? { items, nextCursor: encodeCursor(last) } : { items };
    },

    async getSteps(executionId) {
      assertOpen();
      const table = slots.get(executionId)?.steps;
      return table ? table.copies() : [];
    },

    async readJournal(executionId, options = {}) {
      assertOpen();
      const journal = slots.get(executionId)?.journal;
      if (!journal) return [];
      const start = options.afterSeq === undefined ? 0 : journal.firstIndexAfter(options.afterSeq);
      const end =
        options.limit === undefined ? journal.length : Math.min(journal.length, start + options.limit);
      const out: JournalEntry[] = [];
      for (let i = start; i < end; i++) out.push(journal.entry(i));
      return out;
    },

    async putDefinition(definition) {
      assertOpen();
      return definitions.put(definition);
    },

    async getDefinition(id, version) {
      assertOpen();
      return definitions.get(id, version);
    },

    async getDefinitionByHash(hash) {
      assertOpen();
      return definitions.byHash(hash);
    },

    async listDefinitions() {
      assertOpen();
      return definitions.list();
    },

    async findIdempotency(key, now) {
      assertOpen();
      const record = idempotency.get(key);
      return record && record.expiresAt > now ? { ...record } : undefined;
    },

    async loadCircuits() {
      assertOpen();
      return Array.from(circuits.values(), (c) => ({ ...c })).sort((a, b) => compareStrings(a.key, b.key));
    },

    async reopenExecution(executionId, statuses, batch, claim) {
      assertOpen();
      if (claim) {
        const existing = idempotency.get(claim.key);
        if (existing && existing.expiresAt > clock.now())
          return { reopened: false, existing: { ...existing } };
      }
      const slot = slots.get(executionId);
      if (!slot) return { reopened: false };
      const current = slot.execution;
      if (!statuses.includes(current.status)) return { reopened: false, status: current.status };
      const creates = validate(batch);
      // Single-threaded: nothing interleaves between the checks and the writes.
      if (claim) putClaim(claim, slot);
      cancelRequests.delete(executionId);
      applyAll(batch, creates);
      return { reopened: true };
    },

    async requestCancel(executionId, reason, at) {
      assertOpen();
      const execution = slots.get(executionId)?.execution;
      if (!execution) return 'not_found';
      if (TERMINAL_EXECUTION_STATUSES.has(execution.status)) return 'finished';
      // The first request stands: its reason and time are what the running process acts on.
      if (!cancelRequests.has(executionId))
        cancelRequests.set(executionId, { executionId, reason, requestedAt: at });
      return 'requested';
    },

    async pendingCancels(executionIds) {
      assertOpen();
      const out: CancelRequest[] = [];
      for (const id of new Set(executionIds)) {
        const request = cancelRequests.get(id);
        const execution = slots.get(id)?.execution;
        if (request && execution && !TERMINAL_EXECUTION_STATUSES.has(execution.status))
          out.push({ ...request });
      }
      return out;
    },

    async prune({ finishedBefore, now }) {
      assertOpen();
      let pruned = 0;
      for (const [id, slot] of slots) {
        const e = slot.execution;
        if (!TERMINAL_EXECUTION_STATUSES.has(e.status)) continue;
        if ((e.finishedAt ?? e.updatedAt) >= finishedBefore) continue;
        // Deleting the current entry while iterating a Map is safe. Its claims stay until they
        // expire, as in the SQL stores.
        forget(id, slot);
        pruned++;
      }
      let keys = 0;
      for (const [key, record] of idempotency) {
        if (record.expiresAt <= now) {
          idempotency.delete(key);
          keys++;
        }
      }
      return { executions: pruned, idempotencyKeys: keys };
    },

    async close() {
      closed = true;
    },
  };
  return store;
}

function claimRecord(claim: IdempotencyClaim, executionId: string, now: number): IdempotencyRecord {
  return {
    key: claim.key,
    fingerprint: claim.fingerprint,
    executionId,
    createdAt: now,
    expiresAt: claim.expiresAt,
  };
}

/** Strictly after the cursor in newest-first order. */
function isOlder(e: ExecutionRecord, c: ExecutionCursor): boolean {
  return e.createdAt < c.createdAt || (e.createdAt === c.createdAt && e.id < c.id);
}

function newestFirst(a: ExecutionRecord, b: ExecutionRecord): number {
  return b.createdAt - a.createdAt || compareStrings(b.id, a.id);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
