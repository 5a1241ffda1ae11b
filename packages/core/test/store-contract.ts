/**
 * The behaviour every `Store` implementation must have. Each store's test file calls
 * `defineStoreContract` with a factory; the factory runs before every test and returns a
 * fresh, empty store (plus, for durable stores, a way to reopen the same data).
 *
 * Time: stores are created with their default (system) clock, so idempotency expiry is
 * expressed relative to `Date.now()` with wide margins.
 */
import { hasCode } from '@orchestr8/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, StoreWrite } from '../src/store.js';
import type {
  CircuitStateRecord,
  DefinitionRecord,
  ExecutionRecord,
  ExecutionStatus,
  JournalEntry,
  StepStateRecord,
} from '../src/types.js';
import type { WaitRecord } from '../src/waits.js';

export interface StoreContractContext {
  store: Store;
  /** Opens the same underlying data again (after the test closed `store`). */
  reopen?: () => Promise<Store>;
  cleanup?: () => Promise<void>;
}

const HOUR = 3_600_000;
let counter = 0;
const uid = (prefix: string) =>
  `${prefix}-${(counter++).toString().padStart(5, '0')}-${Math.random().toString(36).slice(2, 8)}`;

export function execution(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id: uid('exec'),
    workflowId: 'wf',
    workflowVersion: '1.0.0',
    definitionHash: 'hash-1',
    status: 'running',
    inputs: { n: 1 },
    createdAt: 1_000,
    updatedAt: 1_000,
    ...overrides,
  };
}

export function step(
  executionId: string,
  stepId: string,
  overrides: Partial<StepStateRecord> = {},
): StepStateRecord {
  return { executionId, stepId, status: 'running', attempts: 1, ...overrides };
}

export function entry(seq: number, overrides: Partial<JournalEntry> = {}): JournalEntry {
  return { seq, ts: 1_000 + seq, elapsedMs: seq, type: 'step.started', ...overrides };
}

function definition(overrides: Partial<DefinitionRecord> = {}): DefinitionRecord {
  return {
    id: 'wf',
    version: '1.0.0',
    hash: 'h-1',
    document: { id: 'wf', steps: [{ id: 'a' }] },
    createdAt: 1_000,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await rejection(promise);
  expect(hasCode(error, code), `expected code ${code}, got ${String(error)}`).toBe(true);
}

/** `durable`: the store keeps data across close and reopen (the factory then returns `reopen`). */
export function defineStoreContract(
  name: string,
  factory: () => Promise<StoreContractContext>,
  options: { durable?: boolean } = {},
): void {
  describe(`${name} store contract`, () => {
    let ctx: StoreContractContext;
    let store: Store;
    let opened: Store[] = [];

    beforeEach(async () => {
      ctx = await factory();
      store = ctx.store;
      opened = [store];
    });

    afterEach(async () => {
      for (const s of opened) await s.close();
      await ctx.cleanup?.();
    });

    /** Closes the store and opens the same data again; undefined when the store is not durable. */
    const reopen = async (): Promise<Store | undefined> => {
      if (!ctx.reopen) return undefined;
      await store.close();
      store = await ctx.reopen();
      opened.push(store);
      return store;
    };

    const seed = async (overrides: Partial<ExecutionRecord> = {}) => {
      const e = execution(overrides);
      const result = await store.createExecution(e);
      expect(result.created).toBe(true);
      return e;
    };

    describe('write', () => {
      it('accepts an empty batch', async () => {
        await store.write([]);
      });

      it('round-trips every field of an execution', async () => {
        const e = execution({
          status: 'failed',
          inputs: { text: 'héllo', list: [1, 2.5, null, true], nested: { deep: ['x'] } },
          result: { ok: false, n: 0 },
          error: {
            name: 'Orchestr8Error',
            code: 'TIMEOUT',
            message: 'step a timed out',
            retryable: true,
            attempts: 3,
            details: { stepId: 'a' },
            cause: { name: 'Error', code: 'NETWORK', message: 'reset', retryable: true },
          },
          idempotencyKey: 'idem-1',
          correlationId: 'corr-1',
          parentExecutionId: 'parent-1',
          parentStepId: 'call',
          statusReason: 'step a failed',
          createdAt: 1_000,
          startedAt: 1_001,
          finishedAt: 1_500,
          updatedAt: 1_500,
        });
        await store.write([{ kind: 'execution', execution: e }]);
        expect(await store.getExecution(e.id)).toEqual(e);
      });

      it('keeps null inputs and results distinct from absent ones', async () => {
        const withNull = await seed({ inputs: null, result: null });
        const without = await seed({ inputs: undefined });
        expect(await store.getExecution(withNull.id)).toEqual({ ...withNull, inputs: null, result: null });
        const read = await store.getExecution(without.id);
        expect(read).toBeDefined();
        expect(read!.inputs).toBeUndefined();
        expect('result' in read!).toBe(false);
      });

      it('leaves optional fields that were undefined absent, not null', async () => {
        const e = await seed();
        await store.write([
          { kind: 'step', step: step(e.id, 'a') },
          { kind: 'journal', executionId: e.id, entries: [entry(1)] },
          { kind: 'circuit', circuit: { key: 'c', state: 'closed', failures: 0, updatedAt: 1 } },
        ]);
        const read = (await store.getExecution(e.id))!;
        for (const key of ['result', 'error', 'idempotencyKey', 'startedAt', 'finishedAt', 'statusReason']) {
          expect(key in read, key).toBe(false);
        }
        const [s] = await store.getSteps(e.id);
        for (const key of [
          'output',
          'error',
          'startedAt',
          'finishedAt',
          'statusReason',
          'skipReason',
          'aliasFor',
        ]) {
          expect(key in s!, key).toBe(false);
        }
        const [j] = await store.readJournal(e.id);
        expect(j).toEqual(entry(1));
        for (const key of ['stepId', 'attempt', 'data']) expect(key in j!, key).toBe(false);
        const [c] = await store.loadCircuits();
        expect('openUntil' in c!).toBe(false);
      });

      it('upserts an execution by id, replacing the whole record', async () => {
        const e = await seed({ statusReason: 'starting' });
        const next = execution({
          ...e,
          status: 'completed',
          result: 42,
          finishedAt: 2_000,
          updatedAt: 2_000,
        });
        delete next.statusReason;
        await store.write([{ kind: 'execution', execution: next }]);
        expect(await store.getExecution(e.id)).toEqual(next);
        expect((await store.listExecutions()).items).toHaveLength(1);
      });

      it('upserts steps by execution and step id and returns them in first-write order', async () => {
        const e = await seed();
        const other = await seed();
        await store.write([
          { kind: 'step', step: step(e.id, 'zeta') },
          { kind: 'step', step: step(e.id, 'alpha') },
          {
            kind: 'step',
            step: step(other.id, 'zeta', {
              status: 'skipped',
              statusReason: 'when was false',
              skipReason: 'when was false',
            }),
          },
        ]);
        const done = step(e.id, 'zeta', {
          status: 'completed',
          attempts: 2,
          output: { items: [1, 2] },
          startedAt: 10,
          finishedAt: 20,
          aliasFor: 'zeta-fallback',
          idempotencyKey: `${e.id}:zeta`,
        });
        await store.write([{ kind: 'step', step: done }]);
        expect(await store.getSteps(e.id)).toEqual([done, step(e.id, 'alpha')]);
        expect(await store.getSteps(other.id)).toEqual([
          step(other.id, 'zeta', {
            status: 'skipped',
            statusReason: 'when was false',
            skipReason: 'when was false',
          }),
        ]);
        const failed = step(e.id, 'alpha', {
          status: 'failed',
          error: { name: 'Error', code: 'AGENT_FAILED', message: 'boom', retryable: false },
        });
        await store.write([{ kind: 'step', step: failed }]);
        expect((await store.getSteps(e.id))[1]).toEqual(failed);
      });

      it('appends journal entries and replaces an entry written again with the same seq', async () => {
        const e = await seed();
        await store.write([
          { kind: 'journal', executionId: e.id, entries: [entry(1), entry(2, { stepId: 'a', attempt: 1 })] },
        ]);
        await store.write([
          {
            kind: 'journal',
            executionId: e.id,
            entries: [entry(2, { type: 'step.completed', data: { output: [1] } }), entry(3)],
          },
        ]);
        expect(await store.readJournal(e.id)).toEqual([
          entry(1),
          entry(2, { type: 'step.completed', data: { output: [1] } }),
          entry(3),
        ]);
      });

      it('keeps the last of several entries with the same seq in one journal write', async () => {
        const e = await seed();
        const many = Array.from({ length: 40 }, (_, i) => entry(i + 1));
        await store.write([
          { kind: 'journal', executionId: e.id, entries: [...many, entry(7, { type: 'again' }), entry(41)] },
        ]);
        const read = await store.readJournal(e.id);
        expect(read.map((j) => j.seq)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
        expect(read[6]).toEqual(entry(7, { type: 'again' }));
      });

      it('applies the writes of a batch in order', async () => {
        const e = await seed();
        const batch: StoreWrite[] = [
          { kind: 'step', step: step(e.id, 'a', { status: 'running' }) },
          { kind: 'journal', executionId: e.id, entries: [entry(1), entry(2)] },
          { kind: 'execution', execution: { ...e, status: 'running', updatedAt: 2 } },
          { kind: 'step', step: step(e.id, 'a', { status: 'completed', output: 'done' }) },
          { kind: 'journalTrim', executionId: e.id, beforeSeq: 2 },
          { kind: 'journal', executionId: e.id, entries: [entry(3)] },
          { kind: 'execution', execution: { ...e, status: 'completed', updatedAt: 3, finishedAt: 3 } },
          { kind: 'circuit', circuit: { key: 'k', state: 'open', failures: 5, openUntil: 9, updatedAt: 1 } },
          { kind: 'circuit', circuit: { key: 'k', state: 'halfOpen', failures: 5, updatedAt: 2 } },
        ];
        await store.write(batch);
        expect(await store.getExecution(e.id)).toEqual({
          ...e,
          status: 'completed',
          updatedAt: 3,
          finishedAt: 3,
        });
        expect(await store.getSteps(e.id)).toEqual([
          step(e.id, 'a', { status: 'completed', output: 'done' }),
        ]);
        expect(await store.readJournal(e.id)).toEqual([entry(2), entry(3)]);
        expect(await store.loadCircuits()).toEqual([
          { key: 'k', state: 'halfOpen', failures: 5, updatedAt: 2 },
        ]);
      });

      it('accepts steps and journal entries for an execution created earlier in the same batch', async () => {
        const e = execution();
        await store.write([
          { kind: 'execution', execution: e },
          { kind: 'step', step: step(e.id, 'a') },
          { kind: 'journal', executionId: e.id, entries: [entry(1)] },
        ]);
        expect(await store.getExecution(e.id)).toEqual(e);
        expect(await store.getSteps(e.id)).toHaveLength(1);
        expect(await store.readJournal(e.id)).toHaveLength(1);
      });

      it('rejects a batch that writes to an unknown execution and applies none of it', async () => {
        const e = await seed();
        const stepError = await rejection(
          store.write([
            { kind: 'execution', execution: { ...e, status: 'completed', updatedAt: 5 } },
            { kind: 'step', step: step(e.id, 'a') },
            { kind: 'journal', executionId: e.id, entries: [entry(1)] },
            { kind: 'circuit', circuit: { key: 'k', state: 'closed', failures: 0, updatedAt: 1 } },
            { kind: 'step', step: step('no-such-execution', 'a') },
          ]),
        );
        expect(hasCode(stepError, 'NOT_FOUND')).toBe(true);
        await expectCode(
          store.write([
            { kind: 'step', step: step(e.id, 'b') },
            { kind: 'journal', executionId: 'no-such-execution', entries: [entry(1)] },
          ]),
          'NOT_FOUND',
        );
        expect(await store.getExecution(e.id)).toEqual(e);
        expect(await store.getSteps(e.id)).toEqual([]);
        expect(await store.readJournal(e.id)).toEqual([]);
        expect(await store.loadCircuits()).toEqual([]);
      });

      it('trims journal entries below beforeSeq and keeps later appends', async () => {
        const e = await seed();
        await store.write([
          { kind: 'journal', executionId: e.id, entries: [1, 2, 3, 4, 5].map((n) => entry(n)) },
        ]);
        await store.write([{ kind: 'journalTrim', executionId: e.id, beforeSeq: 4 }]);
        expect((await store.readJournal(e.id)).map((j) => j.seq)).toEqual([4, 5]);
        await store.write([{ kind: 'journal', executionId: e.id, entries: [entry(6)] }]);
        expect((await store.readJournal(e.id)).map((j) => j.seq)).toEqual([4, 5, 6]);
        expect((await store.readJournal(e.id, { afterSeq: 1, limit: 2 })).map((j) => j.seq)).toEqual([4, 5]);
        await store.write([{ kind: 'journalTrim', executionId: 'unknown', beforeSeq: 4 }]);
      });

      it('upserts circuits by key', async () => {
        expect(await store.loadCircuits()).toEqual([]);
        const b: CircuitStateRecord = {
          key: 'http:b.example',
          state: 'open',
          failures: 5,
          openUntil: 99,
          updatedAt: 9,
        };
        await store.write([
          { kind: 'circuit', circuit: { key: 'http:b.example', state: 'closed', failures: 4, updatedAt: 8 } },
          { kind: 'circuit', circuit: { key: 'http:a.example', state: 'closed', failures: 0, updatedAt: 1 } },
        ]);
        await store.write([{ kind: 'circuit', circuit: b }]);
        const circuits = await store.loadCircuits();
        expect(circuits.sort((x, y) => x.key.localeCompare(y.key))).toEqual([
          { key: 'http:a.example', state: 'closed', failures: 0, updatedAt: 1 },
          b,
        ]);
      });

      it('does not let callers change stored state through records they read', async () => {
        const e = await seed();
        await store.write([
          { kind: 'step', step: step(e.id, 'a') },
          { kind: 'journal', executionId: e.id, entries: [entry(1)] },
        ]);
        const read = (await store.getExecution(e.id))!;
        read.status = 'cancelled';
        const [s] = await store.getSteps(e.id);
        s!.status = 'failed';
        const [j] = await store.readJournal(e.id);
        j!.type = 'tampered';
        const page = await store.listExecutions();
        page.items[0]!.workflowId = 'tampered';
        expect((await store.getExecution(e.id))!.status).toBe('running');
        expect((await store.getExecution(e.id))!.workflowId).toBe('wf');
        expect((await store.getSteps(e.id))[0]!.status).toBe('running');
        expect((await store.readJournal(e.id))[0]!.type).toBe('step.started');
      });
    });

    describe('createExecution', () => {
      it('inserts an execution without a claim', async () => {
        const e = execution();
        const result = await store.createExecution(e);
        expect(result).toEqual({ created: true, execution: e });
        expect(await store.getExecution(e.id)).toEqual(e);
      });

      it('rejects an execution id that already exists with CONFLICT', async () => {
        const e = await seed();
        await expectCode(store.createExecution({ ...e, workflowId: 'other' }), 'CONFLICT');
        expect(await store.getExecution(e.id)).toEqual(e);
      });

      it('records the idempotency claim with the execution', async () => {
        const before = Date.now();
        const e = execution({ idempotencyKey: 'order-1' });
        const expiresAt = before + HOUR;
        const result = await store.createExecution(e, { key: 'order-1', fingerprint: 'fp-1', expiresAt });
        expect(result).toEqual({ created: true, execution: e });
        const record = await store.findIdempotency('order-1', before);
        expect(record).toMatchObject({ key: 'order-1', fingerprint: 'fp-1', executionId: e.id, expiresAt });
        expect(record!.createdAt).toBeGreaterThanOrEqual(before - 1);
        expect(record!.createdAt).toBeLessThanOrEqual(Date.now() + 1);
      });

      it('returns the existing record and inserts nothing when a live claim holds the key', async () => {
        const claim = { key: 'order-2', fingerprint: 'fp-1', expiresAt: Date.now() + HOUR };
        const first = execution();
        await store.createExecution(first, claim);
        const second = execution();
        const result = await store.createExecution(second, { ...claim, fingerprint: 'fp-2' });
        expect(result.created).toBe(false);
        if (result.created) return;
        expect(result.existing).toMatchObject({ key: 'order-2', fingerprint: 'fp-1', executionId: first.id });
        expect(await store.getExecution(second.id)).toBeUndefined();
        expect((await store.listExecutions()).items.map((x) => x.id)).toEqual([first.id]);
      });

      it('lets a new claim take over an expired key', async () => {
        const first = execution();
        await store.createExecution(first, {
          key: 'order-3',
          fingerprint: 'fp-1',
          expiresAt: Date.now() - 1,
        });
        expect(await store.findIdempotency('order-3', Date.now())).toBeUndefined();
        const second = execution();
        const expiresAt = Date.now() + HOUR;
        const result = await store.createExecution(second, {
          key: 'order-3',
          fingerprint: 'fp-2',
          expiresAt,
        });
        expect(result).toEqual({ created: true, execution: second });
        expect(await store.findIdempotency('order-3', Date.now())).toMatchObject({
          executionId: second.id,
          fingerprint: 'fp-2',
          expiresAt,
        });
        // The execution that held the expired claim is untouched.
        expect(await store.getExecution(first.id)).toEqual(first);
      });

      it('creates exactly one execution when 50 calls race for the same key', async () => {
        const claim = { key: 'order-race', fingerprint: 'fp', expiresAt: Date.now() + HOUR };
        const candidates = Array.from({ length: 50 }, () => execution());
        const results = await Promise.all(candidates.map((c) => store.createExecution(c, claim)));
        const created = results.filter((r) => r.created);
        expect(created).toHaveLength(1);
        const winner = created[0]!.created ? created[0]!.execution.id : '';
        for (const r of results) if (!r.created) expect(r.existing.executionId).toBe(winner);
        expect((await store.listExecutions()).items.map((e) => e.id)).toEqual([winner]);
      });

      it('records neither execution nor claim when the execution id is taken', async () => {
        const e = await seed();
        await expectCode(
          store.createExecution(
            { ...e },
            { key: 'order-4', fingerprint: 'fp', expiresAt: Date.now() + HOUR },
          ),
          'CONFLICT',
        );
        expect(await store.findIdempotency('order-4', Date.now())).toBeUndefined();
      });
    });

    describe('reading executions', () => {
      it('returns undefined for an unknown execution and empty lists for its steps and journal', async () => {
        expect(await store.getExecution('missing')).toBeUndefined();
        expect(await store.getSteps('missing')).toEqual([]);
        expect(await store.readJournal('missing')).toEqual([]);
      });

      it('lists executions newest first, breaking createdAt ties by id, descending', async () => {
        await seed({ id: 'b', createdAt: 2_000 });
        await seed({ id: 'a', createdAt: 3_000 });
        await seed({ id: 'c', createdAt: 2_000 });
        await seed({ id: 'd', createdAt: 1_000 });
        const page = await store.listExecutions();
        expect(page.items.map((e) => e.id)).toEqual(['a', 'c', 'b', 'd']);
        expect(page.nextCursor).toBeUndefined();
      });

      it('filters by one status, several statuses and workflow id', async () => {
        const statuses: ExecutionStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];
        let t = 0;
        for (const workflowId of ['wf-a', 'wf-b']) {
          for (const status of statuses)
            await seed({ id: `${workflowId}-${status}`, workflowId, status, createdAt: t++ });
        }
        const ids = async (q: Parameters<Store['listExecutions']>[0]) =>
          (await store.listExecutions(q)).items.map((e) => e.id);
        expect(await ids({ status: 'failed' })).toEqual(['wf-b-failed', 'wf-a-failed']);
        expect(await ids({ status: ['completed', 'cancelled'] })).toEqual([
          'wf-b-cancelled',
          'wf-b-completed',
          'wf-a-cancelled',
          'wf-a-completed',
        ]);
        expect(await ids({ workflowId: 'wf-a' })).toEqual(statuses.map((s) => `wf-a-${s}`).reverse());
        expect(await ids({ workflowId: 'wf-a', status: ['running', 'queued'] })).toEqual([
          'wf-a-running',
          'wf-a-queued',
        ]);
        expect(await ids({ workflowId: 'nope' })).toEqual([]);
      });

      it('filters by a correlation id prefix, exactly (no wildcards), with the other filters', async () => {
        const seeds: [string, string | undefined][] = [
          ['a1', 'trigger:nightly@2026-01-01T00:00:00.000Z'],
          ['a2', 'trigger:nightly@2026-01-02T00:00:00.000Z'],
          ['b', 'trigger:nightly2@2026-01-01T00:00:00.000Z'],
          ['c', 'trigger:push#d-1'],
          ['d', 'trigger:n%ghtly@x'],
          ['e', undefined],
        ];
        let t = 0;
        for (const [id, correlationId] of seeds)
          await seed({ id, createdAt: t++, ...(correlationId !== undefined ? { correlationId } : {}) });
        const ids = async (q: Parameters<Store['listExecutions']>[0]) =>
          (await store.listExecutions(q)).items.map((e) => e.id);
        expect(await ids({ correlationIdPrefix: 'trigger:nightly@' })).toEqual(['a2', 'a1']);
        expect(await ids({ correlationIdPrefix: 'trigger:' })).toEqual(['d', 'c', 'b', 'a2', 'a1']);
        expect(await ids({ correlationIdPrefix: 'trigger:n%' })).toEqual(['d']);
        expect(await ids({ correlationIdPrefix: 'trigger:nightly@', status: 'failed' })).toEqual([]);
        expect(await ids({ correlationIdPrefix: ['trigger:nightly@', 'trigger:push#'] })).toEqual([
          'c',
          'a2',
          'a1',
        ]);
        expect(await ids({ correlationIdPrefix: [] })).toEqual([]);
        const first = await store.listExecutions({ correlationIdPrefix: 'trigger:nightly', limit: 2 });
        expect(first.items.map((e) => e.id)).toEqual(['b', 'a2']);
        const second = await store.listExecutions({
          correlationIdPrefix: 'trigger:nightly',
          limit: 2,
          cursor: first.nextCursor!,
        });
        expect(second.items.map((e) => e.id)).toEqual(['a1']);
      });

      it('pages through executions with no duplicates or gaps, even with equal createdAt', async () => {
        const all: ExecutionRecord[] = [];
        for (let i = 0; i < 23; i++) {
          all.push(
            await seed({ id: `e${String(i).padStart(2, '0')}`, createdAt: 1_000 + Math.floor(i / 5) }),
          );
        }
        const expected = [...all]
          .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
          .map((e) => e.id);
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listExecutions({ limit: 4, ...(cursor ? { cursor } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(4);
          seen.push(...page.items.map((e) => e.id));
          cursor = page.nextCursor;
          pages++;
        } while (cursor && pages < 20);
        expect(seen).toEqual(expected);
        expect(pages).toBe(6);
      });

      it('pages a filtered listing and keeps the filter across pages', async () => {
        for (let i = 0; i < 10; i++) {
          await seed({ id: `x${i}`, status: i % 2 ? 'completed' : 'failed', createdAt: 500 });
        }
        const first = await store.listExecutions({ status: 'completed', limit: 3 });
        expect(first.items.map((e) => e.id)).toEqual(['x9', 'x7', 'x5']);
        const second = await store.listExecutions({
          status: 'completed',
          limit: 3,
          cursor: first.nextCursor!,
        });
        expect(second.items.map((e) => e.id)).toEqual(['x3', 'x1']);
        expect(second.nextCursor).toBeUndefined();
      });

      it('does not return a cursor when the last page is exactly full', async () => {
        for (let i = 0; i < 4; i++) await seed({ createdAt: i });
        const page = await store.listExecutions({ limit: 4 });
        expect(page.items).toHaveLength(4);
        expect(page.nextCursor).toBeUndefined();
      });

      it('rejects a malformed cursor with VALIDATION', async () => {
        await seed();
        await expectCode(store.listExecutions({ cursor: 'not a cursor' }), 'VALIDATION');
      });

      it('reads the journal ascending after a seq, up to a limit', async () => {
        const e = await seed();
        // Written out of order: reads are still ascending by seq.
        await store.write([{ kind: 'journal', executionId: e.id, entries: [entry(3), entry(1)] }]);
        await store.write([{ kind: 'journal', executionId: e.id, entries: [entry(2), entry(4), entry(5)] }]);
        const seqs = async (options?: { afterSeq?: number; limit?: number }) =>
          (await store.readJournal(e.id, options)).map((j) => j.seq);
        expect(await seqs()).toEqual([1, 2, 3, 4, 5]);
        expect(await seqs({ afterSeq: 2 })).toEqual([3, 4, 5]);
        expect(await seqs({ afterSeq: 2, limit: 2 })).toEqual([3, 4]);
        expect(await seqs({ limit: 1 })).toEqual([1]);
        expect(await seqs({ afterSeq: 5 })).toEqual([]);
        expect(await seqs({ afterSeq: 0 })).toEqual([1, 2, 3, 4, 5]);
      });
    });

    describe('definitions', () => {
      it('stores a definition and treats the same id, version and hash as a no-op', async () => {
        const d = definition();
        expect(await store.putDefinition(d)).toEqual(d);
        expect(await store.putDefinition({ ...d, createdAt: 9_999 })).toEqual(d);
        expect(await store.listDefinitions()).toEqual([d]);
      });

      it('rejects the same id and version with another hash as CONFLICT and keeps the original', async () => {
        const d = definition();
        await store.putDefinition(d);
        const error = await rejection(
          store.putDefinition({ ...d, hash: 'h-2', document: { changed: true } }),
        );
        expect(hasCode(error, 'CONFLICT'), `expected CONFLICT, got ${String(error)}`).toBe(true);
        // The same answer from every store: which document is stored, and what to do.
        expect((error as { details?: unknown }).details).toEqual({
          id: 'wf',
          version: '1.0.0',
          existingHash: d.hash,
          hash: 'h-2',
        });
        expect(String((error as Error).message)).toMatch(
          /already stored with a different document .*bump the version/,
        );
        expect(await store.getDefinition('wf', '1.0.0')).toEqual(d);
      });

      it('gets a definition by version, by hash, and undefined when missing', async () => {
        const v1 = definition({ version: '1.0.0', hash: 'h-1' });
        const v2 = definition({ version: '2.0.0', hash: 'h-2', createdAt: 2_000 });
        await store.putDefinition(v1);
        await store.putDefinition(v2);
        expect(await store.getDefinition('wf', '1.0.0')).toEqual(v1);
        expect(await store.getDefinition('wf', '3.0.0')).toBeUndefined();
        expect(await store.getDefinition('other')).toBeUndefined();
        expect(await store.getDefinitionByHash('h-2')).toEqual(v2);
        expect(await store.getDefinitionByHash('h-9')).toBeUndefined();
      });

      it('returns the highest semantic version as the latest, whatever the insertion order', async () => {
        const versions = ['1.10.0', '1.2.0', '2.0.0-rc.1', '1.9.3', '2.0.0-beta.2'];
        let t = 5_000;
        for (const version of versions)
          await store.putDefinition(definition({ version, hash: version, createdAt: t-- }));
        expect((await store.getDefinition('wf'))!.version).toBe('2.0.0-rc.1');
        await store.putDefinition(definition({ version: '2.0.0', hash: '2.0.0', createdAt: 1 }));
        expect((await store.getDefinition('wf'))!.version).toBe('2.0.0');
      });

      it('returns the most recently stored as the latest when versions are not semantic', async () => {
        await store.putDefinition(definition({ version: 'zebra', hash: 'z', createdAt: 1_000 }));
        await store.putDefinition(definition({ version: 'apple', hash: 'a', createdAt: 2_000 }));
        await store.putDefinition(definition({ version: '1.0.0', hash: '1', createdAt: 1_500 }));
        expect((await store.getDefinition('wf'))!.version).toBe('apple');
      });

      it('lists every version of every definition', async () => {
        const defs = [
          definition({ id: 'b', version: '1.0.0', hash: 'b1' }),
          definition({ id: 'a', version: '1.0.0', hash: 'a1' }),
          definition({ id: 'a', version: '1.1.0', hash: 'a2', createdAt: 2_000 }),
        ];
        for (const d of defs) await store.putDefinition(d);
        const listed = await store.listDefinitions();
        expect(listed).toHaveLength(3);
        expect(listed).toEqual(expect.arrayContaining(defs));
        expect(listed.map((d) => d.id)).toEqual(['a', 'a', 'b']);
      });
    });

    describe('idempotency and circuits', () => {
      it('finds an idempotency record only while it has not expired', async () => {
        const now = Date.now();
        const e = execution();
        await store.createExecution(e, { key: 'k', fingerprint: 'f', expiresAt: now + HOUR });
        expect(await store.findIdempotency('missing', now)).toBeUndefined();
        expect((await store.findIdempotency('k', now))!.executionId).toBe(e.id);
        expect(await store.findIdempotency('k', now + HOUR - 1)).toBeDefined();
        expect(await store.findIdempotency('k', now + HOUR)).toBeUndefined();
        expect(await store.findIdempotency('k', now + 2 * HOUR)).toBeUndefined();
      });
    });

    describe('cancel requests', () => {
      const byId = (a: { executionId: string }, b: { executionId: string }) =>
        a.executionId < b.executionId ? -1 : a.executionId > b.executionId ? 1 : 0;

      it('records a request for a queued or running execution and reports it as pending', async () => {
        const running = await seed({ status: 'running' });
        const queued = await seed({ status: 'queued' });
        const untouched = await seed({ status: 'running' });
        expect(await store.requestCancel(running.id, 'by ada', 5_000)).toBe('requested');
        expect(await store.requestCancel(queued.id, 'by bob', 6_000)).toBe('requested');
        const pending = await store.pendingCancels([running.id, queued.id, untouched.id]);
        expect(pending.sort(byId)).toEqual(
          [
            { executionId: running.id, reason: 'by ada', requestedAt: 5_000 },
            { executionId: queued.id, reason: 'by bob', requestedAt: 6_000 },
          ].sort(byId),
        );
        // Recording a request changes nothing else about the execution.
        expect(await store.getExecution(running.id)).toEqual(running);
      });

      it('answers finished for a terminal execution and records nothing', async () => {
        for (const status of ['completed', 'failed', 'cancelled'] as const) {
          const e = await seed({ status, finishedAt: 2_000 });
          expect(await store.requestCancel(e.id, 'too late', 3_000)).toBe('finished');
          expect(await store.pendingCancels([e.id])).toEqual([]);
          expect(await store.getExecution(e.id)).toEqual(e);
        }
      });

      it('answers not_found for an unknown execution', async () => {
        expect(await store.requestCancel('no-such-execution', 'why', 1)).toBe('not_found');
        expect(await store.pendingCancels(['no-such-execution'])).toEqual([]);
      });

      it('keeps the first request when another arrives while it is pending', async () => {
        const e = await seed();
        expect(await store.requestCancel(e.id, 'first', 10)).toBe('requested');
        expect(await store.requestCancel(e.id, 'second', 20)).toBe('requested');
        expect(await store.pendingCancels([e.id])).toEqual([
          { executionId: e.id, reason: 'first', requestedAt: 10 },
        ]);
      });

      it('returns only the asked executions, once each, and nothing for an empty list', async () => {
        const a = await seed();
        const b = await seed();
        await store.requestCancel(a.id, 'a', 1);
        await store.requestCancel(b.id, 'b', 2);
        expect(await store.pendingCancels([])).toEqual([]);
        expect(await store.pendingCancels([b.id, 'unknown', b.id])).toEqual([
          { executionId: b.id, reason: 'b', requestedAt: 2 },
        ]);
      });

      it('answers for many executions in one call', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 40; i++) {
          const e = await seed();
          ids.push(e.id);
          if (i % 3 === 0) await store.requestCancel(e.id, `r${i}`, i);
        }
        const asked = [...ids, ...Array.from({ length: 1_500 }, (_, i) => `absent-${i}`)];
        const pending = await store.pendingCancels(asked);
        expect(pending.map((p) => p.reason).sort()).toEqual(
          ids.flatMap((_, i) => (i % 3 === 0 ? [`r${i}`] : [])).sort(),
        );
      });

      it('stops reporting a request once its execution is terminal', async () => {
        const e = await seed();
        await store.requestCancel(e.id, 'stop', 1);
        await store.write([
          { kind: 'execution', execution: { ...e, status: 'cancelled', finishedAt: 2, updatedAt: 2 } },
        ]);
        expect(await store.pendingCancels([e.id])).toEqual([]);
        expect(await store.requestCancel(e.id, 'again', 3)).toBe('finished');
      });

      it('removes a request with its execution on prune, so a re-created id starts clean', async () => {
        const e = await seed();
        await store.requestCancel(e.id, 'stop', 1);
        await store.write([
          { kind: 'execution', execution: { ...e, status: 'cancelled', finishedAt: 2, updatedAt: 2 } },
        ]);
        expect((await store.prune({ finishedBefore: 10, now: 0 })).executions).toBe(1);
        expect((await store.createExecution(execution({ id: e.id }))).created).toBe(true);
        expect(await store.pendingCancels([e.id])).toEqual([]);
        expect(await store.requestCancel(e.id, 'new', 20)).toBe('requested');
        expect(await store.pendingCancels([e.id])).toEqual([
          { executionId: e.id, reason: 'new', requestedAt: 20 },
        ]);
      });

      it('keeps a pending request across close and reopen (durable stores)', async () => {
        const e = await seed();
        await store.requestCancel(e.id, 'from another process', 42);
        const reopened = await reopen();
        if (!reopened) return;
        expect(await reopened.pendingCancels([e.id])).toEqual([
          { executionId: e.id, reason: 'from another process', requestedAt: 42 },
        ]);
      });
    });

    describe('prune', () => {
      it('removes only finished executions older than the cutoff, with their steps and journals', async () => {
        const now = Date.now();
        const oldDone = await seed({ status: 'completed', finishedAt: 1_000, updatedAt: 1_000 });
        const oldCancelled = await seed({ status: 'cancelled', finishedAt: 1_999, updatedAt: 1_999 });
        const oldFailedNoFinish = await seed({ status: 'failed', updatedAt: 1_500 });
        const recentFailed = await seed({ status: 'failed', finishedAt: 2_000, updatedAt: 2_000 });
        const oldRunning = await seed({ status: 'running', createdAt: 10, updatedAt: 10 });
        const oldQueued = await seed({ status: 'queued', createdAt: 10, updatedAt: 10 });
        const all = [oldDone, oldCancelled, oldFailedNoFinish, recentFailed, oldRunning, oldQueued];
        for (const e of all) {
          await store.write([
            { kind: 'step', step: step(e.id, 'a') },
            { kind: 'journal', executionId: e.id, entries: [entry(1), entry(2)] },
          ]);
        }
        await store.createExecution(execution(), { key: 'expired', fingerprint: 'f', expiresAt: now - 1 });
        await store.createExecution(execution(), { key: 'expires-now', fingerprint: 'f', expiresAt: now });
        await store.createExecution(execution(), { key: 'live', fingerprint: 'f', expiresAt: now + HOUR });

        expect(await store.prune({ finishedBefore: 2_000, now })).toEqual({
          executions: 3,
          idempotencyKeys: 2,
        });

        for (const e of [oldDone, oldCancelled, oldFailedNoFinish]) {
          expect(await store.getExecution(e.id)).toBeUndefined();
          expect(await store.getSteps(e.id)).toEqual([]);
          expect(await store.readJournal(e.id)).toEqual([]);
        }
        for (const e of [recentFailed, oldRunning, oldQueued]) {
          expect(await store.getExecution(e.id)).toEqual(e);
          expect(await store.getSteps(e.id)).toHaveLength(1);
          expect(await store.readJournal(e.id)).toHaveLength(2);
        }
        expect(await store.findIdempotency('live', now)).toBeDefined();
        expect(await store.findIdempotency('expired', now - 10)).toBeUndefined();
        expect(await store.prune({ finishedBefore: 2_000, now })).toEqual({
          executions: 0,
          idempotencyKeys: 0,
        });
      });

      it('lets a pruned execution id be created again', async () => {
        const e = await seed({ status: 'completed', finishedAt: 1, updatedAt: 1 });
        await store.write([{ kind: 'step', step: step(e.id, 'a', { status: 'completed' }) }]);
        await store.prune({ finishedBefore: 2, now: 0 });
        const again = execution({ id: e.id });
        expect((await store.createExecution(again)).created).toBe(true);
        expect(await store.getSteps(e.id)).toEqual([]);
      });
    });

    // Stores with waits (memory, SQLite); the others refuse wait steps and skip these.
    describe('waits', () => {
      const wait = (executionId: string, overrides: Partial<WaitRecord> = {}): WaitRecord => ({
        id: `${executionId}/w`,
        executionId,
        stepId: 'w',
        workflowId: 'wf',
        kind: 'event',
        state: 'pending',
        events: ['paid'],
        version: 0,
        createdAt: 1,
        ...overrides,
      });

      it('claims a wait once: a second claim of the same version loses', async () => {
        const ws = store.waits;
        if (ws === undefined) return;
        const e = await seed({ status: 'waiting' });
        const w = wait(e.id);
        await ws.putWait(w);
        expect(await ws.waitsForEvent('paid')).toEqual([w]);
        const next: WaitRecord = { ...w, state: 'woken', version: 1, outcome: { kind: 'event', at: 5 } };
        const claims = await Promise.all([ws.claimWait(w.id, 0, next), ws.claimWait(w.id, 0, next)]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect(await ws.getWait(w.id)).toEqual(next);
        expect(await ws.waitsForEvent('paid')).toEqual([]);
        expect(await ws.dueWaits(0)).toEqual([next]);
        const takes = await Promise.all([ws.takeWaitingExecution(e.id, 9), ws.takeWaitingExecution(e.id, 9)]);
        expect(takes.filter(Boolean)).toHaveLength(1);
        expect((await store.getExecution(e.id))!.status).toBe('running');
        await ws.deleteWait(w.id);
        expect(await ws.listWaits()).toEqual([]);
      });

      it('lists due timers in due order and reports the next one', async () => {
        const ws = store.waits;
        if (ws === undefined) return;
        const e = await seed({ status: 'waiting' });
        const late = wait(e.id, { id: 'a', kind: 'timer', events: undefined, dueAt: 200 });
        const early = wait(e.id, { id: 'b', kind: 'timer', events: undefined, dueAt: 100 });
        await ws.putWait(late);
        await ws.putWait(early);
        expect(await ws.nextDueAt()).toBe(100);
        expect((await ws.dueWaits(150)).map((w) => w.id)).toEqual(['b']);
        expect((await ws.dueWaits(300)).map((w) => w.id)).toEqual(['b', 'a']);
      });

      it('keeps an event once per name and id, and returns recent ones oldest first', async () => {
        const ws = store.waits;
        if (ws === undefined) return;
        const ev = (id: string, receivedAt: number) => ({ name: 'paid', id, payload: { id }, receivedAt });
        expect(await ws.putEvent(ev('2', 20))).toBe(true);
        expect(await ws.putEvent(ev('1', 10))).toBe(true);
        expect(await ws.putEvent(ev('1', 30))).toBe(false);
        expect((await ws.recentEvents('paid', 0)).map((e) => e.id)).toEqual(['1', '2']);
        expect((await ws.recentEvents('paid', 15)).map((e) => e.id)).toEqual(['2']);
        expect(await ws.pruneEvents(15)).toBe(1);
        expect((await ws.recentEvents('paid', 0)).map((e) => e.id)).toEqual(['2']);
      });

      it('finds the waits an event can match through its correlation keys, and no woken or deleted ones', async () => {
        const ws = store.waits;
        if (ws === undefined) return;
        const e = await seed({ status: 'waiting' });
        const keyed = (id: string, value: string) =>
          wait(e.id, { id, correlations: [{ path: 'payload.orderId', value }], createdAt: id.charCodeAt(0) });
        const a = keyed('a', '"o-1"');
        const b = keyed('b', '"o-2"');
        const c = wait(e.id, { id: 'c', createdAt: 99 });
        const all = wait(e.id, {
          id: 'd',
          kind: 'all',
          events: ['paid', 'shipped'],
          received: [{ name: 'paid', id: 'x', payload: null, receivedAt: 1 }, null],
          createdAt: 100,
        });
        for (const w of [a, b, c, all]) await ws.putWait(w);
        const ev = { name: 'paid', id: 'p', payload: { orderId: 'o-1' }, receivedAt: 5 };
        const ids = (list: WaitRecord[]) => list.map((w) => w.id).sort();
        // Without the event: every pending wait for the name. With it: at least a and c.
        expect(ids(await ws.waitsForEvent('paid'))).toEqual(expect.arrayContaining(['a', 'b', 'c']));
        expect(ids(await ws.waitsForEvent('paid', ev))).toEqual(expect.arrayContaining(['a', 'c']));
        expect(ids(await ws.waitsForEvent('shipped', { ...ev, name: 'shipped' }))).toEqual(['d']);
        await ws.claimWait('a', 0, { ...a, state: 'woken', version: 1, outcome: { kind: 'event', at: 5 } });
        await ws.deleteWait('c');
        expect(ids(await ws.waitsForEvent('paid', ev)).filter((id) => id !== 'd')).toEqual([]);
      });

      it('remembers the first answer under a key until it expires', async () => {
        const ws = store.waits;
        if (ws?.putAnswer === undefined || ws.getAnswer === undefined) return;
        const first = { fingerprint: 'f1', answer: { woken: 1 }, expiresAt: 100 };
        expect(await ws.putAnswer('k', first, 10)).toBeUndefined();
        expect(await ws.putAnswer('k', { ...first, answer: { woken: 2 } }, 20)).toEqual(first);
        expect(await ws.getAnswer('k', 50)).toEqual(first);
        expect(await ws.getAnswer('k', 100)).toBeUndefined();
        const later = { fingerprint: 'f2', answer: 'again', expiresAt: 300 };
        expect(await ws.putAnswer('k', later, 150)).toBeUndefined();
        expect(await ws.getAnswer('k', 200)).toEqual(later);
      });
    });

    describe('lifecycle', () => {
      it('closes idempotently and rejects use after close with STORE', async () => {
        await store.close();
        await store.close();
        await expectCode(store.getExecution('x'), 'STORE');
        await expectCode(store.write([]), 'STORE');
      });

      // Only durable stores promise this; volatile ones (memory, :memory:) do not get the test.
      const itDurable = options.durable ? it : (_name: string, _fn: () => Promise<void>) => {};
      itDurable('keeps everything written across close and reopen', async () => {
        if (!ctx.reopen) throw new Error('a durable store contract needs reopen()');
        const now = Date.now();
        const e = execution({ status: 'completed', result: { sum: 3 }, finishedAt: 5, updatedAt: 5 });
        await store.createExecution(e, { key: 'durable', fingerprint: 'f', expiresAt: now + HOUR });
        const other = await seed({ createdAt: 2_000 });
        const s = step(e.id, 'a', { status: 'completed', output: [1, { x: 'y' }], finishedAt: 4 });
        const journal = [entry(1), entry(2, { stepId: 'a', attempt: 1, data: { output: [1] } })];
        const circuit: CircuitStateRecord = {
          key: 'c',
          state: 'open',
          failures: 3,
          openUntil: 77,
          updatedAt: 7,
        };
        const d = definition();
        await store.write([
          { kind: 'step', step: s },
          { kind: 'journal', executionId: e.id, entries: journal },
          { kind: 'circuit', circuit },
        ]);
        await store.putDefinition(d);

        const reopened = (await reopen())!;
        expect(await reopened.getExecution(e.id)).toEqual(e);
        expect((await reopened.listExecutions()).items.map((x) => x.id)).toEqual([other.id, e.id]);
        expect(await reopened.getSteps(e.id)).toEqual([s]);
        expect(await reopened.readJournal(e.id)).toEqual(journal);
        expect(await reopened.loadCircuits()).toEqual([circuit]);
        expect(await reopened.getDefinition('wf')).toEqual(d);
        expect((await reopened.findIdempotency('durable', now))!.executionId).toBe(e.id);
        const again = await reopened.createExecution(execution(), {
          key: 'durable',
          fingerprint: 'f',
          expiresAt: now + HOUR,
        });
        expect(again.created).toBe(false);
      });
    });
  });
}
