import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { type AttemptContext, createResilience } from '../src/index.js';
import { fixedRetry, setup, track } from './helpers.js';

describe('execute', () => {
  it('calls the function once with attempt 1 and a shared signal that never aborts when no policy is set', async () => {
    const { resilience } = setup();
    const seen: AttemptContext[] = [];
    const fn = async (ctx: AttemptContext) => {
      seen.push(ctx);
      return ctx.attempt;
    };
    expect(await resilience.execute(fn, {})).toBe(1);
    expect(await resilience.execute(fn, {})).toBe(1);
    expect(seen[0]).toEqual({ attempt: 1, signal: expect.any(AbortSignal) });
    expect(seen[0]!.signal).toBe(seen[1]!.signal);
    expect(seen[0]!.signal.aborted).toBe(false);
  });

  it("hands the caller's signal to the attempt as it is when no timeout layer sits in between", async () => {
    const { clock, resilience } = setup();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const fn = async (ctx: AttemptContext) => {
      signals.push(ctx.signal);
      if (ctx.attempt === 1) throw new Orchestr8Error(ErrorCode.NETWORK, 'reset');
      return 'ok';
    };
    const a = track(clock, resilience.execute(fn, { signal: controller.signal }));
    const b = track(clock, resilience.execute(fn, { signal: controller.signal, retry: fixedRetry(2, 10) }));
    await clock.runAll();
    expect(a.error?.code).toBe(ErrorCode.NETWORK);
    expect(b.value).toBe('ok');
    expect(signals).toEqual([controller.signal, controller.signal, controller.signal]);
  });

  it('normalises whatever the attempt throws into an Orchestr8Error carrying attempts', async () => {
    const { resilience } = setup();
    await expect(resilience.execute(() => Promise.reject('text'), {})).rejects.toMatchObject({
      code: ErrorCode.AGENT_FAILED,
      message: 'text',
      attempts: 1,
    });
    await expect(
      resilience.execute(() => Promise.reject(new Error('x')), { startAttempt: 2 }),
    ).rejects.toMatchObject({
      attempts: 3,
    });
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    await expect(resilience.execute(() => Promise.reject(abort), {})).rejects.toMatchObject({
      code: ErrorCode.CANCELLED,
    });
  });

  it('uses the clock and random given per call over the ones given at creation', async () => {
    const { clock } = setup();
    const resilience = createResilience(); // system clock: would really sleep
    const delays: number[] = [];
    let n = 0;
    const out = track(
      clock,
      resilience.execute(
        async () => {
          if (n++ === 0) throw new Orchestr8Error(ErrorCode.HTTP_5XX, 'bad gateway');
          return 'ok';
        },
        {
          retry: { ...fixedRetry(2, 1_000_000), jitter: 'full' },
          clock,
          random: () => 0.25,
          hooks: { onRetry: (e) => delays.push(e.delayMs) },
        },
      ),
    );
    await clock.runAll();
    expect(out.value).toBe('ok');
    expect(delays).toEqual([250_000]);
  });
});
