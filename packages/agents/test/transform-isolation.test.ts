/**
 * `@orchestr8/transform` evaluates in the isolation pool: a runaway, memory-hungry or
 * stack-overflowing expression fails its step, and the process (this test process) keeps
 * running its event loop and its other transforms.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  closeIsolation,
  configureIsolation,
  ISOLATION_MEMORY_ENV,
  ISOLATION_WORKERS_ENV,
  transformAgent,
} from '../src/index.js';
import { caught, contextFor } from './helpers.js';

const RUNAWAY = '($f := function($x){ $f($x + 1) }; $f(0))';
/** Doubles an array until the heap is full: one large allocation at a time. */
const HUNGRY =
  '($f := function($a, $n){ $n = 0 ? $a : $f($append($a, $a), $n - 1) }; $count($f([1..1000], 40)))';
/** Catastrophic backtracking: one native call that JSONata's own timeout check cannot interrupt. */
const BACKTRACKING = '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)';

const transform = (input: Record<string, unknown>, signal?: AbortSignal) =>
  transformAgent.execute(input as { expression: string }, contextFor(signal ? { signal } : {})) as Promise<{
    result: unknown;
  }>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  delete process.env[ISOLATION_MEMORY_ENV];
  delete process.env[ISOLATION_WORKERS_ENV];
  await configureIsolation({});
});
afterAll(() => closeIsolation());

describe('@orchestr8/transform in the isolation pool', () => {
  it('keeps the event loop running while a runaway expression runs, then fails it with TIMEOUT', async () => {
    await transform({ expression: '1' }); // a worker is up and idle
    let settled = false;
    const step = transform({ expression: RUNAWAY, timeoutMs: 3000 }).finally(() => {
      settled = true;
    });
    // In-process, this timer could only fire once the evaluation had given up.
    await sleep(200);
    expect(settled).toBe(false);
    const e = await caught(() => step);
    expect(e).toMatchObject({ code: 'TIMEOUT', retryable: false });
    expect(e.message).toContain('3000 ms');
  });

  it('kills a worker stuck inside one evaluation step at the deadline, and carries on with a new one', async () => {
    const e = await caught(() => transform({ expression: BACKTRACKING, timeoutMs: 200 }));
    expect(e).toMatchObject({ code: 'TIMEOUT', retryable: false });
    expect(await transform({ expression: '$uppercase("next")' })).toEqual({ result: 'NEXT' });
  });

  it('fails an expression that exhausts the memory limit with RESOURCE_EXHAUSTED; the process and the pool survive', async () => {
    await configureIsolation({ maxMemoryMb: 64 });
    const e = await caught(() => transform({ expression: HUNGRY, timeoutMs: 30_000 }));
    expect(e).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryable: false });
    expect(e.message).toContain('64 MB');
    expect(await transform({ expression: '$sum([1, 2, 3])' })).toEqual({ result: 6 });
  });

  it('limits memory to 256 MB unless ORCHESTR8_ISOLATION_MEMORY_MB says otherwise', async () => {
    const byDefault = await caught(() => transform({ expression: HUNGRY, timeoutMs: 30_000 }));
    expect(byDefault).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(byDefault.message).toContain('256 MB');
    process.env[ISOLATION_MEMORY_ENV] = '48';
    await configureIsolation({});
    const e = await caught(() => transform({ expression: HUNGRY, timeoutMs: 30_000 }));
    expect(e).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(e.message).toContain('48 MB');
  });

  it('takes timeoutMs and maxDepth defaults from agent.config', async () => {
    const config = { timeoutMs: 150, maxDepth: 40 };
    const slow = await caught(() => transformAgent.execute({ expression: RUNAWAY }, contextFor({ config })));
    expect(slow.message).toContain('150 ms');
    const deep = await caught(() =>
      transformAgent.execute(
        { expression: '( $f := function($n){ 1 + $f($n + 1) }; $f(0) )' },
        contextFor({ config }),
      ),
    );
    expect(deep.message).toContain('deeper than 40');
  });

  it('fails a stack overflow with EXPRESSION, and the next transform runs', async () => {
    const deep = `${'('.repeat(50_000)}1${')'.repeat(50_000)}`;
    const e = await caught(() => transform({ expression: deep }));
    expect(e).toMatchObject({ code: 'EXPRESSION', retryable: false });
    expect(e.message).toContain('overflowed the stack');
    expect(await transform({ expression: '1 + 1' })).toEqual({ result: 2 });
  });

  it('stops the evaluation when the step is cancelled while it runs', async () => {
    const controller = new AbortController();
    const step = transform({ expression: RUNAWAY, timeoutMs: 10_000 }, controller.signal);
    await sleep(100);
    controller.abort(new Error('user cancelled'));
    const e = await caught(() => step);
    expect(e).toMatchObject({ code: 'CANCELLED' });
    expect(e.message).toBe('user cancelled');
  });

  it('does not hold up another transform while one runs away', async () => {
    const runaway = caught(() => transform({ expression: RUNAWAY, timeoutMs: 3000 }));
    let runawayDone = false;
    void runaway.then(() => {
      runawayDone = true;
    });
    expect(await transform({ expression: '"meanwhile"' })).toEqual({ result: 'meanwhile' });
    expect(runawayDone).toBe(false);
    expect(await runaway).toMatchObject({ code: 'TIMEOUT' });
  });

  it('counts timeoutMs from when a worker starts the evaluation, not while it waits for one', async () => {
    process.env[ISOLATION_WORKERS_ENV] = '1';
    await configureIsolation({});
    await transform({ expression: '1' });
    const runaway = caught(() => transform({ expression: RUNAWAY, timeoutMs: 800 }));
    // Queued behind the runaway for longer than its own timeoutMs, then quick to evaluate.
    const queued = transform({ expression: '"waited"', timeoutMs: 300 });
    expect(await queued).toEqual({ result: 'waited' });
    expect(await runaway).toMatchObject({ code: 'TIMEOUT' });
  });

  it('reuses a compiled expression without carrying state from one evaluation to the next', async () => {
    const expression = '($total := $sum(items) * $factor; $total)';
    const one = await transform({ expression, data: { items: [1, 2] }, bindings: { factor: 10 } });
    const two = await transform({ expression, data: { items: [5] }, bindings: { factor: 2 } });
    const unbound = await transform({ expression: '$total', data: {} });
    expect([one, two, unbound]).toEqual([{ result: 30 }, { result: 10 }, { result: null }]);
  });

  it('runs transforms side by side, each with its own data', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => transform({ expression: 'n * n', data: { n: i } })),
    );
    expect(results.map((r) => r.result)).toEqual(Array.from({ length: 20 }, (_, i) => i * i));
  });
});
