import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '@orchestr8/common';
import { type Agent, type AgentRegistry, createEngine, type Engine } from '@orchestr8/core';
import { afterEach, describe, expect, it } from 'vitest';
import { execution } from '../../core/test/store-contract.js';
import { openSqliteStore, type SqliteStore } from '../src/index.js';

const HOUR = 3_600_000;

describe('creating a turn of executions in one transaction', () => {
  let dir: string;
  let store: SqliteStore | undefined;
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.close();
    await store?.close();
    engine = undefined;
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  const open = async () => {
    dir = mkdtempSync(join(tmpdir(), 'o8-create-many-'));
    store = await openSqliteStore({ path: join(dir, 'store.db') });
    return store;
  };

  it('settles each execution as createExecution would: a live key answers the first, a duplicate id fails alone', async () => {
    const s = await open();
    const a = execution();
    const b = execution();
    const claim = { key: 'k-1', fingerprint: 'f', expiresAt: Date.now() + HOUR };
    const results = await s.createExecutions!([
      { execution: a, claim },
      { execution: b, claim },
      { execution: { ...a } },
      { execution: execution({ id: 'c' }) },
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(results[0]).toMatchObject({ value: { created: true } });
    // The second asked for the same key in the same turn: it gets the first execution.
    expect(results[1]).toMatchObject({ value: { created: false, existing: { executionId: a.id } } });
    const failed = results[2] as PromiseRejectedResult;
    expect(hasCode(failed.reason, 'CONFLICT')).toBe(true);
    expect(await s.getExecution(a.id)).toMatchObject({ id: a.id });
    expect(await s.getExecution(b.id)).toBeUndefined();
    expect(await s.getExecution('c')).toMatchObject({ id: 'c' });
  });

  it('settles a lone execution the same way: created, then a repeated id fails and a live key answers the first', async () => {
    const s = await open();
    const a = execution();
    const claim = { key: 'k-alone', fingerprint: 'f', expiresAt: Date.now() + HOUR };
    expect(await s.createExecutions!([{ execution: a, claim }])).toMatchObject([
      { status: 'fulfilled', value: { created: true } },
    ]);
    const [again] = await s.createExecutions!([{ execution: { ...a } }]);
    expect(again!.status).toBe('rejected');
    expect(hasCode((again as PromiseRejectedResult).reason, 'CONFLICT')).toBe(true);
    expect(await s.createExecutions!([{ execution: execution(), claim }])).toMatchObject([
      { status: 'fulfilled', value: { created: false, existing: { executionId: a.id } } },
    ]);
  });

  it('the engine starts a burst of executions with keys through it: each once, each completed', async () => {
    const s = await open();
    const double: Agent<{ n: number }, { n: number }> = {
      id: 'double',
      execute: async (input) => ({ n: input.n * 2 }),
    };
    const registry: AgentRegistry = { get: () => double, has: (id) => id === 'double', list: () => [double] };
    engine = createEngine({ store: s, registry });
    const workflow = engine.compile({
      version: '1.0.0',
      metadata: { id: 'burst' },
      inputs: { type: 'object', properties: { n: { type: 'number' } } },
      steps: [{ id: 'double', agent: 'double', input: { n: '${inputs.n}' } }],
    });
    const e = engine;
    // 50 starts in one turn, each key asked twice: 50 executions, the repeats get the same ids.
    const starts = Array.from({ length: 100 }, (_, i) =>
      e.start(workflow, { inputs: { n: i % 50 }, idempotencyKey: `key-${i % 50}` }),
    );
    const handles = await Promise.all(starts);
    expect(handles.filter((h) => h.created)).toHaveLength(50);
    for (let i = 0; i < 50; i++) expect(handles[i + 50]!.id).toBe(handles[i]!.id);
    const results = await Promise.all(handles.slice(0, 50).map((h) => h.result));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill('completed'));
    expect(results.map((r) => r.steps.double?.output)).toEqual(
      Array.from({ length: 50 }, (_, i) => ({ n: i * 2 })),
    );
    const page = await s.listExecutions({ workflowId: 'burst', limit: 1000 });
    expect(page.items).toHaveLength(50);
  });
});
