import { AssertionError } from 'node:assert';
import type { ExecutionResult, StepResultView, StepStatus } from '@orchestr8/core';
import { diffValues, matchPartial, short } from './match.js';

/**
 * Assertions over an execution result that throw node's `AssertionError` (with `actual`
 * and `expected`, so vitest, jest and node:test all show a diff). No test framework needed.
 */
export function failAssertion(
  message: string,
  actual: unknown,
  expected: unknown,
  operator = 'match',
): never {
  throw new AssertionError({ message, actual, expected, operator });
}

function assertPartial(actual: unknown, expected: unknown, what: string): void {
  const problems = matchPartial(actual, expected);
  if (problems.length === 0) return;
  const lines = problems.slice(0, 5).map((p) => `  ${p.path || '(root)'}: ${p.message}`);
  if (problems.length > 5) lines.push(`  … and ${problems.length - 5} more`);
  failAssertion(
    `${what} does not match:\n${lines.join('\n')}\n${diffValues(expected, actual)}`,
    actual,
    expected,
  );
}

export interface StepExpectation {
  readonly step: StepResultView;
  toHaveStatus(status: StepStatus): StepExpectation;
  toHaveCompleted(): StepExpectation;
  toHaveBeenSkipped(): StepExpectation;
  /** Attempts started (1 when it never retried). */
  toHaveAttempts(n: number): StepExpectation;
  /** A deep partial match of the step's output. */
  toHaveOutput(expected: unknown): StepExpectation;
  /** Failed (or completed through a fallback) with this error code, and a message containing `message`. */
  toHaveFailedWith(code: string, message?: string): StepExpectation;
}

function describeStep(s: StepResultView): string {
  const parts = [`status ${s.status}`, `${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`];
  if (s.error) parts.push(`error ${s.error.code}: ${s.error.message}`);
  const reason = s.statusReason ?? s.skipReason;
  if (reason) parts.push(`${s.status}: ${reason}`);
  return parts.join(', ');
}

/** `expectStep(result, 'fetch').toHaveStatus('completed').toHaveAttempts(2)` */
export function expectStep(result: ExecutionResult, stepId: string): StepExpectation {
  const step = result.steps[stepId];
  if (step === undefined) {
    failAssertion(
      `step "${stepId}" is not in the result (steps: ${Object.keys(result.steps).join(', ') || 'none'})`,
      Object.keys(result.steps),
      stepId,
      'includes',
    );
  }
  const self: StepExpectation = {
    step,
    toHaveStatus(status) {
      if (step.status !== status)
        failAssertion(
          `step "${stepId}": expected status ${status}, got ${describeStep(step)}`,
          step.status,
          status,
          '===',
        );
      return self;
    },
    toHaveCompleted: () => self.toHaveStatus('completed'),
    toHaveBeenSkipped: () => self.toHaveStatus('skipped'),
    toHaveAttempts(n) {
      if (step.attempts !== n)
        failAssertion(
          `step "${stepId}": expected ${n} attempt(s), got ${describeStep(step)}`,
          step.attempts,
          n,
          '===',
        );
      return self;
    },
    toHaveOutput(expected) {
      assertPartial(step.output, expected, `step "${stepId}" output`);
      return self;
    },
    toHaveFailedWith(code, message) {
      const e = step.error;
      if (e?.code !== code || (message !== undefined && !e.message.includes(message))) {
        failAssertion(
          `step "${stepId}": expected error ${code}${message ? ` containing ${short(message)}` : ''}, got ${describeStep(step)}`,
          e,
          { code, ...(message !== undefined ? { message } : {}) },
        );
      }
      return self;
    },
  };
  return self;
}

export interface ResultExpectation {
  toHaveStatus(status: ExecutionResult['status']): ResultExpectation;
  toHaveCompleted(): ResultExpectation;
  /** A deep partial match of the workflow's outputs. */
  toHaveOutputs(expected: unknown): ResultExpectation;
  toHaveFailedWith(code: string, message?: string): ResultExpectation;
}

function describeResult(r: ExecutionResult): string {
  const failed = Object.values(r.steps)
    .filter((s) => s.status === 'failed')
    .map((s) => `${s.stepId} (${s.error?.code ?? '?'}: ${s.error?.message ?? ''})`);
  return `${r.status}${r.error ? ` with ${r.error.code}: ${r.error.message}` : ''}${
    failed.length ? `; failed steps: ${failed.join(', ')}` : ''
  }`;
}

/** `expectResult(result).toHaveCompleted().toHaveOutputs({greeting: 'Hello, Ada'})` */
export function expectResult(result: ExecutionResult): ResultExpectation {
  const self: ResultExpectation = {
    toHaveStatus(status) {
      if (result.status !== status)
        failAssertion(
          `expected the execution to be ${status}, got ${describeResult(result)}`,
          result.status,
          status,
          '===',
        );
      return self;
    },
    toHaveCompleted: () => self.toHaveStatus('completed'),
    toHaveOutputs(expected) {
      assertPartial(result.outputs, expected, 'outputs');
      return self;
    },
    toHaveFailedWith(code, message) {
      const e = result.error;
      if (
        result.status !== 'failed' ||
        e?.code !== code ||
        (message !== undefined && !e.message.includes(message))
      )
        failAssertion(`expected the execution to fail with ${code}, got ${describeResult(result)}`, e, {
          code,
          message,
        });
      return self;
    },
  };
  return self;
}
