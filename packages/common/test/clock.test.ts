import { describe, expect, it } from 'vitest';
import { createFakeClock, systemClock } from '../src/index.js';

describe('the fake clock', () => {
  it('starts where it is told and moves only when advanced', async () => {
    const clock = createFakeClock(1_000);
    expect(clock.now()).toBe(1_000);
    expect(clock.monotonic()).toBe(0);
    await clock.advance(250);
    expect(clock.now()).toBe(1_250);
    expect(clock.monotonic()).toBe(250);
  });

  it('fires due timers in time order, then in the order they were set, each at its own time', async () => {
    const clock = createFakeClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`late@${clock.now()}`), 31);
    await clock.advance(30);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.pending()).toBe(1);
    expect(clock.now()).toBe(30);
  });

  it('fires a timer set by a firing timer within the same advance when it falls due', async () => {
    const clock = createFakeClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 5);
    }, 5);
    await clock.advance(10);
    expect(fired).toEqual([5, 10]);
  });

  it('treats a negative delay as zero', async () => {
    const clock = createFakeClock(0);
    let fired = false;
    clock.setTimeout(() => {
      fired = true;
    }, -50);
    await clock.advance(0);
    expect(fired).toBe(true);
  });

  it('never fires a cancelled timer', async () => {
    const clock = createFakeClock(0);
    let fired = false;
    const handle = clock.setTimeout(() => {
      fired = true;
    }, 10);
    handle.cancel();
    expect(clock.pending()).toBe(0);
    await clock.advance(100);
    expect(fired).toBe(false);
  });

  it('next() jumps to the next timer and says whether there was one', async () => {
    const clock = createFakeClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.monotonic()), 1_000);
    expect(await clock.next()).toBe(true);
    expect(fired).toEqual([1_000]);
    expect(clock.now()).toBe(1_000);
    expect(await clock.next()).toBe(false);
  });

  it('runAll() runs timers until none are left, or stops at the limit', async () => {
    const clock = createFakeClock(0);
    let ticks = 0;
    const tick = () => {
      ticks++;
      clock.setTimeout(tick, 1_000);
    };
    clock.setTimeout(tick, 1_000);
    expect(await clock.runAll(5)).toBe(5);
    expect(ticks).toBe(5);
    expect(clock.pending()).toBe(1);

    const finite = createFakeClock(0);
    finite.setTimeout(() => {}, 1);
    finite.setTimeout(() => {}, 2);
    expect(await finite.runAll()).toBe(2);
    expect(finite.pending()).toBe(0);
  });

  it('sleep() resolves when the time has passed, not before', async () => {
    const clock = createFakeClock(0);
    let done = false;
    const sleeping = clock.sleep(100).then(() => {
      done = true;
    });
    await clock.advance(99);
    expect(done).toBe(false);
    await clock.advance(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it("sleep() rejects with the signal's reason when aborted, and leaves no timer behind", async () => {
    const clock = createFakeClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    expect(clock.pending()).toBe(1);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pending()).toBe(0);
  });

  it('sleep() with an already aborted signal rejects at once without setting a timer', async () => {
    const clock = createFakeClock(0);
    const reason = new Error('already');
    await expect(clock.sleep(10, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(clock.pending()).toBe(0);
  });
});

describe('the system clock', () => {
  it('reads wall-clock and monotonic time', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    const a = systemClock.monotonic();
    const b = systemClock.monotonic();
    expect(b).toBeGreaterThanOrEqual(a);
  });

  it('sleeps, and a cancelled timer does not fire', async () => {
    let fired = false;
    const handle = systemClock.setTimeout(
      () => {
        fired = true;
      },
      1,
      { unref: true },
    );
    handle.cancel();
    await systemClock.sleep(5);
    expect(fired).toBe(false);
  });

  it('sleep() rejects when its signal aborts', async () => {
    const controller = new AbortController();
    const sleeping = systemClock.sleep(60_000, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
  });
});
