import { RetryableError, TerminalError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { agent, compile, deferred, settle, testEngine } from './helpers.js';

const echo = agent('@t/echo', (input) => input);
const boom = agent('@t/boom', () => {
  throw new TerminalError('boom');
});

describe('step outcomes', () => {
  it('skips a step whose condition is false, with the reason, and skips its dependents', async () => {
    const wf = compile({
      inputs: { type: 'object', properties: { go: { type: 'boolean' } } },
      steps: [
        { id: 'a', agent: '@t/echo', input: {}, condition: { if: 'inputs.go == true' } },
        { id: 'b', agent: '@t/echo', input: {}, dependencies: ['a'] },
        { id: 'c', agent: '@t/echo', input: {}, condition: { unless: 'inputs.go == true' } },
      ],
    });
    const { engine } = testEngine([echo]);
    const r = await engine.execute(wf, { inputs: { go: false } });
    expect(r.status).toBe('completed');
    expect(r.steps.a!.status).toBe('skipped');
    expect(r.steps.a!.skipReason).toContain('inputs.go == true');
    expect(r.steps.b!.status).toBe('skipped');
    expect(r.steps.b!.skipReason).toBe('dependency "a" was skipped');
    expect(r.steps.c!.status).toBe('completed');
  });

  it('skips a chain of 5,000 steps after a false condition without overflowing the stack', async () => {
    const steps = Array.from({ length: 5000 }, (_, i) =>
      i === 0
        ? { id: 's0', agent: '@t/echo', input: {}, condition: { if: 'false' } }
        : { id: `s${i}`, agent: '@t/echo', input: {}, dependencies: [`s${i - 1}`] },
    );
    const { engine } = testEngine([echo]);
    const r = await engine.execute(compile({ steps }));
    expect(r.status).toBe('completed');
    expect(r.steps.s4999!.status).toBe('skipped');
    expect(r.steps.s4999!.skipReason).toBe('dependency "s4998" was skipped');
  });

  it('runs 20,000 independent steps of a synchronous agent at once without overflowing the stack', async () => {
    const steps = Array.from({ length: 20_000 }, (_, i) => ({ id: `s${i}`, agent: '@t/echo', input: { i } }));
    const { engine } = testEngine([echo]);
    const r = await engine.execute(compile({ steps }), { maxConcurrentSteps: 20_000 });
    expect(r.status).toBe('completed');
    expect(r.steps.s19999!.output).toEqual({ i: 19_999 });
  });

  it('runs a trigger: all_done step after a skipped branch, with the skipped output taking its default', async () => {
    const wf = compile({
      steps: [
        { id: 'deep', agent: '@t/echo', input: { v: 'deep' }, condition: { if: 'false' } },
        { id: 'quick', agent: '@t/echo', input: { v: 'quick' } },
        {
          id: 'join',
          agent: '@t/echo',
          dependencies: ['deep', 'quick'],
          trigger: 'all_done',
          input: { deep: '${steps.deep.output.v ?? null}', quick: '${steps.quick.output.v}' },
        },
      ],
    });
    const { engine } = testEngine([echo]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    expect(r.steps.deep!.status).toBe('skipped');
    expect(r.steps.join!.output).toEqual({ deep: null, quick: 'quick' });
  });

  it('lets dependents of a step that failed under onError: continue run, with ?? defaults', async () => {
    const wf = compile({
      steps: [
        { id: 'a', agent: '@t/boom', input: {}, onError: 'continue' },
        { id: 'b', agent: '@t/echo', dependencies: ['a'], input: { v: '${steps.a.output.v ?? "fallback"}' } },
      ],
    });
    const { engine } = testEngine([echo, boom]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    expect(r.steps.a!.status).toBe('failed');
    expect(r.steps.b!.output).toEqual({ v: 'fallback' });
  });

  it('fails a step with EXPRESSION when it reads a missing output without a default', async () => {
    const wf = compile({
      steps: [
        { id: 'a', agent: '@t/boom', input: {}, onError: 'continue' },
        { id: 'b', agent: '@t/echo', dependencies: ['a'], input: { v: '${steps.a.output.v}' } },
      ],
    });
    const { engine } = testEngine([echo, boom]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('failed');
    expect(r.steps.b!.status).toBe('failed');
    expect(r.steps.b!.error!.code).toBe('EXPRESSION');
    expect(r.steps.b!.error!.message).toContain('steps.a.output.v');
  });

  it('onError: fail stops the execution, cancels running peers through their signal and skips the rest', async () => {
    let aborted = false;
    const hang = agent('@t/hang', (_input, ctx) => {
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          reject(ctx.signal.reason);
        });
      });
    });
    const wf = compile({
      steps: [
        { id: 'peer', agent: '@t/hang', input: {} },
        { id: 'bad', agent: '@t/boom', input: {} },
        { id: 'after', agent: '@t/echo', input: {}, dependencies: ['bad'] },
      ],
    });
    const { engine } = testEngine([echo, boom, hang]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('failed');
    expect(r.error!.message).toContain('boom');
    expect(aborted).toBe(true);
    expect(r.steps.peer!.status).toBe('cancelled');
    expect(r.steps.bad!.status).toBe('failed');
    expect(r.steps.after!.status).toBe('cancelled');
  });

  it('records a peer that ignores its signal as cancelled once the grace period ends', async () => {
    const never = agent('@t/never', () => new Promise(() => {}));
    const wf = compile({
      steps: [
        { id: 'stuck', agent: '@t/never', input: {} },
        { id: 'bad', agent: '@t/boom', input: {} },
      ],
      policies: { cancellation: { gracePeriodMs: 1000 } },
    });
    const { engine, clock } = testEngine([never, boom]);
    const handle = await engine.start(wf);
    await settle();
    let done = false;
    void handle.result.then(() => {
      done = true;
    });
    await clock.advance(999);
    expect(done).toBe(false);
    await clock.advance(1);
    const r = await handle.result;
    expect(r.status).toBe('failed');
    expect(r.steps.stuck!.status).toBe('cancelled');
    expect(r.steps.stuck!.statusReason).toContain('grace period');
    expect(r.steps.stuck!.skipReason).toBeUndefined();
  });

  it('onError: fallback runs the fallback step with the same input and aliases its output', async () => {
    const wf = compile({
      steps: [
        { id: 'primary', agent: '@t/boom', input: { q: 'x' }, onError: 'fallback', fallbackStepId: 'backup' },
        { id: 'backup', agent: '@t/echo', input: { unused: true } },
        {
          id: 'use',
          agent: '@t/echo',
          dependencies: ['primary'],
          input: { got: '${steps.primary.output.q}' },
        },
      ],
    });
    const { engine } = testEngine([echo, boom]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    expect(r.steps.primary!.status).toBe('completed');
    expect(r.steps.primary!.aliasFor).toBe('backup');
    expect(r.steps.primary!.output).toEqual({ q: 'x' });
    expect(r.steps.backup!.status).toBe('completed');
    expect(r.steps.use!.output).toEqual({ got: 'x' });
  });

  it('marks a fallback step that was never needed as skipped', async () => {
    const wf = compile({
      steps: [
        { id: 'primary', agent: '@t/echo', input: {}, onError: 'fallback', fallbackStepId: 'backup' },
        { id: 'backup', agent: '@t/echo', input: {} },
      ],
    });
    const { engine } = testEngine([echo]);
    const r = await engine.execute(wf);
    expect(r.steps.backup!.status).toBe('skipped');
    expect(r.steps.backup!.skipReason).toBe('fallback not needed');
  });

  it('retries a retryable failure with backoff and records the chosen delay', async () => {
    let calls = 0;
    const flaky = agent('@t/flaky', () => {
      calls++;
      if (calls < 3) throw new RetryableError(`flake ${calls}`);
      return { ok: true };
    });
    const wf = compile({
      steps: [{ id: 'f', agent: '@t/flaky', input: {} }],
      policies: {
        resilience: { retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, multiplier: 2 } },
      },
    });
    const { engine, clock } = testEngine([flaky]);
    const handle = await engine.start(wf);
    await clock.runAll();
    const r = await handle.result;
    expect(r.status).toBe('completed');
    expect(r.steps.f!.attempts).toBe(3);
    const journal = await engine.store.readJournal(r.executionId);
    const retries = journal.filter((e) => e.type === 'step.retrying');
    expect(retries).toHaveLength(2);
    // random() is 0.5 in tests: full jitter picks half of the cap (100, then 200)
    expect(retries.map((e) => (e.data as { delayMs: number }).delayMs)).toEqual([50, 100]);
  });

  it("bounds a failed step's error as stored and read back, however large the agent's error", async () => {
    const huge = agent('@t/huge', () => {
      throw new TerminalError(`bad input: ${'x'.repeat(1_000_000)}`, {
        details: { echo: 'y'.repeat(1_000_000) },
      });
    });
    const { engine } = testEngine([huge]);
    const r = await engine.execute(compile({ steps: [{ id: 'h', agent: '@t/huge', input: {} }] }));
    expect(r.status).toBe('failed');
    const stored = await engine.store.getSteps(r.executionId);
    for (const error of [r.steps.h!.error, stored.find((s) => s.stepId === 'h')!.error, r.error]) {
      expect(error).toMatchObject({ code: 'TERMINAL' });
      expect(JSON.stringify(error).length).toBeLessThan(64 * 1024);
    }
    expect(r.steps.h!.error!.message.startsWith('bad input: xxx')).toBe(true);
    expect(r.steps.h!.error!.details).toMatchObject({ '[truncated]': true, originalBytes: 1_000_011 });
  });

  it('does not retry a terminal error', async () => {
    let calls = 0;
    const bad = agent('@t/bad', () => {
      calls++;
      throw new TerminalError('no');
    });
    const wf = compile({ steps: [{ id: 'b', agent: '@t/bad', input: {} }] });
    const { engine } = testEngine([bad]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('failed');
    expect(calls).toBe(1);
  });

  it('times out an attempt through its AbortSignal and records TIMEOUT', async () => {
    let sawAbort = false;
    const slow = agent('@t/slow', (_i, ctx) => {
      return new Promise((_res, rej) => {
        ctx.signal.addEventListener('abort', () => {
          sawAbort = true;
          rej(ctx.signal.reason);
        });
      });
    });
    const wf = compile({
      steps: [
        { id: 's', agent: '@t/slow', input: {}, policies: { timeout: 500, retry: { maxAttempts: 1 } } },
      ],
    });
    const { engine, clock } = testEngine([slow]);
    const handle = await engine.start(wf);
    await clock.advance(500);
    const r = await handle.result;
    expect(sawAbort).toBe(true);
    expect(r.status).toBe('failed');
    expect(r.steps.s!.error!.code).toBe('TIMEOUT');
  });

  it('cancel() stops an execution gracefully and marks it cancelled', async () => {
    const gate = deferred();
    const wait = agent('@t/wait', (_i, ctx) =>
      Promise.race([
        gate.promise,
        new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason))),
      ]),
    );
    const wf = compile({
      steps: [
        { id: 'w', agent: '@t/wait', input: {} },
        { id: 'next', agent: '@t/wait', input: {}, dependencies: ['w'] },
      ],
    });
    const { engine } = testEngine([wait]);
    const handle = await engine.start(wf);
    await settle();
    expect(engine.cancel(handle.id, { reason: 'user asked' })).toBe(true);
    const r = await handle.result;
    expect(r.status).toBe('cancelled');
    expect(r.statusReason).toBe('user asked');
    expect(r.steps.w!.status).toBe('cancelled');
    expect(r.steps.next!.status).toBe('cancelled');
  });

  it('fails the execution on its global timeout', async () => {
    const never = agent(
      '@t/never',
      (_i, ctx) =>
        new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason))),
    );
    const wf = compile({
      steps: [{ id: 'n', agent: '@t/never', input: {} }],
      policies: { timeout: { global: '2s' } },
    });
    const { engine, clock } = testEngine([never]);
    const handle = await engine.start(wf);
    await clock.advance(2000);
    const r = await handle.result;
    expect(r.status).toBe('failed');
    expect(r.error!.code).toBe('TIMEOUT');
  });

  it('renders the workflow outputs at the end', async () => {
    const wf = compile({
      steps: [{ id: 'a', agent: '@t/echo', input: { n: 2 } }],
      outputs: { total: '${steps.a.output.n}', label: 'n is ${steps.a.output.n}' },
    });
    const { engine } = testEngine([echo]);
    const r = await engine.execute(wf);
    expect(r.outputs).toEqual({ total: 2, label: 'n is 2' });
  });

  it('fails a step with AGENT_NOT_FOUND when the agent is not registered', async () => {
    const wf = compile({ steps: [{ id: 'a', agent: '@t/missing', input: {} }] });
    const { engine } = testEngine([echo]);
    const r = await engine.execute(wf);
    expect(r.steps.a!.error!.code).toBe('AGENT_NOT_FOUND');
    expect(r.steps.a!.error!.message).toBe('no agent "@t/missing" is registered (known: @t/echo)');
  });

  it("says which versions are registered when none satisfies the step's range", async () => {
    const wf = compile({ steps: [{ id: 'a', agent: { id: '@t/echo', version: '^2.0.0' }, input: {} }] });
    const v14 = { ...echo, version: '1.4.0' };
    // A registry that matches ranges as @orchestr8/agent-base's does: 1.4.0 is not ^2.0.0.
    const registry = {
      get: (id: string, range?: string) =>
        id === v14.id && (range === undefined || range === '^1') ? v14 : undefined,
      has: (id: string) => id === v14.id,
      list: () => [v14],
    };
    const { engine } = testEngine([], { registry });
    const r = await engine.execute(wf);
    expect(r.steps.a!.error).toMatchObject({
      code: 'AGENT_NOT_FOUND',
      message: 'agent "@t/echo" is registered at version 1.4.0, which does not satisfy "^2.0.0"',
    });
  });

  it('fails a step with VALIDATION when the agent output breaks its schema', async () => {
    const typed = {
      ...agent('@t/typed', () => ({ n: 'not a number' })),
      outputSchema: { type: 'object', properties: { n: { type: 'number' } } },
    };
    const wf = compile({ steps: [{ id: 'a', agent: '@t/typed', input: {} }] });
    const { engine } = testEngine([typed]);
    const r = await engine.execute(wf);
    expect(r.steps.a!.error!.code).toBe('VALIDATION');
    expect(r.steps.a!.error!.message).toContain('/n');
  });
});
