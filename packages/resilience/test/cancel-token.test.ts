import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { type AttemptContext, CancelToken } from '../src/index.js';
import { fixedRetry, setup, track, untilAborted } from './helpers.js';

describe('a CancelToken as the outer cancellation', () => {
  it("aborts the attempt's signal with the token's reason, and a backoff sleep", async () => {
    const { clock, resilience } = setup();
    const token = new CancelToken();
    const running = track(
      clock,
      resilience.execute((ctx) => untilAborted(ctx.signal), { cancel: token }),
    );
    let calls = 0;
    const sleeping = track(
      clock,
      resilience.execute(
        () => {
          calls++;
          throw new Orchestr8Error(ErrorCode.NETWORK, 'reset');
        },
        { cancel: token, retry: fixedRetry(3, 60_000) },
      ),
    );
    await clock.advance(10);
    token.abort(new Orchestr8Error(ErrorCode.CANCELLED, 'user cancelled'));
    await clock.advance(0);
    expect(running.error).toMatchObject({ code: ErrorCode.CANCELLED, message: 'user cancelled' });
    expect(sleeping.error).toMatchObject({ code: ErrorCode.CANCELLED, attempts: 1 });
    expect(calls).toBe(1);
  });

  it('refuses to start once the token is aborted', async () => {
    const { resilience } = setup();
    const token = new CancelToken();
    token.abort('stop');
    let called = false;
    await expect(
      resilience.execute(
        () => {
          called = true;
        },
        { cancel: token },
      ),
    ).rejects.toMatchObject({ code: ErrorCode.CANCELLED, attempts: 0 });
    expect(called).toBe(false);
  });
});

describe('continueAfterFailure', () => {
  it("retries after the caller's own first attempt failed, with the backoff, counting that attempt", async () => {
    const { clock, resilience } = setup();
    const seen: number[] = [];
    const out = track(
      clock,
      resilience.continueAfterFailure(
        (ctx: AttemptContext) => {
          seen.push(ctx.attempt);
          if (ctx.attempt < 3) throw new Orchestr8Error(ErrorCode.NETWORK, `reset ${ctx.attempt}`);
          return 'ok';
        },
        { retry: fixedRetry(3, 100) },
        new Orchestr8Error(ErrorCode.NETWORK, 'reset 1'),
      ),
    );
    await clock.advance(99);
    expect(seen).toEqual([]);
    await clock.advance(1);
    expect(seen).toEqual([2]);
    await clock.advance(100);
    expect(seen).toEqual([2, 3]);
    expect(out.value).toBe('ok');
  });

  it('rejects with the error and attempts = 1 when it is not retryable or there is no retry', async () => {
    const { resilience } = setup();
    const fn = () => 'never';
    await expect(
      resilience.continueAfterFailure(
        fn,
        { retry: fixedRetry(3, 100) },
        new Orchestr8Error(ErrorCode.VALIDATION, 'bad'),
      ),
    ).rejects.toMatchObject({ code: ErrorCode.VALIDATION, attempts: 1 });
    await expect(resilience.continueAfterFailure(fn, {}, new Error('boom'))).rejects.toMatchObject({
      message: 'boom',
      attempts: 1,
    });
  });

  it('is refused for options with a timeout or a circuit breaker (their layers wrap the first attempt)', async () => {
    const { resilience } = setup();
    await expect(
      resilience.continueAfterFailure(() => 1, { timeoutMs: 100 }, new Error('x')),
    ).rejects.toMatchObject({ code: ErrorCode.VALIDATION });
  });
});
