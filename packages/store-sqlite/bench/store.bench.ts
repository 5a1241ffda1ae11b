/**
 * Store write benchmarks: one `write()` per engine scheduler turn (group commit), on a real
 * file in WAL mode with synchronous=NORMAL (the default) and FULL.
 *
 *   node --import tsx packages/store-sqlite/bench/store.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExecutionRecord, JournalEntry, StepStateRecord, StoreWrite } from '@orchestr8/core';
import { openSqliteStore, type SqliteStore } from '@orchestr8/store-sqlite';
import { Bench } from 'tinybench';

/** For scripts/bench.ts's SQLite engine rows: the store as this package resolves it (dist, or src under --conditions=source). */
export { openSqliteStore };

export interface StoreBenchResult {
  name: string;
  medianUs: number;
  p99Us: number;
  opsPerSecond: number;
}

const OUTPUT = { message: 'hello from step', items: [1, 2, 3], nested: { ok: true, at: 1_700_000_000_000 } };

function fixture(store: SqliteStore) {
  let executionNo = 0;
  let seq = 0;
  let execution: ExecutionRecord;
  const newExecution = async () => {
    execution = {
      id: `bench-${executionNo++}`,
      workflowId: 'bench',
      workflowVersion: '1.0.0',
      definitionHash: 'h',
      status: 'running',
      inputs: { n: executionNo },
      createdAt: Date.now(),
      updatedAt: Date.now(),
    };
    seq = 0;
    await store.createExecution(execution);
  };
  const step = (i: number): StepStateRecord => ({
    executionId: execution.id,
    stepId: `step-${i}`,
    status: 'completed',
    attempts: 1,
    output: OUTPUT,
    startedAt: 1,
    finishedAt: 2,
    idempotencyKey: `${execution.id}:step-${i}`,
  });
  const journal = (stepId: string, n: number): JournalEntry[] =>
    Array.from({ length: n }, (_, k) => ({
      seq: ++seq,
      ts: Date.now(),
      elapsedMs: seq * 0.25,
      type: k === n - 1 ? 'step.completed' : 'step.started',
      stepId,
      attempt: 1,
      ...(k === n - 1 ? { data: { output: OUTPUT } } : {}),
    }));
  /** One scheduler turn: one step finished, three journal entries. */
  const turn = (): StoreWrite[] => {
    const s = step(seq % 10);
    return [
      { kind: 'step', step: s },
      { kind: 'journal', executionId: execution.id, entries: journal(s.stepId, 3) },
    ];
  };
  /** A wide fan-out turn: 20 step upserts and 60 journal entries. */
  const wideTurn = (): StoreWrite[] => {
    const out: StoreWrite[] = [];
    for (let i = 0; i < 20; i++) {
      const s = step(i);
      out.push(
        { kind: 'step', step: s },
        { kind: 'journal', executionId: execution.id, entries: journal(s.stepId, 3) },
      );
    }
    return out;
  };
  return { newExecution, turn, wideTurn };
}

export async function runStoreBench(options: { timeMs?: number } = {}): Promise<StoreBenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'orchestr8-store-bench-'));
  const stores: SqliteStore[] = [];
  try {
    const bench = new Bench({ time: options.timeMs ?? 1000, warmup: true });
    for (const synchronous of ['NORMAL', 'FULL'] as const) {
      const store = await openSqliteStore({ path: join(dir, `bench-${synchronous}.db`), synchronous });
      stores.push(store);
      const f = fixture(store);
      await f.newExecution();
      let turns = 0;
      bench.add(`sqlite write: 1 step + 3 journal (${synchronous})`, async () => {
        // A fresh execution every 100 turns keeps the journal of one execution realistic.
        if (++turns % 100 === 0) await f.newExecution();
        await store.write(f.turn());
      });
      bench.add(`sqlite write: 20 steps + 60 journal (${synchronous})`, async () => {
        if (++turns % 100 === 0) await f.newExecution();
        await store.write(f.wideTurn());
      });
    }
    await bench.run();
    return bench.tasks.map((task) => {
      const result = task.result;
      if (result.state !== 'completed')
        throw new Error(`bench ${task.name} did not complete: ${result.state}`);
      return {
        name: task.name,
        medianUs: round(result.latency.p50 * 1000),
        p99Us: round(result.latency.p99 * 1000),
        opsPerSecond: Math.round(result.throughput.mean),
      };
    });
  } finally {
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await runStoreBench());
}
