import { AssertionError } from 'node:assert';
import type { ExecutionResult } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { createJournalView, diffValues, expectResult, expectStep, matchPartial } from '../src/index.js';

const result: ExecutionResult = {
  executionId: 'e1',
  workflowId: 'w',
  workflowVersion: '1.0.0',
  status: 'completed',
  outputs: { report: { title: 'Weekly', items: [1, 2] }, extra: true },
  steps: {
    fetch: {
      executionId: 'e1',
      stepId: 'fetch',
      status: 'completed',
      attempts: 2,
      output: { n: 3, at: 'x' },
    },
    audit: {
      executionId: 'e1',
      stepId: 'audit',
      status: 'failed',
      attempts: 1,
      error: { name: 'Orchestr8Error', code: 'NETWORK', message: 'audit log unavailable', retryable: true },
    },
  },
};

function thrown(fn: () => unknown): AssertionError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AssertionError);
    return e as AssertionError;
  }
  throw new Error('expected an AssertionError');
}

describe('assertions', () => {
  it('pass silently and chain', () => {
    expectResult(result)
      .toHaveCompleted()
      .toHaveOutputs({ report: { items: [1, 2] } });
    expectStep(result, 'fetch').toHaveCompleted().toHaveAttempts(2).toHaveOutput({ n: 3 });
    expectStep(result, 'audit').toHaveStatus('failed').toHaveFailedWith('NETWORK', 'unavailable');
  });

  it('throw AssertionErrors that say what differs, with actual and expected', () => {
    const e = thrown(() => expectStep(result, 'fetch').toHaveAttempts(3));
    expect(e.message).toContain('step "fetch": expected 3 attempt(s), got status completed, 2 attempts');
    expect(e.actual).toBe(2);
    expect(e.expected).toBe(3);
    expect(thrown(() => expectStep(result, 'nope')).message).toContain('steps: fetch, audit');
    const o = thrown(() => expectResult(result).toHaveOutputs({ report: { title: 'Daily' } }));
    expect(o.message).toContain('report.title: expected "Daily", got "Weekly"');
    expect(o.message).toContain('-     "title": "Daily"');
    expect(o.message).toContain('+     "title": "Weekly"');
    expect(thrown(() => expectResult(result).toHaveFailedWith('TIMEOUT')).message).toContain(
      'expected the execution to fail with TIMEOUT, got completed',
    );
  });
});

describe('matchPartial', () => {
  it('ignores keys the expectation does not name, but not array lengths', () => {
    expect(matchPartial({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } })).toEqual([]);
    expect(matchPartial({ list: [1, 2, 3] }, { list: [1, 2] }).map((m) => m.message)).toEqual([
      'expected 2 items, got 3',
    ]);
    expect(matchPartial({ a: 1 }, { b: null }).map((m) => m.path)).toEqual(['b']);
    expect(matchPartial([{ id: 1, x: 9 }], [{ id: 1 }])).toEqual([]);
  });

  it('diffs only what the expectation looks at', () => {
    expect(diffValues({ a: 1 }, { a: 2, noise: 'x' })).toBe('  {\n-   "a": 1\n+   "a": 2\n  }');
  });
});

describe('journal views', () => {
  const view = createJournalView('e1', [
    { seq: 1, ts: 0, elapsedMs: 0, type: 'execution.started' },
    { seq: 2, ts: 0, elapsedMs: 0, type: 'step.started', stepId: 'a', attempt: 1 },
    { seq: 3, ts: 0, elapsedMs: 0, type: 'step.retrying', stepId: 'a', attempt: 1, data: { delayMs: 10 } },
    { seq: 4, ts: 0, elapsedMs: 0, type: 'step.attempt', stepId: 'a', attempt: 2 },
    { seq: 5, ts: 0, elapsedMs: 0, type: 'step.completed', stepId: 'a', attempt: 2 },
  ]);

  it('answers questions about types, steps and retries', () => {
    expect(view.types('a')).toEqual(['step.started', 'step.retrying', 'step.attempt', 'step.completed']);
    expect(view.retries('a')).toBe(1);
    expect(view.has({ type: 'step.retrying', stepId: 'a', data: { delayMs: 10 } })).toBe(true);
    expect(view.has({ type: 'step.retrying', count: 2 })).toBe(false);
    view.expect({ type: 'step.completed', stepId: 'a', attempt: 2 });
  });

  it('explains a missing fact with what the step did journal', () => {
    const e = thrown(() => view.expect({ type: 'step.retrying', stepId: 'a', count: 2 }));
    expect(e.message).toContain('expected 2 × step.retrying (stepId a), found 1');
    expect(e.message).toContain('step.started, step.retrying, step.attempt, step.completed');
  });
});
