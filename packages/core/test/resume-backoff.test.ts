import { createFakeClock, RetryableError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, sqlRows } from '../src/index.js';
import { agent, compile, settle, testEngine } from './helpers.js';

const flaky = compile({
  steps: [
    {
      id: 'call',
      agent: '@t/flaky',
      policies: { retry: { maxAttempts: 3, baseDelayMs: 3000, multiplier: 1, jitter: 'none' } },
    },
  ],
});

describe('resume during a retry back-off', () => {
  it('waits out the rest of the interrupted delay before the next attempt', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const attemptsAt: number[] = [];
    // First process: attempt 1 fails; it is killed 2 s into the 3 s back-off.
    const failing = agent('@t/flaky', () => {
      attemptsAt.push(clock.now());
      throw new RetryableError('busy');
    });
    const first = testEngine([failing], { store, clock }).engine;
    const handle = await first.start(flaky);
    await settle();
    const failedAt = attemptsAt[0]!;
    await clock.advance(2000);
    const step = (await store.getSteps(handle.id))[0]!;
    expect(step).toMatchObject({ status: 'retrying', attempts: 1, nextAttemptAt: failedAt + 3000 });
    const down = first.shutdown({ graceMs: 0 });
    await clock.advance(0);
    await down;

    // Second process, same clock: attempt 2 comes when it was due, not when resume starts.
    const calls: { at: number; attempt: number }[] = [];
    const succeeding = agent('@t/flaky', (_input, ctx) => {
      calls.push({ at: clock.now(), attempt: ctx.attempt });
      return 'ok';
    });
    const second = testEngine([succeeding], { store, clock }).engine;
    const resumed = await second.resume(handle.id);
    await clock.advance(999);
    expect(calls).toEqual([]);
    await clock.advance(1);
    expect(calls).toEqual([{ at: failedAt + 3000, attempt: 2 }]);
    expect((await resumed.result).status).toBe('completed');
  });

  it('retries at once on resume when the delay already passed while nothing ran', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const first = testEngine(
      [
        agent('@t/flaky', () => {
          throw new RetryableError('busy');
        }),
      ],
      { store, clock },
    ).engine;
    const handle = await first.start(flaky);
    await settle();
    const down = first.shutdown({ graceMs: 0 });
    await clock.advance(0);
    await down;
    await clock.advance(5000); // the process was down longer than the delay
    const calls: number[] = [];
    const second = testEngine([agent('@t/flaky', (_i, ctx) => void calls.push(ctx.attempt))], {
      store,
      clock,
    }).engine;
    const resumed = await second.resume(handle.id);
    expect((await resumed.result).status).toBe('completed');
    expect(calls).toEqual([2]);
  });

  it('keeps the due time in SQL stores without a column of its own', () => {
    const rec = {
      executionId: 'e',
      stepId: 's',
      status: 'retrying' as const,
      attempts: 1,
      nextAttemptAt: 42,
    };
    const columns = ['execution_id', 'step_id', 'status', 'attempts', 'output', 'error'];
    const params = sqlRows.stepParams(rec);
    const row = Object.fromEntries(
      [
        'execution_id',
        'step_id',
        'status',
        'attempts',
        'output',
        'error',
        'started_at',
        'finished_at',
        'skip_reason',
        'alias_for',
        'idempotency_key',
      ].map((c, i) => [c, params[i] ?? null]),
    );
    expect(columns.every((c) => c in row)).toBe(true);
    expect(sqlRows.toStep(row)).toEqual(rec);
    const failed = {
      executionId: 'e',
      stepId: 's',
      status: 'failed' as const,
      attempts: 3,
      error: { name: 'E', code: 'X', message: 'm', retryable: false },
    };
    const p2 = sqlRows.stepParams(failed);
    expect(sqlRows.toStep({ ...row, status: 'failed', attempts: 3, error: p2[5] })).toEqual(failed);
  });
});
