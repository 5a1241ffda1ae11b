import {
  CancelledError,
  createFakeClock,
  ErrorCode,
  type FakeClock,
  Orchestr8Error,
  ValidationError,
} from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import {
  type CircuitBreakerOptions,
  CircuitBreakerRegistry,
  type CircuitTransition,
  createResilience,
  type Resilience,
} from '../src/index.js';
import { fixedRetry, hang, track } from './helpers.js';

const KEY = '@orchestr8/http|api.example.com';
const breaker: CircuitBreakerOptions = { key: KEY, failureThreshold: 3, resetTimeoutMs: 1_000 };
const network = () => new Orchestr8Error(ErrorCode.NETWORK, 'connection refused');

function setup() {
  const clock = createFakeClock();
  const registry = new CircuitBreakerRegistry({ clock });
  const transitions: string[] = [];
  const start = clock.now();
  registry.onTransition((t: CircuitTransition) => transitions.push(`${t.from}->${t.to}@${t.at - start}`));
  const resilience = createResilience({ clock, breakers: registry });
  return { clock, registry, resilience, transitions };
}

/** One call through the breaker, settled on the fake clock. */
async function call(clock: FakeClock, resilience: Resilience, outcome: unknown, options = {}) {
  const out = track(
    clock,
    resilience.execute(
      async () => {
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
      { circuitBreaker: breaker, ...options },
    ),
  );
  await clock.advance(0);
  return out;
}

describe('circuit breaker', () => {
  it('opens after failureThreshold consecutive failures', async () => {
    const { clock, registry, resilience, transitions } = setup();
    for (let i = 0; i < 2; i++) await call(clock, resilience, network());
    expect(registry.state(KEY)).toBe('closed');
    expect(registry.snapshot()).toEqual([{ key: KEY, state: 'closed', failures: 2 }]);
    await call(clock, resilience, network());
    expect(registry.state(KEY)).toBe('open');
    expect(transitions).toEqual(['closed->open@0']);
  });

  it('resets the count on a success', async () => {
    const { clock, registry, resilience } = setup();
    await call(clock, resilience, network());
    await call(clock, resilience, network());
    await call(clock, resilience, 'ok');
    await call(clock, resilience, network());
    await call(clock, resilience, network());
    expect(registry.state(KEY)).toBe('closed');
    expect(registry.get(breaker).failures).toBe(2);
  });

  it('rejects fast while open with CIRCUIT_OPEN, retryAfterMs until half-open and the key', async () => {
    const { clock, resilience } = setup();
    for (let i = 0; i < 3; i++) await call(clock, resilience, network());
    await clock.advance(400);
    let ran = false;
    const rejected: unknown[] = [];
    const out = track(
      clock,
      resilience.execute(
        async () => {
          ran = true;
        },
        { circuitBreaker: breaker, hooks: { onCircuitRejected: (e) => rejected.push(e) } },
      ),
    );
    await clock.advance(0);
    expect(ran).toBe(false);
    expect(out.error).toMatchObject({
      code: ErrorCode.CIRCUIT_OPEN,
      retryAfterMs: 600,
      details: { key: KEY },
    });
    expect(out.error?.name).toBe('CircuitOpenError');
    expect(out.error?.attempts).toBe(0);
    expect(rejected).toEqual([{ key: KEY, retryAfterMs: 600 }]);
  });

  it('lets exactly one probe through when half-open; concurrent calls fail fast', async () => {
    const { clock, registry, resilience, transitions } = setup();
    for (let i = 0; i < 3; i++) await call(clock, resilience, network());
    await clock.advance(1_000);
    expect(registry.state(KEY)).toBe('halfOpen');
    let release: (v: string) => void = () => {};
    const probe = track(
      clock,
      resilience.execute(() => new Promise<string>((r) => (release = r)), { circuitBreaker: breaker }),
    );
    const second = await call(clock, resilience, 'ok');
    expect(second.error?.code).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(second.error?.retryAfterMs).toBe(1_000);
    release('probed');
    await clock.advance(0);
    expect(probe.value).toBe('probed');
    expect(registry.state(KEY)).toBe('closed');
    expect(registry.get(breaker).failures).toBe(0);
    expect(transitions).toEqual(['closed->open@0', 'open->halfOpen@1000', 'halfOpen->closed@1000']);
  });

  it('re-opens for another window when the probe fails', async () => {
    const { clock, registry, resilience, transitions } = setup();
    for (let i = 0; i < 3; i++) await call(clock, resilience, network());
    await clock.advance(1_000);
    await call(clock, resilience, network());
    expect(registry.state(KEY)).toBe('open');
    expect(registry.snapshot()[0]?.openUntil).toBe(clock.now() + 1_000);
    expect(transitions.slice(1)).toEqual(['open->halfOpen@1000', 'halfOpen->open@1000']);
  });

  it('counts timeouts as failures', async () => {
    const { clock, registry, resilience } = setup();
    for (let i = 0; i < 3; i++) {
      track(clock, resilience.execute(hang, { circuitBreaker: breaker, timeoutMs: 20 }));
      await clock.advance(20);
    }
    expect(registry.state(KEY)).toBe('open');
  });

  it('does not count validation errors, 4xx or cancellations, nor let them reset the count', async () => {
    const { clock, registry, resilience } = setup();
    await call(clock, resilience, network());
    await call(clock, resilience, network());
    await call(clock, resilience, new ValidationError('bad input'));
    await call(clock, resilience, new Orchestr8Error(ErrorCode.HTTP_4XX, 'not found'));
    await call(clock, resilience, new CancelledError());
    await call(clock, resilience, new Error('plain bug'));
    expect(registry.state(KEY)).toBe('closed');
    expect(registry.get(breaker).failures).toBe(2);
    await call(clock, resilience, network());
    expect(registry.state(KEY)).toBe('open');
  });

  it('does not count an attempt cut short by the outer signal', async () => {
    const { clock, registry, resilience } = setup();
    for (let i = 0; i < 5; i++) {
      const controller = new AbortController();
      const p = track(
        clock,
        resilience.execute(
          ({ signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(network()), { once: true }),
            ),
          { circuitBreaker: breaker, signal: controller.signal },
        ),
      );
      controller.abort();
      await clock.advance(0);
      expect(p.error?.code).toBe(ErrorCode.NETWORK);
    }
    expect(registry.state(KEY)).toBe('closed');
    expect(registry.get(breaker).failures).toBe(0);
  });

  it('stays half-open when the probe ends with an error that does not count', async () => {
    const { clock, registry, resilience } = setup();
    for (let i = 0; i < 3; i++) await call(clock, resilience, network());
    await clock.advance(1_000);
    const probe = await call(clock, resilience, new CancelledError());
    expect(probe.error?.code).toBe(ErrorCode.CANCELLED);
    expect(registry.state(KEY)).toBe('halfOpen');
    const next = await call(clock, resilience, 'ok');
    expect(next.value).toBe('ok');
    expect(registry.state(KEY)).toBe('closed');
  });

  it('lets another probe through when the one in flight outlives the reset window', async () => {
    const { clock, registry, resilience } = setup();
    for (let i = 0; i < 3; i++) await call(clock, resilience, network());
    await clock.advance(1_000);
    track(clock, resilience.execute(hang, { circuitBreaker: breaker }));
    await clock.advance(999);
    expect((await call(clock, resilience, 'ok')).error?.retryAfterMs).toBe(1);
    await clock.advance(1);
    expect((await call(clock, resilience, 'ok')).value).toBe('ok');
    expect(registry.state(KEY)).toBe('closed');
  });

  it('snapshots and restores circuits, so a restart does not forget an open one', async () => {
    const { clock, registry, resilience } = setup();
    for (let i = 0; i < 3; i++) await call(clock, resilience, network());
    await call(clock, resilience, network(), { circuitBreaker: { ...breaker, key: 'other' } });
    const snapshot = registry.snapshot();
    expect(snapshot).toEqual([
      { key: KEY, state: 'open', failures: 3, openUntil: clock.now() + 1_000 },
      { key: 'other', state: 'closed', failures: 1 },
    ]);

    const restarted = new CircuitBreakerRegistry({ clock });
    const transitions: CircuitTransition[] = [];
    restarted.onTransition((t) => transitions.push(t));
    restarted.restore(JSON.parse(JSON.stringify(snapshot)).map((s: object) => ({ ...s, updatedAt: 1 })));
    expect(restarted.snapshot()).toEqual(snapshot);
    expect(transitions).toEqual([]);
    const again = createResilience({ clock, breakers: restarted });
    const rejected = await call(clock, again, 'ok');
    expect(rejected.error).toMatchObject({ code: ErrorCode.CIRCUIT_OPEN, retryAfterMs: 1_000 });
    // The restored count continues: one more failure opens 'other' (threshold 2 here).
    await call(clock, again, network(), {
      circuitBreaker: { key: 'other', failureThreshold: 2, resetTimeoutMs: 10 },
    });
    expect(restarted.state('other')).toBe('open');
    await clock.advance(1_000);
    expect((await call(clock, again, 'ok')).value).toBe('ok');
    expect(restarted.state(KEY)).toBe('closed');
  });

  it('restores half-open circuits with a probe available, and skips malformed snapshots', () => {
    const clock = createFakeClock();
    const registry = new CircuitBreakerRegistry({ clock });
    const bad = { key: 'b', state: 'ajar' as 'open', failures: 0 };
    const skipped: unknown[] = [];
    registry.restore(
      [
        { key: 'a', state: 'halfOpen', failures: 5 },
        bad,
        { key: 'c', state: 'open', failures: 5, openUntil: null as unknown as number },
      ],
      { onSkipped: (entry) => skipped.push(entry) },
    );
    expect(skipped).toEqual([bad]);
    expect(registry.state('a')).toBe('halfOpen');
    expect(registry.get({ key: 'a', failureThreshold: 5, resetTimeoutMs: 10 }).admit()).toBe(-1);
    expect(registry.state('b')).toBeUndefined();
    expect(registry.snapshot()[1]).toEqual({
      key: 'c',
      state: 'open',
      failures: 5,
      openUntil: clock.now() + 60_000,
    });
    expect(registry.delete('c')).toBe(true);
    expect(registry.state('c')).toBeUndefined();
  });

  it('wraps a function with Circuit.execute outside of resilience.execute', async () => {
    const clock = createFakeClock();
    const registry = new CircuitBreakerRegistry({ clock });
    const circuit = registry.get({ key: 'direct', failureThreshold: 1, resetTimeoutMs: 100 });
    await expect(circuit.execute(() => 5)).resolves.toBe(5);
    await expect(circuit.execute(() => Promise.reject(network()))).rejects.toMatchObject({ code: 'NETWORK' });
    await expect(circuit.execute(() => 5)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 100 });
  });

  it('stops retrying when the circuit opens between attempts', async () => {
    const { clock, registry, resilience } = setup();
    let calls = 0;
    const out = track(
      clock,
      resilience.execute(
        async () => {
          calls++;
          throw network();
        },
        { circuitBreaker: breaker, retry: fixedRetry(10, 10) },
      ),
    );
    await clock.runAll();
    expect(calls).toBe(3);
    expect(out.error?.code).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(out.error?.attempts).toBe(3);
    expect(registry.state(KEY)).toBe('open');
  });

  it('keeps one circuit per key and updates its thresholds from the latest options', async () => {
    const { clock, registry, resilience } = setup();
    await call(clock, resilience, network(), { circuitBreaker: { ...breaker, failureThreshold: 10 } });
    await call(clock, resilience, network(), { circuitBreaker: { ...breaker, failureThreshold: 2 } });
    expect(registry.state(KEY)).toBe('open');
    expect(registry.snapshot()).toHaveLength(1);
    expect(() => registry.get({ key: 'bad', failureThreshold: 0, resetTimeoutMs: 1 })).toThrow(
      expect.objectContaining({ code: ErrorCode.VALIDATION }),
    );
  });

  it('isolates transition listeners: one that throws does not stop the others, and unsubscribe works', async () => {
    const { clock, registry, resilience } = setup();
    const seen: string[] = [];
    registry.onTransition(() => {
      throw new Error('listener bug');
    });
    const off = registry.onTransition((t) => seen.push(t.to));
    for (let i = 0; i < 3; i++) await call(clock, resilience, network());
    off();
    await clock.advance(1_000);
    await call(clock, resilience, 'ok');
    expect(seen).toEqual(['open']);
    expect(registry.state(KEY)).toBe('closed');
  });
});
