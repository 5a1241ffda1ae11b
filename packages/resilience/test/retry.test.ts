import {
  CancelledError,
  CircuitOpenError,
  ErrorCode,
  Orchestr8Error,
  RetryableError,
  TimeoutError,
  ValidationError,
} from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { type AttemptContext, isRetryable } from '../src/index.js';
import { fixedRetry, setup, track } from './helpers.js';

const network = () => new Orchestr8Error(ErrorCode.NETWORK, 'connection reset');

/** Fails with the given errors in turn, then succeeds with 'ok'. */
function script(...errors: unknown[]) {
  const calls: AttemptContext[] = [];
  const fn = async (ctx: AttemptContext) => {
    calls.push(ctx);
    const error = errors[calls.length - 1];
    if (error !== undefined) throw error;
    return 'ok';
  };
  return { fn, calls };
}

describe('retry', () => {
  it('retries retryable failures until an attempt succeeds', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(network(), new TimeoutError('slow'));
    const out = track(clock, resilience.execute(fn, { retry: fixedRetry(5, 100) }));
    await clock.runAll();
    expect(out.value).toBe('ok');
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(out.at).toBe(200);
  });

  it.each([
    ['VALIDATION', new ValidationError('bad input'), 'VALIDATION'],
    ['CANCELLED', new CancelledError(), 'CANCELLED'],
    ['CIRCUIT_OPEN', new CircuitOpenError('open'), 'CIRCUIT_OPEN'],
    ['a plain Error', new Error('boom'), 'AGENT_FAILED'],
    [
      'a NETWORK error marked not retryable',
      new Orchestr8Error(ErrorCode.NETWORK, 'no', { retryable: false }),
      'NETWORK',
    ],
    ['HTTP_4XX', new Orchestr8Error(ErrorCode.HTTP_4XX, 'not found'), 'HTTP_4XX'],
  ])('does not retry %s', async (_name, error, code) => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(error, error);
    const out = track(clock, resilience.execute(fn, { retry: fixedRetry(5, 100) }));
    await clock.runAll();
    expect(calls).toHaveLength(1);
    expect(out.error?.code).toBe(code);
    expect(out.error?.attempts).toBe(1);
  });

  it('never retries VALIDATION, CANCELLED or CIRCUIT_OPEN, even when listed in retryOn and marked retryable', () => {
    for (const code of [ErrorCode.VALIDATION, ErrorCode.CANCELLED, ErrorCode.CIRCUIT_OPEN]) {
      expect(isRetryable(new Orchestr8Error(code, 'x', { retryable: true }), [code])).toBe(false);
    }
    expect(isRetryable(new RetryableError('busy'))).toBe(true);
    expect(isRetryable(Object.assign(new Error('reset'), { code: 'NETWORK' }))).toBe(true);
    expect(isRetryable('a string')).toBe(false);
  });

  it('retries only the codes listed in retryOn', async () => {
    const { clock, resilience } = setup();
    const retry = fixedRetry(5, 10, { retryOn: [ErrorCode.HTTP_429] });
    const limited = script(new Orchestr8Error(ErrorCode.HTTP_429, 'slow down'));
    const a = track(clock, resilience.execute(limited.fn, { retry }));
    const down = script(network());
    const b = track(clock, resilience.execute(down.fn, { retry }));
    await clock.runAll();
    expect(a.value).toBe('ok');
    expect(limited.calls).toHaveLength(2);
    expect(b.error?.code).toBe(ErrorCode.NETWORK);
    expect(down.calls).toHaveLength(1);
  });

  it('waits retryAfterMs from the error when it is longer than the backoff', async () => {
    const { clock, resilience } = setup();
    const { fn } = script(new RetryableError('busy', { retryAfterMs: 700 }));
    const retries: number[] = [];
    const out = track(
      clock,
      resilience.execute(fn, {
        retry: fixedRetry(3, 100, { maxDelayMs: 1_000 }),
        hooks: { onRetry: (e) => retries.push(e.delayMs) },
      }),
    );
    await clock.runAll();
    expect(out.value).toBe('ok');
    expect(retries).toEqual([700]);
    expect(out.at).toBe(700);
  });

  it('gives up after maxAttempts with the last error, which carries the attempts made', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(network(), network(), new TimeoutError('slow'), network());
    const out = track(clock, resilience.execute(fn, { retry: fixedRetry(3, 100) }));
    await clock.runAll();
    expect(calls).toHaveLength(3);
    expect(out.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(out.error?.attempts).toBe(3);
  });

  it('reports each retry before sleeping, with the delay and the error', async () => {
    const { clock, resilience } = setup();
    const { fn } = script(network(), network());
    const events: string[] = [];
    const retry = { ...fixedRetry(3, 100), maxDelayMs: 10_000, multiplier: 3 };
    const out = track(
      clock,
      resilience.execute(fn, {
        retry,
        hooks: {
          onAttempt: ({ attempt }) => events.push(`attempt ${attempt} at ${clock.monotonic()}`),
          onRetry: (e) =>
            events.push(
              `retry ${e.attempt}->${e.nextAttempt} in ${e.delayMs} (${e.error.code}) at ${clock.monotonic()}`,
            ),
        },
      }),
    );
    await clock.runAll();
    expect(out.value).toBe('ok');
    expect(events).toEqual([
      'attempt 1 at 0',
      'retry 1->2 in 100 (NETWORK) at 0',
      'attempt 2 at 100',
      'retry 2->3 in 300 (NETWORK) at 100',
      'attempt 3 at 400',
    ]);
  });

  it('continues the retry budget and the backoff from startAttempt', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(network(), network(), network());
    const delays: number[] = [];
    const retry = { ...fixedRetry(4, 100), maxDelayMs: 10_000, multiplier: 2 };
    const out = track(
      clock,
      resilience.execute(fn, { retry, startAttempt: 2, hooks: { onRetry: (e) => delays.push(e.delayMs) } }),
    );
    await clock.runAll();
    expect(calls.map((c) => c.attempt)).toEqual([3, 4]);
    expect(delays).toEqual([400]); // retry number 3: 100 * 2^2
    expect(out.error?.attempts).toBe(4);
  });

  it('still makes one attempt when startAttempt has used the whole budget', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(network(), network());
    const out = track(clock, resilience.execute(fn, { retry: fixedRetry(3, 100), startAttempt: 5 }));
    await clock.runAll();
    expect(calls.map((c) => c.attempt)).toEqual([6]);
    expect(out.error?.attempts).toBe(6);
  });

  it('stops at once when the outer signal aborts during the backoff sleep', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(network(), network());
    const controller = new AbortController();
    const out = track(
      clock,
      resilience.execute(fn, { retry: fixedRetry(3, 10_000), signal: controller.signal }),
    );
    await clock.advance(5);
    expect(out.settled).toBe(false);
    controller.abort();
    await clock.advance(0);
    expect(out.error?.code).toBe(ErrorCode.CANCELLED);
    expect(out.error?.attempts).toBe(1);
    expect(out.at).toBe(5);
    expect(clock.pending()).toBe(0);
    await clock.runAll();
    expect(calls).toHaveLength(1);
  });

  it('keeps the code of an orchestr8 abort reason, on a fresh error', async () => {
    const { clock, resilience } = setup();
    const { fn } = script(network(), network());
    const controller = new AbortController();
    const reason = new TimeoutError('workflow deadline');
    const out = track(
      clock,
      resilience.execute(fn, { retry: fixedRetry(3, 1_000), signal: controller.signal }),
    );
    await clock.advance(1);
    controller.abort(reason);
    await clock.advance(0);
    expect(out.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(out.error).not.toBe(reason);
    expect(out.error?.cause).toBe(reason);
    expect(reason.attempts).toBeUndefined();
  });

  it('runs nothing when the signal is already aborted', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script();
    for (const options of [{}, { retry: fixedRetry(3, 10) }, { retry: fixedRetry(3, 10), timeoutMs: 50 }]) {
      const out = track(clock, resilience.execute(fn, { ...options, signal: AbortSignal.abort() }));
      await clock.runAll();
      expect(out.error?.code).toBe(ErrorCode.CANCELLED);
      expect(out.error?.attempts).toBe(0);
    }
    expect(calls).toHaveLength(0);
  });

  it('handles attempts that return or throw synchronously', async () => {
    const { clock, resilience } = setup();
    let n = 0;
    const fn = () => {
      n++;
      if (n < 3) throw network();
      return 42;
    };
    const out = track(clock, resilience.execute(fn, { retry: fixedRetry(3, 10) }));
    await clock.runAll();
    expect(out.value).toBe(42);
    const sync = track(
      clock,
      resilience.execute(() => 'v', {}),
    );
    const thrown = track(
      clock,
      resilience.execute(() => {
        throw new Error('sync');
      }, {}),
    );
    await clock.runAll();
    expect(sync.value).toBe('v');
    expect(thrown.error?.code).toBe(ErrorCode.AGENT_FAILED);
    expect(thrown.error?.attempts).toBe(1);
  });

  it('ignores hooks that throw', async () => {
    const { clock, resilience } = setup();
    const { fn } = script(network());
    const boom = () => {
      throw new Error('hook bug');
    };
    const out = track(
      clock,
      resilience.execute(fn, { retry: fixedRetry(2, 10), hooks: { onAttempt: boom, onRetry: boom } }),
    );
    await clock.runAll();
    expect(out.value).toBe('ok');
  });

  it('retries at once when the delay is zero', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(network(), network());
    const out = track(clock, resilience.execute(fn, { retry: fixedRetry(3, 0) }));
    await clock.advance(0);
    expect(out.value).toBe('ok');
    expect(calls).toHaveLength(3);
    expect(out.at).toBe(0);
  });

  it('treats maxAttempts 1 as no retry', async () => {
    const { clock, resilience } = setup();
    const { fn, calls } = script(network());
    const out = track(clock, resilience.execute(fn, { retry: fixedRetry(1, 10) }));
    await clock.runAll();
    expect(calls).toHaveLength(1);
    expect(out.error?.attempts).toBe(1);
  });

  it('rejects invalid options with a ValidationError instead of throwing', async () => {
    const { resilience } = setup();
    const fn = async () => 1;
    await expect(resilience.execute(fn, { retry: fixedRetry(0, 10) })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await expect(resilience.execute(fn, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(resilience.execute(fn, { timeoutMs: Number.POSITIVE_INFINITY })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    await expect(resilience.execute(fn, { startAttempt: -1 })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
