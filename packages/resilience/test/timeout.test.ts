import { createFakeClock, ErrorCode } from '@orchestr8/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AttemptContext, withTimeout } from '../src/index.js';
import { fixedRetry, hang, setup, track, untilAborted } from './helpers.js';

describe('timeout', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it("aborts the attempt's signal at the deadline, with a TimeoutError as reason", async () => {
    const { clock, resilience } = setup();
    let signal: AbortSignal | undefined;
    const timeouts: unknown[] = [];
    const out = track(
      clock,
      resilience.execute(
        (ctx) => {
          signal = ctx.signal;
          return untilAborted(ctx.signal);
        },
        { timeoutMs: 50, hooks: { onTimeout: (e) => timeouts.push(e) } },
      ),
    );
    await clock.advance(49);
    expect(signal?.aborted).toBe(false);
    await clock.advance(1);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(out.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(out.error?.attempts).toBe(1);
    expect(out.at).toBe(50);
    expect(timeouts).toEqual([{ attempt: 1, timeoutMs: 50 }]);
  });

  it('abandons an attempt that ignores its signal at the deadline; its late rejection is not unhandled', async () => {
    const { clock, resilience } = setup();
    let rejectLate: (e: unknown) => void = () => {};
    const out = track(
      clock,
      resilience.execute(() => new Promise((_, reject) => (rejectLate = reject)), { timeoutMs: 50 }),
    );
    await clock.advance(50);
    expect(out.error?.code).toBe(ErrorCode.TIMEOUT);
    rejectLate(new Error('too late'));
    await new Promise((r) => setTimeout(r, 5));
    expect(unhandled).toEqual([]);
  });

  it('ignores the late result of an abandoned attempt', async () => {
    const { clock, resilience } = setup();
    let resolveLate: (v: string) => void = () => {};
    const out = track(
      clock,
      resilience.execute(() => new Promise<string>((resolve) => (resolveLate = resolve)), { timeoutMs: 50 }),
    );
    await clock.advance(50);
    resolveLate('late');
    await clock.advance(0);
    expect(out.error?.code).toBe(ErrorCode.TIMEOUT);
  });

  it('gives each attempt its own deadline and signal, and retries timeouts', async () => {
    const { clock, resilience } = setup();
    const signals: AbortSignal[] = [];
    const out = track(
      clock,
      resilience.execute(
        async (ctx: AttemptContext) => {
          signals.push(ctx.signal);
          if (ctx.attempt < 3) return untilAborted(ctx.signal);
          return 'third time lucky';
        },
        { timeoutMs: 50, retry: fixedRetry(3, 100) },
      ),
    );
    await clock.runAll();
    expect(out.value).toBe('third time lucky');
    expect(out.at).toBe(300); // 50 + 100 + 50 + 100
    expect(signals.map((s) => s.aborted)).toEqual([true, true, false]);
    expect(new Set(signals).size).toBe(3);
  });

  it('settles at once, with CANCELLED, when the outer signal aborts during an attempt that ignores it', async () => {
    const { clock, resilience } = setup();
    const controller = new AbortController();
    let signal: AbortSignal | undefined;
    const out = track(
      clock,
      resilience.execute(
        (ctx) => {
          signal = ctx.signal;
          return hang();
        },
        { timeoutMs: 1_000, signal: controller.signal },
      ),
    );
    await clock.advance(10);
    controller.abort('user asked');
    await clock.advance(0);
    expect(out.error?.code).toBe(ErrorCode.CANCELLED);
    expect(out.at).toBe(10);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: ErrorCode.CANCELLED });
  });

  it("creates the attempt's signal on first read, already aborted if the deadline has passed", async () => {
    const { clock, resilience } = setup();
    let ctx: AttemptContext | undefined;
    const out = track(
      clock,
      resilience.execute(
        (c) => {
          ctx = c;
          return hang();
        },
        { timeoutMs: 50 },
      ),
    );
    await clock.advance(50);
    expect(out.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(ctx?.signal.aborted).toBe(true);
    expect(ctx?.signal.reason).toMatchObject({ code: ErrorCode.TIMEOUT });
  });

  it('passes the successful value through and leaves no timer behind', async () => {
    const { clock, resilience } = setup();
    const out = track(
      clock,
      resilience.execute(async () => 'fast', { timeoutMs: 50 }),
    );
    await clock.advance(0);
    expect(out.value).toBe('fast');
    expect(clock.pending()).toBe(0);
  });

  it('times out each of many concurrent attempts at its own deadline', async () => {
    const { clock, resilience } = setup();
    const outs = [];
    for (let i = 0; i < 5; i++) {
      outs.push(track(clock, resilience.execute(hang, { timeoutMs: 100 })));
      await clock.advance(10);
    }
    // Some settle early: their deadlines leave the queue without disturbing the others.
    const quick = track(
      clock,
      resilience.execute(async () => 'quick', { timeoutMs: 100 }),
    );
    await clock.runAll();
    expect(quick.value).toBe('quick');
    expect(outs.map((o) => o.at)).toEqual([100, 110, 120, 130, 140]);
    expect(clock.pending()).toBe(0);
  });

  it('times out a later attempt on time when an earlier one, whose deadline armed the timer, settled first', async () => {
    const { clock, resilience } = setup();
    let finish: (v: string) => void = () => {};
    const first = track(
      clock,
      resilience.execute(() => new Promise<string>((r) => (finish = r)), { timeoutMs: 100 }),
    );
    await clock.advance(10);
    const second = track(clock, resilience.execute(hang, { timeoutMs: 100 }));
    await clock.advance(5);
    finish('done');
    await clock.runAll();
    expect(first.value).toBe('done');
    expect(second.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(second.at).toBe(110);
  });

  it('withTimeout runs a function against a deadline on the injected clock', async () => {
    const clock = createFakeClock();
    const slow = track(
      clock,
      withTimeout((signal) => untilAborted(signal), 30, { clock }),
    );
    const fast = track(
      clock,
      withTimeout(async () => 7, 30, { clock }),
    );
    const controller = new AbortController();
    const cancelled = track(clock, withTimeout(hang, 30, { clock, signal: controller.signal }));
    controller.abort();
    await clock.runAll();
    expect(slow.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(slow.at).toBe(30);
    expect(fast.value).toBe(7);
    expect(cancelled.error?.code).toBe(ErrorCode.CANCELLED);
    await expect(withTimeout(async () => 1, -5)).rejects.toMatchObject({ code: ErrorCode.VALIDATION });
  });
});
