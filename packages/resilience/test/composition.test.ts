import { createFakeClock, ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { CircuitBreakerRegistry, createResilience, type PolicyName } from '../src/index.js';
import { fixedRetry, hang, track } from './helpers.js';

const KEY = 'agent|target';

interface Result {
  calls: number;
  code: string | undefined;
  attempts: number | undefined;
  at: number;
  circuit: string;
}

/** Runs one execution with retry (3 attempts, 100 ms apart), a timeout and a breaker (threshold 2). */
async function run(composition: readonly PolicyName[], attempt: () => Promise<unknown>, timeoutMs: number) {
  const clock = createFakeClock();
  const breakers = new CircuitBreakerRegistry({ clock });
  const resilience = createResilience({ clock, breakers });
  let calls = 0;
  const out = track(
    clock,
    resilience.execute(
      () => {
        calls++;
        return attempt();
      },
      {
        composition,
        retry: fixedRetry(3, 100),
        timeoutMs,
        circuitBreaker: { key: KEY, failureThreshold: 2, resetTimeoutMs: 10_000 },
      },
    ),
  );
  await clock.runAll();
  const snap = breakers.snapshot()[0]!;
  const result: Result = {
    calls,
    code: out.error?.code,
    attempts: out.error?.attempts,
    at: out.at,
    circuit: `${snap.state} ${snap.failures}`,
  };
  return result;
}

const failFast = () => Promise.reject(new Orchestr8Error(ErrorCode.NETWORK, 'refused'));

// [order, attempt that hangs ignoring its signal (timeout 50), attempt that fails fast (timeout 150)]
const cases: [string, PolicyName[], Result, Result][] = [
  [
    'retry(circuitBreaker(timeout)): each attempt has a deadline and each timeout counts against the circuit',
    ['retry', 'circuitBreaker', 'timeout'],
    { calls: 2, code: 'CIRCUIT_OPEN', attempts: 2, at: 300, circuit: 'open 2' },
    { calls: 2, code: 'CIRCUIT_OPEN', attempts: 2, at: 200, circuit: 'open 2' },
  ],
  [
    'retry(timeout(circuitBreaker)): the breaker never hears of attempts abandoned by the timeout',
    ['retry', 'timeout', 'circuitBreaker'],
    { calls: 3, code: 'TIMEOUT', attempts: 3, at: 350, circuit: 'closed 0' },
    { calls: 2, code: 'CIRCUIT_OPEN', attempts: 2, at: 200, circuit: 'open 2' },
  ],
  [
    'circuitBreaker(retry(timeout)): one breaker call wraps all the retries',
    ['circuitBreaker', 'retry', 'timeout'],
    { calls: 3, code: 'TIMEOUT', attempts: 3, at: 350, circuit: 'closed 1' },
    { calls: 3, code: 'NETWORK', attempts: 3, at: 200, circuit: 'closed 1' },
  ],
  [
    'circuitBreaker(timeout(retry)): one deadline for all the retries, counted once by the breaker',
    ['circuitBreaker', 'timeout', 'retry'],
    { calls: 1, code: 'TIMEOUT', attempts: 1, at: 50, circuit: 'closed 1' },
    { calls: 2, code: 'TIMEOUT', attempts: 2, at: 150, circuit: 'closed 1' },
  ],
  [
    'timeout(retry(circuitBreaker)): one deadline bounds the retries, each attempt counts against the circuit',
    ['timeout', 'retry', 'circuitBreaker'],
    { calls: 1, code: 'TIMEOUT', attempts: 1, at: 50, circuit: 'closed 0' },
    { calls: 2, code: 'TIMEOUT', attempts: 2, at: 150, circuit: 'open 2' },
  ],
  [
    'timeout(circuitBreaker(retry)): one deadline, and the breaker counts the aborted retries once',
    ['timeout', 'circuitBreaker', 'retry'],
    { calls: 1, code: 'TIMEOUT', attempts: 1, at: 50, circuit: 'closed 0' },
    { calls: 2, code: 'TIMEOUT', attempts: 2, at: 150, circuit: 'closed 1' },
  ],
];

describe('composition', () => {
  it.each(cases)('%s', async (_name, order, hanging, failing) => {
    expect(await run(order, hang, 50)).toEqual(hanging);
    expect(await run(order, failFast, 150)).toEqual(failing);
  });

  it('defaults to retry(circuitBreaker(timeout))', async () => {
    const clock = createFakeClock();
    const resilience = createResilience({ clock });
    let calls = 0;
    const out = track(
      clock,
      resilience.execute(
        () => {
          calls++;
          return hang();
        },
        {
          retry: fixedRetry(3, 100),
          timeoutMs: 50,
          circuitBreaker: { key: KEY, failureThreshold: 2, resetTimeoutMs: 10_000 },
        },
      ),
    );
    await clock.runAll();
    expect({ calls, code: out.error?.code, at: out.at }).toEqual({ calls: 2, code: 'CIRCUIT_OPEN', at: 300 });
  });

  it('skips the names of policies that are not configured', async () => {
    const clock = createFakeClock();
    const resilience = createResilience({ clock });
    const out = track(
      clock,
      resilience.execute(hang, { timeoutMs: 10, composition: ['timeout', 'circuitBreaker', 'retry'] }),
    );
    await clock.runAll();
    expect(out.error?.code).toBe(ErrorCode.TIMEOUT);
  });

  it.each([
    ['a duplicate', ['retry', 'retry', 'timeout']],
    ['an unknown name', ['retry', 'bulkhead', 'timeout']],
    ['a configured policy missing', ['retry']],
  ])('refuses a composition with %s', async (_name, composition) => {
    const resilience = createResilience({ clock: createFakeClock() });
    await expect(
      resilience.execute(async () => 1, {
        retry: fixedRetry(2, 1),
        timeoutMs: 10,
        composition: composition as PolicyName[],
      }),
    ).rejects.toMatchObject({ code: ErrorCode.VALIDATION });
  });
});
