import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreWrite } from '@orchestr8/core';
import { afterEach, describe, expect, it } from 'vitest';
import { entry, execution, step } from '../../core/test/store-contract.js';
import { openSqliteStore, type SqliteStore } from '../src/index.js';

describe('a batch written as multi-row statements', () => {
  let dir: string;
  let store: SqliteStore;
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = async () => {
    dir = mkdtempSync(join(tmpdir(), 'o8-batch-'));
    store = await openSqliteStore({ path: join(dir, 'store.db') });
  };

  it('ends as the writes applied in order, across many executions, steps and entries', async () => {
    await open();
    const executions = Array.from({ length: 7 }, () => execution());
    for (const e of executions) await store.createExecution(e);
    const batch: StoreWrite[] = [];
    // Interleaved as the engine writes them, 45 steps and 135 entries: more than one chunk.
    for (let i = 0; i < 45; i++) {
      const e = executions[i % 7]!;
      const seq = Math.floor(i / 7) * 3;
      batch.push({ kind: 'step', step: step(e.id, `s${Math.floor(i / 7)}`) });
      batch.push({ kind: 'journal', executionId: e.id, entries: [entry(seq + 1), entry(seq + 2)] });
      batch.push({
        kind: 'journal',
        executionId: e.id,
        entries: [entry(seq + 3, { type: 'step.completed', data: { i } })],
      });
    }
    const e0 = executions[0]!;
    // The same step and entry twice in one batch, and the execution: the later write wins.
    batch.push({ kind: 'step', step: step(e0.id, 's0', { status: 'completed', output: { v: 2 } }) });
    batch.push({ kind: 'journal', executionId: e0.id, entries: [entry(1, { type: 'step.retrying' })] });
    batch.push({ kind: 'execution', execution: { ...e0, status: 'completed', updatedAt: 9 } });
    batch.push({ kind: 'execution', execution: { ...e0, status: 'failed', updatedAt: 10 } });
    // A trim drops the entries before it, not those written after it.
    batch.push({ kind: 'journalTrim', executionId: e0.id, beforeSeq: 4 });
    batch.push({ kind: 'journal', executionId: e0.id, entries: [entry(100)] });
    batch.push({ kind: 'circuit', circuit: { key: 'k', state: 'open', failures: 3, updatedAt: 1 } });
    await store.write(batch);

    expect(await store.getExecution(e0.id)).toMatchObject({ status: 'failed', updatedAt: 10 });
    const steps0 = await store.getSteps(e0.id);
    expect(steps0.map((s) => s.stepId)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
    expect(steps0[0]).toMatchObject({ status: 'completed', output: { v: 2 } });
    const journal0 = await store.readJournal(e0.id);
    expect(journal0[0]!.seq).toBe(4);
    expect(journal0.map((j) => j.seq)).toEqual([...Array.from({ length: 18 }, (_, k) => k + 4), 100]);
    const e6 = executions[6]!;
    expect((await store.getSteps(e6.id)).map((s) => s.stepId)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
    const journal6 = await store.readJournal(e6.id);
    expect(journal6.map((j) => j.seq)).toEqual(Array.from({ length: 18 }, (_, k) => k + 1));
    expect(journal6[2]).toMatchObject({ type: 'step.completed', data: { i: 6 } });
    expect(await store.loadCircuits()).toEqual([{ key: 'k', state: 'open', failures: 3, updatedAt: 1 }]);
  });

  it('updates an execution row in place, its listings following, and still upserts one whose identity changed', async () => {
    await open();
    const e = execution({ correlationId: 'trigger:a#1' });
    await store.createExecution(e);
    await store.write([
      { kind: 'execution', execution: { ...e, status: 'completed', result: { ok: 1 }, updatedAt: 7 } },
    ]);
    expect(await store.getExecution(e.id)).toEqual({
      ...e,
      status: 'completed',
      result: { ok: 1 },
      updatedAt: 7,
    });
    expect((await store.listExecutions({ status: 'completed' })).items.map((x) => x.id)).toEqual([e.id]);
    expect((await store.listExecutions({ status: 'running' })).items).toEqual([]);
    // Another workflow id, creation time and correlation: the whole row is replaced.
    const moved = { ...e, workflowId: 'other', createdAt: 5, correlationId: 'trigger:b#1', updatedAt: 8 };
    await store.write([{ kind: 'execution', execution: moved }]);
    expect(await store.getExecution(e.id)).toEqual(moved);
    expect((await store.listExecutions({ workflowId: 'other' })).items.map((x) => x.id)).toEqual([e.id]);
    expect(
      (await store.listExecutions({ correlationIdPrefix: 'trigger:b#' })).items.map((x) => x.id),
    ).toEqual([e.id]);
    expect((await store.listExecutions({ workflowId: 'wf' })).items).toEqual([]);
  });

  it('names the write whose execution does not exist, and applies none of the batch', async () => {
    await open();
    const e = execution();
    await store.createExecution(e);
    const batch: StoreWrite[] = [];
    for (let i = 0; i < 40; i++) batch.push({ kind: 'step', step: step(e.id, `s${i}`) });
    batch.push({ kind: 'journal', executionId: 'gone', entries: [entry(1)] });
    await expect(store.write(batch)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'cannot write journal: execution gone does not exist',
    });
    expect(await store.getSteps(e.id)).toEqual([]);
  });
});
