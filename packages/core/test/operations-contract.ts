/**
 * What retry, rerun and the console's listing need from a `Store`: `reopenExecution` and the
 * `since`/`until`/`idPrefix` filters of `listExecutions`. Each store's contract test file calls
 * `defineOperationsContract` with a factory returning a fresh, empty store.
 */
import { hasCode } from '@orchestr8/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, StoreWrite } from '../src/store.js';
import { entry, execution, step } from './store-contract.js';

export function defineOperationsContract(
  name: string,
  factory: () => Promise<{ store: Store; cleanup?: () => Promise<void> }>,
): void {
  describe(`${name} store: operations contract`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;
    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    const reopenWrites = (id: string, seq: number): StoreWrite[] => [
      { kind: 'step', step: step(id, 'b', { status: 'pending', attempts: 0 }) },
      {
        kind: 'execution',
        execution: execution({ id, status: 'queued', createdAt: 1_000, updatedAt: 2_000 }),
      },
      { kind: 'journal', executionId: id, entries: [entry(seq, { type: 'execution.retried' })] },
    ];

    describe('reopenExecution', () => {
      it('applies the writes when the status is one of those expected, and only once', async () => {
        const e = execution({ status: 'failed', finishedAt: 1_500 });
        await store.createExecution(e);
        await store.write([
          { kind: 'step', step: step(e.id, 'a', { status: 'completed', output: { x: 1 } }) },
          { kind: 'step', step: step(e.id, 'b', { status: 'failed', attempts: 3 }) },
          { kind: 'journal', executionId: e.id, entries: [entry(1), entry(2, { type: 'execution.failed' })] },
        ]);
        expect(await store.reopenExecution!(e.id, ['failed', 'cancelled'], reopenWrites(e.id, 3))).toEqual({
          reopened: true,
        });
        const after = await store.getExecution(e.id);
        expect(after?.status).toBe('queued');
        expect(after?.finishedAt).toBeUndefined();
        const steps = await store.getSteps(e.id);
        expect(steps.find((s) => s.stepId === 'a')).toMatchObject({ status: 'completed', output: { x: 1 } });
        expect(steps.find((s) => s.stepId === 'b')).toMatchObject({ status: 'pending', attempts: 0 });
        expect((await store.readJournal(e.id)).map((j) => j.type)).toEqual([
          'step.started',
          'execution.failed',
          'execution.retried',
        ]);
        // A second caller expecting `failed` finds it queued: nothing is written.
        const again = await store.reopenExecution!(e.id, ['failed', 'cancelled'], reopenWrites(e.id, 4));
        expect(again).toEqual({ reopened: false, status: 'queued' });
        expect(await store.readJournal(e.id)).toHaveLength(3);
      });

      it('of concurrent callers, exactly one reopens', async () => {
        const e = execution({ status: 'cancelled' });
        await store.createExecution(e);
        const outcomes = await Promise.all(
          [0, 1, 2, 3].map(() =>
            store.reopenExecution!(e.id, ['failed', 'cancelled'], reopenWrites(e.id, 1)),
          ),
        );
        expect(outcomes.filter((o) => o.reopened)).toHaveLength(1);
      });

      it('says when there is no such execution', async () => {
        expect(await store.reopenExecution!('missing', ['failed'], [])).toEqual({ reopened: false });
      });

      it('records an idempotency claim with it; a live claim on the key wins and nothing is written', async () => {
        const e = execution({ status: 'failed' });
        await store.createExecution(e);
        const claim = { key: `retry-${e.id}`, fingerprint: 'f', expiresAt: Date.now() + 3_600_000 };
        expect((await store.reopenExecution!(e.id, ['failed'], reopenWrites(e.id, 1), claim)).reopened).toBe(
          true,
        );
        expect(await store.findIdempotency(claim.key, Date.now())).toMatchObject({
          executionId: e.id,
          fingerprint: 'f',
        });
        await store.write([{ kind: 'execution', execution: { ...e, status: 'failed' } }]);
        const replay = await store.reopenExecution!(e.id, ['failed'], reopenWrites(e.id, 2), claim);
        expect(replay).toMatchObject({ reopened: false, existing: { key: claim.key, executionId: e.id } });
        expect(await store.readJournal(e.id)).toHaveLength(1);
        // A refused reopen records no claim.
        const other = { ...claim, key: `other-${e.id}` };
        await store.write([{ kind: 'execution', execution: { ...e, status: 'running' } }]);
        expect((await store.reopenExecution!(e.id, ['failed'], [], other)).reopened).toBe(false);
        expect(await store.findIdempotency(other.key, Date.now())).toBeUndefined();
      });

      it('drops a cancel request recorded before, so the reopened execution is not cancelled again', async () => {
        const e = execution({ status: 'running' });
        await store.createExecution(e);
        expect(await store.requestCancel(e.id, 'stop', 1)).toBe('requested');
        await store.write([{ kind: 'execution', execution: { ...e, status: 'cancelled' } }]);
        expect((await store.reopenExecution!(e.id, ['cancelled'], reopenWrites(e.id, 1))).reopened).toBe(
          true,
        );
        expect(await store.pendingCancels([e.id])).toEqual([]);
      });

      it('writes nothing when a write of the batch fails', async () => {
        const e = execution({ status: 'failed' });
        await store.createExecution(e);
        const bad: StoreWrite[] = [
          ...reopenWrites(e.id, 1),
          { kind: 'step', step: step('no-such-execution', 'x') },
        ];
        const error = await store.reopenExecution!(e.id, ['failed'], bad).catch((x: unknown) => x);
        expect(hasCode(error, 'NOT_FOUND') || hasCode(error, 'STORE')).toBe(true);
        expect((await store.getExecution(e.id))?.status).toBe('failed');
      });
    });

    describe('listExecutions filters', () => {
      it('lists the sub-workflow executions of an execution, newest first', async () => {
        await store.createExecution(execution({ id: 'parent', createdAt: 1 }));
        await store.createExecution(execution({ id: 'other', createdAt: 1 }));
        for (const [id, parent, at] of [
          ['c1', 'parent', 10],
          ['c2', 'parent', 20],
          ['c3', 'other', 30],
        ] as const) {
          await store.createExecution(
            execution({ id, parentExecutionId: parent, parentStepId: 's', createdAt: at }),
          );
        }
        const children = await store.listExecutions({ parentExecutionId: 'parent' });
        expect(children.items.map((e) => e.id)).toEqual(['c2', 'c1']);
        expect((await store.listExecutions({ parentExecutionId: 'c1' })).items).toEqual([]);
      });

      it('lists by correlation prefix the same whether few or many executions match (newest first, paged)', async () => {
        const writes: StoreWrite[] = [];
        // 1,800 for busy@ (more than the SQLite store reads through its index), 200 for busyé#.
        for (let i = 0; i < 2_400; i++) {
          const correlationId =
            i % 4 !== 3 ? `trigger:busy@${i}` : i % 3 === 0 ? `trigger:busyé#${i}` : undefined;
          writes.push({
            kind: 'execution',
            execution: execution({
              id: `x-${String(i).padStart(4, '0')}`,
              createdAt: 10_000 + i,
              ...(correlationId ? { correlationId } : {}),
            }),
          });
        }
        writes.push({
          kind: 'execution',
          execution: execution({ id: 'near', correlationId: 'trigger:busy', createdAt: 1 }),
        });
        writes.push({
          kind: 'execution',
          execution: execution({ id: 'after', correlationId: 'trigger:busyA', createdAt: 2 }),
        });
        await store.write(writes);
        const many = await store.listExecutions({ correlationIdPrefix: 'trigger:busy@', limit: 3 });
        expect(many.items.map((e) => e.id)).toEqual(['x-2398', 'x-2397', 'x-2396']);
        const next = await store.listExecutions({
          correlationIdPrefix: 'trigger:busy@',
          limit: 3,
          cursor: many.nextCursor!,
        });
        expect(next.items.map((e) => e.id)).toEqual(['x-2394', 'x-2393', 'x-2392']);
        const few = await store.listExecutions({ correlationIdPrefix: ['trigger:busyé#'], limit: 1000 });
        expect(few.items).toHaveLength(200);
        expect(few.items[0]!.id).toBe('x-2391');
        expect(
          (await store.listExecutions({ correlationIdPrefix: 'trigger:busy', limit: 1000 })).items,
        ).toHaveLength(1000);
        expect(
          (await store.listExecutions({ correlationIdPrefix: 'trigger:busyA' })).items.map((e) => e.id),
        ).toEqual(['after']);
      });

      it('filters by creation time (since inclusive, until exclusive) and id prefix, with paging', async () => {
        for (let i = 0; i < 10; i++) {
          await store.createExecution(
            execution({ id: `${i % 2 === 0 ? 'ab' : 'cd'}-${i}`, createdAt: 1_000 + i * 10 }),
          );
        }
        const ids = async (q: Parameters<Store['listExecutions']>[0]) =>
          (await store.listExecutions(q)).items.map((e) => e.id);
        expect(await ids({ since: 1_050 })).toEqual(['cd-9', 'ab-8', 'cd-7', 'ab-6', 'cd-5']);
        expect(await ids({ until: 1_020 })).toEqual(['cd-1', 'ab-0']);
        expect(await ids({ since: 1_020, until: 1_050 })).toEqual(['ab-4', 'cd-3', 'ab-2']);
        expect(await ids({ idPrefix: 'ab' })).toEqual(['ab-8', 'ab-6', 'ab-4', 'ab-2', 'ab-0']);
        // A prefix is compared exactly: no wildcards.
        expect(await ids({ idPrefix: 'a%' })).toEqual([]);
        expect(await ids({ idPrefix: '_b' })).toEqual([]);
        const first = await store.listExecutions({ idPrefix: 'cd', since: 1_010, limit: 2 });
        expect(first.items.map((e) => e.id)).toEqual(['cd-9', 'cd-7']);
        const second = await store.listExecutions({
          idPrefix: 'cd',
          since: 1_010,
          limit: 2,
          cursor: first.nextCursor!,
        });
        expect(second.items.map((e) => e.id)).toEqual(['cd-5', 'cd-3']);
      });
    });
  });
}
