/**
 * Engine behaviour the durability commands rely on, tested in-process (memory store, fake
 * clock where time matters): cancel requests recorded by another process, and retry budgets
 * across a restart. They only need @orchestr8/core, so they could move to packages/core/test.
 */
import { createFakeClock } from '@orchestr8/common';
import { type Agent, type AgentRegistry, createEngine, createMemoryStore } from '@orchestr8/core';
import { type CompiledWorkflow, validateWorkflowObject } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';

function compile(doc: Record<string, unknown>): CompiledWorkflow {
  const r = validateWorkflowObject({ version: '1.0.0', metadata: { id: 'gap', name: 'gap' }, ...doc });
  if (!r.ok || !r.workflow) throw new Error(JSON.stringify(r.diagnostics));
  return r.workflow;
}

function registry(...agents: Agent[]): AgentRegistry {
  const byId = new Map(agents.map((a) => [a.id, a]));
  return { get: (id) => byId.get(id), has: (id) => byId.has(id), list: () => [...byId.values()] };
}

/** Waits for `signal` (cancellation), or forever. */
const waitForAbort: Agent = {
  id: 'wait',
  execute: (_input, ctx) =>
    new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
};

const twoSteps = compile({
  steps: [
    { id: 'first', agent: 'wait' },
    { id: 'second', agent: 'wait', dependencies: ['first'] },
  ],
});

describe('engine support for durable cancel requests', () => {
  it('stops a live run within about a second of a request recorded in its store by another process', async () => {
    const store = createMemoryStore();
    const engine = createEngine({ registry: registry(waitForAbort), store });
    const handle = await engine.start(twoSteps);
    // What `orchestr8 cancel` does from another process: write to the shared store only.
    expect(await store.requestCancel(handle.id, 'from another process', Date.now())).toBe('requested');
    const outcome = await Promise.race([
      handle.result,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000)),
    ]);
    await engine.shutdown({ cancel: true, graceMs: 0 });
    expect(outcome).toMatchObject({ status: 'cancelled', statusReason: 'from another process' });
    // The request is acted on, so it is no longer pending.
    expect(await store.pendingCancels([handle.id])).toEqual([]);
  });

  it('cancels on resume, without starting a step, an execution whose cancel request is pending', async () => {
    const store = createMemoryStore();
    const first = createEngine({ registry: registry(waitForAbort), store });
    const handle = await first.start(twoSteps);
    await first.shutdown({ graceMs: 0 }); // left `running`, as after a crash
    await store.requestCancel(handle.id, 'not needed any more', Date.now());

    let calls = 0;
    const counting: Agent = { id: 'wait', execute: () => ++calls };
    const second = createEngine({ registry: registry(counting), store });
    const result = await (await second.resume(handle.id)).result;
    expect(calls).toBe(0);
    expect(result).toMatchObject({ status: 'cancelled', statusReason: 'not needed any more' });
    expect(result.steps.first?.status).toBe('cancelled');
  });
});

describe('engine: retry budgets across a restart', () => {
  it('resumes a step recorded `retrying` after attempt 1 at attempt 2, not attempt 1 again', async () => {
    const store = createMemoryStore();
    const workflow = compile({
      steps: [
        {
          id: 'flaky',
          agent: 'flaky',
          policies: { retry: { maxAttempts: 3, baseDelayMs: '1m', multiplier: 1, jitter: 'none' } },
        },
      ],
    });
    const attempts: number[] = [];
    const flaky: Agent = {
      id: 'flaky',
      execute: (_input, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw Object.assign(new Error('down'), { code: 'NETWORK', retryable: true });
        return 'ok';
      },
    };
    // Engine 1 on a fake clock: attempt 1 fails, and the one-minute backoff never elapses.
    const firstClock = createFakeClock();
    const first = createEngine({ registry: registry(flaky), store, clock: firstClock });
    const handle = await first.start(workflow);
    for (let i = 0; i < 20 && (await store.getSteps(handle.id))[0]?.status !== 'retrying'; i++) {
      await new Promise((r) => setImmediate(r));
    }
    expect((await store.getSteps(handle.id))[0]).toMatchObject({ status: 'retrying', attempts: 1 });
    // The grace period runs on the fake clock too; one tick ends it.
    const stopped = first.shutdown({ graceMs: 0 });
    await firstClock.advance(1);
    await stopped;

    const clock = createFakeClock();
    const second = createEngine({ registry: registry(flaky), store, clock });
    const pending = (await second.resume(handle.id)).result;
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    for (let i = 0; i < 10 && !settled; i++) await clock.advance(60_000);
    const result = await pending;
    expect(result.steps.flaky).toMatchObject({ status: 'completed', attempts: 3 });
    expect(attempts).toEqual([1, 2, 3]);
  });
});
