/**
 * Listing executions as the console does, with 100,000 executions in the store: the newest
 * page, each filter (status, workflow, trigger, time range, id prefix), a page deep in the
 * cursor chain, and the reruns of one execution.
 *
 *   node --import tsx packages/store-sqlite/bench/list.bench.ts
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExecutionQuery, ExecutionRecord, StoreWrite } from '@orchestr8/core';
import { openSqliteStore } from '@orchestr8/store-sqlite';
import { Bench } from 'tinybench';
import type { StoreBenchResult } from './store.bench.js';

const STATUSES = ['completed', 'completed', 'completed', 'failed', 'cancelled', 'running'] as const;

export async function runListBench(
  options: { executions?: number; timeMs?: number } = {},
): Promise<StoreBenchResult[]> {
  const total = options.executions ?? 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'orchestr8-list-bench-'));
  const store = await openSqliteStore({ path: join(dir, 'list.db') });
  try {
    const t0 = 1_700_000_000_000;
    let some = '';
    let rerunOrigin = '';
    for (let i = 0; i < total; i += 1000) {
      const batch: StoreWrite[] = [];
      for (let k = i; k < Math.min(total, i + 1000); k++) {
        const id = randomUUID();
        if (k === Math.floor(total / 2)) some = id;
        if (k === 10) rerunOrigin = id;
        const e: ExecutionRecord = {
          id,
          workflowId: `wf-${k % 20}`,
          workflowVersion: '1.0.0',
          definitionHash: 'h',
          status: STATUSES[k % STATUSES.length]!,
          inputs: { k },
          createdAt: t0 + k * 1000,
          updatedAt: t0 + k * 1000,
        };
        // One in a hundred is started by a trigger; a few are reruns of one old execution.
        if (k % 100 === 0) e.correlationId = `trigger:nightly@${new Date(e.createdAt).toISOString()}`;
        if (k > 10 && k % 20_000 === 0) e.correlationId = `rerun:${rerunOrigin}@load`;
        batch.push({ kind: 'execution', execution: e });
      }
      await store.write(batch);
    }
    const bench = new Bench({ time: options.timeMs ?? 500, warmup: true });
    const list = (name: string, q: ExecutionQuery) =>
      bench.add(`list ${total.toLocaleString('en')}: ${name}`, async () => {
        await store.listExecutions({ limit: 50, ...q });
      });
    list('newest 50', {});
    list('status failed', { status: 'failed' });
    list('workflow', { workflowId: 'wf-7' });
    list('trigger (1 in 100)', { correlationIdPrefix: ['trigger:nightly@', 'trigger:nightly#'] });
    list('a one-hour window', { since: t0 + (total / 2) * 1000, until: t0 + (total / 2) * 1000 + 3_600_000 });
    list('id prefix (8 chars)', { idPrefix: some.slice(0, 8) });
    list('reruns of one execution', { correlationIdPrefix: `rerun:${rerunOrigin}@` });
    let deep: string | undefined;
    for (let p = 0; p < 100; p++)
      deep = (await store.listExecutions({ limit: 50, ...(deep ? { cursor: deep } : {}) })).nextCursor;
    list('page 100 (cursor)', { cursor: deep! });
    await bench.run();
    return bench.tasks.map((task) => {
      const result = task.result;
      if (result.state !== 'completed')
        throw new Error(`bench ${task.name} did not complete: ${result.state}`);
      return {
        name: task.name,
        medianUs: Math.round(result.latency.p50 * 10_000) / 10,
        p99Us: Math.round(result.latency.p99 * 10_000) / 10,
        opsPerSecond: Math.round(result.throughput.mean),
      };
    });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await runListBench());
}
