import { describe, expect, it } from 'vitest';
import {
  applyEntries,
  emptyState,
  filterJournal,
  type JournalEntryLike,
} from '../app/lib/execution-state.js';

let seq = 0;
const e = (
  type: string,
  stepId?: string,
  attempt?: number,
  data?: unknown,
  ts = seq * 10,
): JournalEntryLike => ({
  seq: ++seq,
  ts,
  type,
  ...(stepId !== undefined ? { stepId } : {}),
  ...(attempt !== undefined ? { attempt } : {}),
  ...(data !== undefined ? { data } : {}),
});

function journal(): JournalEntryLike[] {
  seq = 0;
  return [
    e('execution.started'),
    e('step.started', 'a', 1, { input: { x: 1 } }),
    e('step.completed', 'a', 1, { output: { n: 1 } }),
    e('step.started', 'flaky', 1),
    e('step.retrying', 'flaky', 1, {
      nextAttempt: 2,
      delayMs: 100,
      error: { code: 'TIMEOUT', message: 'slow' },
    }),
    e('step.attempt', 'flaky', 2),
    e('step.completed', 'flaky', 2, { output: 2 }),
    e('step.started', 'bad', 1),
    e('step.failed', 'bad', 1, {
      error: { code: 'TERMINAL', message: 'no', cause: { code: 'HTTP', message: '500' } },
    }),
    e('step.skipped', 'after', undefined, { reason: 'a dependency failed' }),
    e('execution.failed', undefined, undefined, { error: { code: 'STEP_FAILED', message: 'bad failed' } }),
  ];
}

describe('the live state of an execution', () => {
  it('follows each step through its statuses and ends failed with the error', () => {
    const s = applyEntries(emptyState(), journal());
    expect(s.status).toBe('failed');
    expect(s.finished).toBe(true);
    expect(s.error?.code).toBe('STEP_FAILED');
    expect(Object.fromEntries(Object.values(s.steps).map((x) => [x.id, x.status]))).toEqual({
      a: 'completed',
      flaky: 'completed',
      bad: 'failed',
      after: 'skipped',
    });
    expect(s.steps.bad?.error?.cause?.message).toBe('500');
    expect(s.steps.a?.input).toEqual({ x: 1 });
    expect(s.steps.after?.reason).toBe('a dependency failed');
  });

  it('records each attempt with its outcome, error and the back-off after it', () => {
    const s = applyEntries(emptyState(), journal());
    const flaky = s.steps.flaky!;
    expect(flaky.attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'failed'],
      [2, 'completed'],
    ]);
    expect(flaky.attempts[0]?.error?.code).toBe('TIMEOUT');
    expect(flaky.attempts[0]?.backoff?.delayMs).toBe(100);
    expect(flaky.attempts[1]?.finishedAt).toBeGreaterThan(flaky.attempts[1]!.startedAt);
  });

  it('shows a retrying step as retrying until its next attempt starts', () => {
    const all = journal();
    const s = applyEntries(emptyState(), all.slice(0, 5));
    expect(s.steps.flaky?.status).toBe('retrying');
    expect(applyEntries(s, all.slice(5, 6)).steps.flaky?.status).toBe('running');
  });

  it('ends in the same state when resumed part-way with entries it has already seen', () => {
    const all = journal();
    const whole = applyEntries(emptyState(), all);
    // A reconnect replays from Last-Event-ID; a server may resend the last entry.
    const first = applyEntries(emptyState(), all.slice(0, 6));
    const resumed = applyEntries(first, all.slice(5));
    expect(resumed).toEqual(whole);
    expect(resumed.lastSeq).toBe(all.length);
  });

  it('starts again after a retry: a new run of a failed step and a completed execution', () => {
    const s = applyEntries(emptyState(), journal());
    seq = 11;
    const after = applyEntries(s, [
      e('execution.resumed'),
      e('step.started', 'bad', 1),
      e('step.completed', 'bad', 1, { output: 'ok' }),
      e('execution.completed'),
    ]);
    expect(after.status).toBe('completed');
    expect(after.error).toBeUndefined();
    expect(after.steps.bad?.status).toBe('completed');
    expect(after.steps.bad?.error).toBeUndefined();
  });

  it('marks fallbacks both ways and collects child executions', () => {
    seq = 0;
    const s = applyEntries(emptyState(), [
      e('step.started', 'main', 1),
      e('step.fallback', 'main', 1, { fallbackStepId: 'backup', error: { code: 'X', message: 'x' } }),
      e('step.started', 'backup', 1, { fallbackFor: 'main' }),
      e('step.child', 'backup', 1, { childExecutionId: 'c-1' }),
      e('step.child', 'backup', 1, { childExecutionId: 'c-1' }),
    ]);
    expect(s.steps.main?.fellBackTo).toBe('backup');
    expect(s.steps.backup?.fallbackFor).toBe('main');
    expect(s.steps.backup?.childExecutionIds).toEqual(['c-1']);
  });
});

describe('journal filters', () => {
  it('filters by step, by type or type family, and by text', () => {
    const all = journal();
    expect(filterJournal(all, { stepId: 'flaky' }).map((x) => x.type)).toEqual([
      'step.started',
      'step.retrying',
      'step.attempt',
      'step.completed',
    ]);
    expect(filterJournal(all, { type: 'execution' }).map((x) => x.type)).toEqual([
      'execution.started',
      'execution.failed',
    ]);
    expect(filterJournal(all, { type: 'step.failed' })).toHaveLength(1);
    expect(filterJournal(all, { text: 'timeout' }).map((x) => x.seq)).toEqual([5]);
    expect(filterJournal(all, {})).toHaveLength(all.length);
  });
});
