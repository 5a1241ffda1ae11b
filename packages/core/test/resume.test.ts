// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
import { createFakeClock, type FakeClock, RetryableError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type Engine, type Store } from '../src/index.js';
import { abortable, agent, compile, deferred, journalOf, settle, testEngine } from './helpers.js';

interface Call {
  input: any;
  attempt: number;
  idempotencyKey: string;
}

/** The agents of one engine ("process"), each recording its calls; `side` runs `sideImpl`. */
function agentsOf(sideImpl: (input: any) => unknown) {
  const calls = { calc: [] as Call[], side: [] as Call[] };
  const calc = agent('@t/calc', (input: { n: number }, ctx) => {
    calls.calc.push({ input, attempt: ctx.attempt, idempotencyKey: ctx.idempotencyKey });
    return { v: input.n * 10 };
  });
  const side = agent('@t/side', (input, ctx) => {
    calls.side.push({ input, attempt: ctx.attempt, idempotencyKey: ctx.idempotencyKey });
    return sideImpl(input);
  });
  return { calls, agents: [calc, side] };
}

/** a -> b -> c, where b (the side-effecting step) reads a's output and c reads b's. */
const chain = compile({
  steps: [
    { id: 'a', agent: '@t/calc', input: { n: 2 } },
    { id: 'b', agent: '@t/side', dependencies: ['a'], input: { v: '${steps.a.output.v}' } },
    { id: 'c', agent: '@t/calc', dependencies: ['b'], input: { n: '${steps.b.output.w}' } },
  ],
  policies: { resilience: { retry: { maxAttempts: 1 } } },
});

/** Shuts an engine down without waiting for its running steps (grace 0 on the fake clock). */
async function shutdownNow(engine: Engine, clock: FakeClock): Promise<void> {
  const down = engine.shutdown({ graceMs: 0 });
  await clock.advance(0);
  await down;
}

function shared(): { store: Store; clock: FakeClock } {
  const clock = createFakeClock();
  return { clock, store: createMemoryStore({ clock }) };
}

describe('resume', () => {
  it('does not re-run completed steps, feeds their outputs to templates, and re-runs the running step with the same idempotency key', async () => {
    const { store, clock } = shared();
    const first = agentsOf(() => new Promise(() => {}));
    const a = testEngine(first.agents, { store, clock }).engine;
    const handle = await a.start(chain);
    await settle();
    expect(first.calls.side).toHaveLength(1);
    await shutdownNow(a, clock);
    expect(a.isRunning(handle.id)).toBe(false);
    expect((await store.getExecution(handle.id))!.status).toBe('running');
    const journalBefore = await store.readJournal(handle.id);

    const second = agentsOf((input: { v: number }) => ({ w: input.v + 1 }));
    const b = testEngine(second.agents, { store, clock }).engine;
    const r = await (await b.resume(handle.id)).result;

    expect(r.status).toBe('completed');
    // a ran once, in the first process; only c ran calc in the second.
    expect(first.calls.calc.map((c) => c.input)).toEqual([{ n: 2 }]);
    expect(second.calls.calc.map((c) => c.input)).toEqual([{ n: 21 }]);
    // b ran again, with a's stored output and the key it had before the crash.
    expect(second.calls.side.map((c) => c.input)).toEqual([{ v: 20 }]);
    expect(second.calls.side[0]!.idempotencyKey).toBe(first.calls.side[0]!.idempotencyKey);
    expect(second.calls.side[0]!.idempotencyKey).toBe(`${handle.id}:b`);
    expect(r.steps.c!.output).toEqual({ v: 210 });
    expect(await store.getExecution(handle.id)).toMatchObject({
      status: 'completed',
      result: { c: { v: 210 } },
    });

    // The journal goes on where it stopped.
    const journal = await journalOf(b, handle.id);
    expect(journal.slice(0, journalBefore.length)).toEqual(journalBefore);
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
    expect(journal[journalBefore.length]!.type).toBe('execution.resumed');
  });

  it('resumes, through resumeAll, an execution abandoned by a process that died without shutting down', async () => {
    const { store, clock } = shared();
    const first = agentsOf(() => new Promise(() => {}));
    const a = testEngine(first.agents, { store, clock }).engine;
    const handle = await a.start(chain);
    await settle();
    // Process A is gone: nothing of it runs again. Process B starts over the same store.
    const second = agentsOf((input: { v: number }) => ({ w: input.v + 1 }));
    const b = testEngine(second.agents, { store, clock }).engine;
    const handles = await b.resumeAll();
    expect(handles.map((h) => h.id)).toEqual([handle.id]);
    const r = await handles[0]!.result;
    expect(r.status).toBe('completed');
    expect(second.calls.calc.map((c) => c.input)).toEqual([{ n: 21 }]);
    expect(second.calls.side.map((c) => [c.input, c.idempotencyKey])).toEqual([
      [{ v: 20 }, first.calls.side[0]!.idempotencyKey],
    ]);
  });

  it('continues the retry budget of a step interrupted mid-retry instead of starting it over', async () => {
    const { store, clock } = shared();
    const wf = compile({
      steps: [{ id: 's', agent: '@t/side', input: {} }],
      policies: { resilience: { retry: { maxAttempts: 3, baseDelayMs: 100, jitter: 'none' } } },
    });
    const first = agentsOf((): unknown => {
      if (first.calls.side.length === 1) throw new RetryableError('first attempt fails');
      return new Promise(() => {}); // the second attempt is running when the process stops
    });
    const a = testEngine(first.agents, { store, clock }).engine;
    const handle = await a.start(wf);
    await clock.advance(100);
    expect(first.calls.side.map((c) => c.attempt)).toEqual([1, 2]);
    await shutdownNow(a, clock);
    expect((await store.getSteps(handle.id))[0]).toMatchObject({ stepId: 's', attempts: 2 });

    const second = agentsOf(() => {
      throw new RetryableError('still failing');
    });
    const b = testEngine(second.agents, { store, clock }).engine;
    const resumed = await b.resume(handle.id);
    await clock.runAll();
    const r = await resumed.result;
    expect(r.status).toBe('failed');
    // The interrupted attempt 2 runs again, then the last one: 3 attempts in all, not 3 more.
    expect(second.calls.side.map((c) => c.attempt)).toEqual([2, 3]);
    expect(r.steps.s!.attempts).toBe(3);
    expect(r.steps.s!.error).toMatchObject({ code: 'RETRYABLE', attempts: 3 });
    const keys = new Set([...first.calls.side, ...second.calls.side].map((c) => c.idempotencyKey));
    expect(keys).toEqual(new Set([`${handle.id}:s`]));
  });

  it('gives each forEach item of a re-run step the same idempotency key as before the crash', async () => {
    const { store, clock } = shared();
    const wf = compile({
      steps: [{ id: 'each', agent: '@t/side', forEach: { items: [10, 20, 30] }, input: { x: '${item}' } }],
      policies: { resilience: { retry: { maxAttempts: 1 } } },
    });
    const first = agentsOf((input: { x: number }) => (input.x === 20 ? new Promise(() => {}) : input.x));
    const a = testEngine(first.agents, { store, clock }).engine;
    const handle = await a.start(wf);
    await settle();
    await shutdownNow(a, clock);
    const second = agentsOf((input: { x: number }) => input.x);
    const b = testEngine(second.agents, { store, clock }).engine;
    const r = await (await b.resume(handle.id)).result;
    expect(r.steps.each!.output).toEqual([10, 20, 30]);
    const keyOf = (calls: Call[], x: number) => calls.find((c) => c.input.x === x)!.idempotencyKey;
    expect(first.calls.side.map((c) => c.input.x)).toEqual([10, 20]);
    expect(keyOf(second.calls.side, 10)).toBe(keyOf(first.calls.side, 10));
    expect(keyOf(second.calls.side, 20)).toBe(keyOf(first.calls.side, 20));
    expect(new Set(second.calls.side.map((c) => c.idempotencyKey)).size).toBe(3);
  });

  it('does not run a completed, failed or cancelled execution again on resume or resumeAll', async () => {
    const { store, clock } = shared();
    const first = agentsOf((input: { v: number }) => {
      if (input.v < 0) throw new Error('negative');
      return { w: input.v + 1 };
    });
    const a = testEngine([...first.agents, abortable('@t/wait')], { store, clock }).engine;
    const completed = await a.execute(chain);
    const failed = await a.execute(
      compile({
        steps: [{ id: 'b', agent: '@t/side', input: { v: -1 } }],
        policies: { resilience: { retry: { maxAttempts: 1 } } },
      }),
    );
    const waiting = await a.start(compile({ steps: [{ id: 'w', agent: '@t/wait', input: {} }] }));
    await settle();
    waiting.cancel('stop');
    const cancelled = await waiting.result;
    expect([completed.status, failed.status, cancelled.status]).toEqual(['completed', 'failed', 'cancelled']);

    const second = agentsOf(() => ({ w: 0 }));
    let waits = 0;
    const b = testEngine([...second.agents, agent('@t/wait', () => ++waits)], { store, clock }).engine;
    expect(await b.resumeAll()).toEqual([]);
    for (const before of [completed, failed, cancelled]) {
      const h = await b.resume(before.executionId);
      expect(h.created).toBe(false);
      const after = await h.result;
      expect(after.status).toBe(before.status);
      expect(after.steps).toEqual(before.steps);
      expect(b.isRunning(before.executionId)).toBe(false);
    }
    expect([second.calls.calc.length, second.calls.side.length, waits]).toEqual([0, 0, 0]);
  });

  it('returns the live run when asked to resume an execution that is running in this engine', async () => {
    const gate = deferred();
    const { agents, calls } = agentsOf(() => gate.promise.then(() => ({ w: 1 })));
    const { engine } = testEngine(agents);
    const handle = await engine.start(chain);
    await settle();
    const again = await engine.resume(handle.id);
    expect(again.created).toBe(false);
    gate.resolve(undefined);
    expect((await again.result).status).toBe('completed');
    expect(calls.side).toHaveLength(1);
  });

  it('ignores the late outcome of a step abandoned at shutdown once another engine resumed the execution', async () => {
    const { store, clock } = shared();
    const late = deferred<{ w: number }>();
    const first = agentsOf(() => late.promise);
    const a = testEngine(first.agents, { store, clock }).engine;
    const handle = await a.start(chain);
    await settle();
    await shutdownNow(a, clock);
    const second = agentsOf((input: { v: number }) => ({ w: input.v + 1 }));
    const b = testEngine(second.agents, { store, clock }).engine;
    await (await b.resume(handle.id)).result;
    const steps = structuredClone(await store.getSteps(handle.id));
    const journal = structuredClone(await store.readJournal(handle.id));

    late.resolve({ w: -999 });
    await settle();
    await clock.runAll();
    expect(await store.getSteps(handle.id)).toEqual(steps);
    expect(await store.readJournal(handle.id)).toEqual(journal);
    expect(first.calls.calc).toHaveLength(1); // c never ran in the engine that was shut down
  });

  it('does not retry, nor write for, a step abandoned at shutdown when its attempt fails late', async () => {
    const { store, clock } = shared();
    const late = deferred<never>();
    const wf = compile({
      steps: [{ id: 's', agent: '@t/side', input: {} }],
      policies: { resilience: { retry: { maxAttempts: 3, baseDelayMs: 100, jitter: 'none' } } },
    });
    const first = agentsOf(() => late.promise);
    const a = testEngine(first.agents, { store, clock }).engine;
    const handle = await a.start(wf);
    await settle();
    await shutdownNow(a, clock);
    const second = agentsOf(() => ({ ok: true }));
    const b = testEngine(second.agents, { store, clock }).engine;
    expect((await (await b.resume(handle.id)).result).status).toBe('completed');
    const steps = structuredClone(await store.getSteps(handle.id));
    const journal = structuredClone(await store.readJournal(handle.id));

    late.reject(new RetryableError('connection reset'));
    await settle();
    await clock.runAll();
    // The engine that was shut down makes no new attempt and writes nothing.
    expect(first.calls.side).toHaveLength(1);
    expect(await store.getSteps(handle.id)).toEqual(steps);
    expect(await store.readJournal(handle.id)).toEqual(journal);
  });
});
