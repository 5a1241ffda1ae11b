// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow documents contain ${...} templates
import { createFakeClock, hasCode, RetryableError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createMemoryStore, type Engine, type Store } from '../src/index.js';
import { agent, compile, dataOf, entriesOf, journalOf, settle, testEngine } from './helpers.js';

/**
 * fetch -> transform -> publish, plus report (reads inputs.title) beside them. `transform`
 * fails while `state.failTransform`; every call is counted per step.
 */
function fixture(opts: { failTransform?: boolean; maxAttempts?: number } = {}) {
  const state = { failTransform: opts.failTransform ?? true };
  const calls: Record<string, { input: any; attempt: number; key: string }[]> = {};
  const record = (id: string, input: unknown, attempt: number, key: string) => {
    calls[id] ??= [];
    calls[id].push({ input, attempt, key });
  };
  const work = agent('@t/work', (input: { step: string; value?: unknown }, ctx) => {
    record(input.step, input, ctx.attempt, ctx.idempotencyKey);
    if (input.step === 'transform' && state.failTransform) throw new RetryableError('transform is down');
    return { from: input.step, value: input.value };
  });
  const workflow = compile({
    inputs: {
      type: 'object',
      properties: { source: { type: 'string', default: 'a' }, title: { type: 'string', default: 't' } },
    },
    steps: [
      { id: 'fetch', agent: '@t/work', input: { step: 'fetch', value: '${inputs.source}' } },
      {
        id: 'transform',
        agent: '@t/work',
        dependencies: ['fetch'],
        input: { step: 'transform', value: '${steps.fetch.output.value}' },
      },
      {
        id: 'publish',
        agent: '@t/work',
        dependencies: ['transform'],
        input: { step: 'publish', value: '${steps.transform.output.value}' },
      },
      { id: 'report', agent: '@t/work', input: { step: 'report', value: '${inputs.title}' } },
    ],
    policies: {
      resilience: { retry: { maxAttempts: opts.maxAttempts ?? 2, baseDelayMs: 1, jitter: 'none' } },
    },
  });
  return { state, calls, work, workflow };
}

function setup(opts: { failTransform?: boolean; maxAttempts?: number } = {}) {
  const f = fixture(opts);
  const clock = createFakeClock();
  const store: Store = createMemoryStore({ clock });
  const { engine } = testEngine([f.work], { store, clock, cancelPollMs: 0 });
  return { ...f, engine, store, clock };
}

/** Runs to the end on the fake clock (retry back-offs included). */
async function finish<T>(clock: ReturnType<typeof createFakeClock>, p: Promise<T>): Promise<T> {
  let done = false;
  void p.finally(() => {
    done = true;
  });
  for (let i = 0; i < 200 && !done; i++) {
    await settle();
    await clock.advance(10);
  }
  return p;
}

async function failedExecution(t: ReturnType<typeof setup>, engine: Engine = t.engine) {
  const handle = await engine.start(t.workflow, { inputs: { source: 'a', title: 't' } });
  const result = await finish(t.clock, handle.result);
  expect(result.status).toBe('failed');
  return handle.id;
}

describe('retry', () => {
  it('re-runs the failed step and what it gates, in the same execution, with a fresh retry budget, keeping completed outputs', async () => {
    const t = setup();
    const id = await failedExecution(t);
    expect(t.calls.transform).toHaveLength(2); // the budget of 2 attempts used up
    expect(t.calls.publish).toBeUndefined();
    t.state.failTransform = false;
    const retried = await t.engine.retry(id);
    expect(retried.id).toBe(id);
    expect(retried.created).toBe(true);
    expect(retried.retried).toEqual(['transform', 'publish']);
    const result = await finish(t.clock, retried.result);
    expect(result.status).toBe('completed');
    expect(result.error).toBeUndefined();
    expect(t.calls.fetch).toHaveLength(1);
    expect(t.calls.report).toHaveLength(1);
    // A fresh budget: the retry's first call is attempt 1 again.
    expect(t.calls.transform!.map((c) => c.attempt)).toEqual([1, 2, 1]);
    expect(t.calls.publish).toHaveLength(1);
    expect(result.steps.publish!.output).toEqual({ from: 'publish', value: 'a' });
  });

  it('journals the retry: what runs again, the previous status and error, then the resumed run', async () => {
    const t = setup();
    const id = await failedExecution(t);
    t.state.failTransform = false;
    await finish(t.clock, (await t.engine.retry(id, { reason: 'upstream fixed' })).result);
    const journal = await journalOf(t.engine, id);
    const [entry] = entriesOf(journal, 'execution.retried');
    expect(dataOf(entry)).toMatchObject({
      steps: ['transform', 'publish'],
      previousStatus: 'failed',
      reason: 'upstream fixed',
      previousError: { code: expect.any(String) },
    });
    const types = journal.map((e) => e.type);
    const at = types.indexOf('execution.retried');
    expect(types.slice(at - 1, at + 2)).toEqual([
      'execution.failed',
      'execution.retried',
      'execution.resumed',
    ]);
    expect(types.at(-1)).toBe('execution.completed');
    // Sequence numbers go on without a gap or a repeat.
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
  });

  it('gives re-run steps a new idempotency key per retry', async () => {
    const t = setup();
    const id = await failedExecution(t);
    await finish(t.clock, (await t.engine.retry(id)).result);
    t.state.failTransform = false;
    await finish(t.clock, (await t.engine.retry(id)).result);
    const keys = [...new Set(t.calls.transform!.map((c) => c.key))];
    expect(keys).toEqual([`${id}:transform`, `${id}:transform#retry1`, `${id}:transform#retry2`]);
  });

  it('refuses a completed or running execution with a CONFLICT saying why', async () => {
    const t = setup({ failTransform: false });
    const done = await t.engine.start(t.workflow);
    await finish(t.clock, done.result);
    const completed = await t.engine.retry(done.id).catch((e: unknown) => e);
    expect(hasCode(completed, 'CONFLICT')).toBe(true);
    expect((completed as Error).message).toMatch(/completed.*rerun/);
    expect((completed as { details?: { status?: string } }).details?.status).toBe('completed');

    t.state.failTransform = true;
    const running = await t.engine.start(t.workflow);
    const refused = await t.engine.retry(running.id).catch((e: unknown) => e);
    expect(hasCode(refused, 'CONFLICT')).toBe(true);
    expect((refused as { details?: { status?: string } }).details?.status).toBe('running');
    await finish(t.clock, running.result);
    expect(hasCode(await t.engine.retry('nope').catch((e: unknown) => e), 'NOT_FOUND')).toBe(true);
  });

  it('retries once for two concurrent requests: the second finds it running', async () => {
    const t = setup();
    const id = await failedExecution(t);
    t.state.failTransform = false;
    const outcomes = await Promise.allSettled([t.engine.retry(id), t.engine.retry(id)]);
    const ok = outcomes.filter((o) => o.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(hasCode(refused.reason, 'CONFLICT')).toBe(true);
    await finish(t.clock, (ok[0] as PromiseFulfilledResult<{ result: Promise<unknown> }>).value.result);
    expect(entriesOf(await journalOf(t.engine, id), 'execution.retried')).toHaveLength(1);
  });

  it('with an idempotency key, a repeated request returns the first retry instead of a conflict', async () => {
    const t = setup();
    const id = await failedExecution(t);
    t.state.failTransform = false;
    const first = await t.engine.retry(id, { idempotencyKey: 'k1', fingerprint: 'f' });
    const again = await t.engine.retry(id, { idempotencyKey: 'k1', fingerprint: 'f' });
    expect(again.created).toBe(false);
    expect(again.retried).toEqual(first.retried);
    await finish(t.clock, first.result);
    const later = await t.engine.retry(id, { idempotencyKey: 'k1', fingerprint: 'f' });
    expect((await later.result).status).toBe('completed');
    expect(entriesOf(await journalOf(t.engine, id), 'execution.retried')).toHaveLength(1);
    const other = await t.engine
      .retry(id, { idempotencyKey: 'k1', fingerprint: 'g' })
      .catch((e: unknown) => e);
    expect(hasCode(other, 'CONFLICT')).toBe(true);
  });

  it('retries a cancelled execution: the steps the cancel stopped run, completed ones do not', async () => {
    const t = setup({ failTransform: false });
    const handle = await t.engine.start(t.workflow);
    t.engine.cancel(handle.id, { reason: 'operator' });
    const cancelled = await finish(t.clock, handle.result);
    expect(cancelled.status).toBe('cancelled');
    const before = Object.values(cancelled.steps).filter((s) => s.status === 'completed').length;
    const retried = await t.engine.retry(handle.id);
    const result = await finish(t.clock, retried.result);
    expect(result.status).toBe('completed');
    expect(retried.retried.length).toBe(4 - before);
    for (const id of ['fetch', 'transform', 'publish', 'report']) expect(t.calls[id]).toHaveLength(1);
  });
});

describe('rerun from a step', () => {
  it('starts a new, linked execution that reuses upstream outputs and runs the step and its downstream', async () => {
    const t = setup({ failTransform: false });
    const original = await t.engine.start(t.workflow, { inputs: { source: 'a', title: 't' } });
    await finish(t.clock, original.result);
    const { plan, handle } = await t.engine.rerun(original.id, { fromStep: 'transform' });
    expect(plan).toMatchObject({ rerun: ['transform', 'publish'], reused: ['fetch', 'report'] });
    expect(handle.id).not.toBe(original.id);
    const result = await finish(t.clock, handle.result);
    expect(result.status).toBe('completed');
    expect(t.calls.fetch).toHaveLength(1);
    expect(t.calls.report).toHaveLength(1);
    expect(t.calls.transform).toHaveLength(2);
    expect(t.calls.publish).toHaveLength(2);
    expect(result.steps.fetch!.output).toEqual({ from: 'fetch', value: 'a' });
    const record = await t.store.getExecution(handle.id);
    expect(record!.correlationId).toBe(`rerun:${original.id}@transform`);
    const [entry] = entriesOf(await journalOf(t.engine, handle.id), 'execution.rerun');
    expect(entry!.seq).toBe(1);
    expect(dataOf(entry)).toMatchObject({
      of: original.id,
      fromStep: 'transform',
      reused: ['fetch', 'report'],
    });
    // The original is untouched.
    expect((await t.engine.getResult(original.id))!.status).toBe('completed');
  });

  it('with changed inputs, also re-runs the steps whose templates read them (and their downstream), and says so', async () => {
    const t = setup({ failTransform: false });
    const original = await t.engine.start(t.workflow, { inputs: { source: 'a', title: 't' } });
    await finish(t.clock, original.result);
    const plan = await t.engine.planRerun(original.id, { fromStep: 'publish', inputs: { source: 'b' } });
    expect(plan).toEqual({
      rerun: ['fetch', 'transform', 'publish'],
      reused: ['report'],
      changedInputs: ['source'],
      invalidated: [{ stepId: 'fetch', inputs: ['source'] }],
    });
    // A dry run starts nothing.
    expect((await t.store.listExecutions()).items).toHaveLength(1);
    const { handle } = await t.engine.rerun(original.id, { fromStep: 'publish', inputs: { source: 'b' } });
    const result = await finish(t.clock, handle.result);
    expect(result.steps.publish!.output).toEqual({ from: 'publish', value: 'b' });
    expect((await t.store.getExecution(handle.id))!.inputs).toEqual({ source: 'b', title: 't' });
    expect(t.calls.report).toHaveLength(1);
  });

  it('an input set to the value it had changes nothing', async () => {
    const t = setup({ failTransform: false });
    const original = await t.engine.start(t.workflow, { inputs: { source: 'a', title: 't' } });
    await finish(t.clock, original.result);
    const plan = await t.engine.planRerun(original.id, { fromStep: 'publish', inputs: { source: 'a' } });
    expect(plan.rerun).toEqual(['publish']);
    expect(plan.changedInputs).toEqual([]);
  });

  it('re-runs steps that failed in the original even when upstream of the chosen step', async () => {
    const t = setup();
    const id = await failedExecution(t);
    t.state.failTransform = false;
    const plan = await t.engine.planRerun(id, { fromStep: 'report' });
    expect(plan).toMatchObject({ rerun: ['transform', 'publish', 'report'], reused: ['fetch'] });
  });

  it('refuses an unknown step, invalid inputs and an execution still running', async () => {
    const t = setup({ failTransform: false });
    const original = await t.engine.start(t.workflow);
    const running = await t.engine.planRerun(original.id, { fromStep: 'fetch' }).catch((e: unknown) => e);
    expect(hasCode(running, 'CONFLICT')).toBe(true);
    await finish(t.clock, original.result);
    const unknown = await t.engine.planRerun(original.id, { fromStep: 'nope' }).catch((e: unknown) => e);
    expect(hasCode(unknown, 'VALIDATION')).toBe(true);
    expect((unknown as Error).message).toContain(
      'no step "nope" (its steps: fetch, transform, publish, report)',
    );
    const bad = await t.engine
      .planRerun(original.id, { fromStep: 'fetch', inputs: { source: 5 } })
      .catch((e: unknown) => e);
    expect(hasCode(bad, 'VALIDATION')).toBe(true);
    expect((bad as Error).message).toMatch(/source/);
  });

  it('with an idempotency key, starts one rerun for repeated requests', async () => {
    const t = setup({ failTransform: false });
    const original = await t.engine.start(t.workflow);
    await finish(t.clock, original.result);
    const a = await t.engine.rerun(original.id, { fromStep: 'publish', idempotencyKey: 'r1' });
    const b = await t.engine.rerun(original.id, { fromStep: 'publish', idempotencyKey: 'r1' });
    expect(b.handle.id).toBe(a.handle.id);
    expect(b.handle.created).toBe(false);
    await finish(t.clock, a.handle.result);
  });
});

describe('promises of the operations page', () => {
  it('a retry also re-runs a completed step downstream of the failure (a cleanup with trigger all_done)', async () => {
    const t = setup();
    const cleanups: number[] = [];
    const cleanup = agent('@t/cleanup', () => {
      cleanups.push(1);
      return { cleaned: true };
    });
    // work fails (onError continue), cleanup completes after it, report needs work's output and fails.
    const wf = compile({
      steps: [
        { id: 'work', agent: '@t/work', input: { step: 'transform' }, onError: 'continue' },
        { id: 'cleanup', agent: '@t/cleanup', dependencies: ['work'], trigger: 'all_done', input: {} },
        {
          id: 'report',
          agent: '@t/work',
          dependencies: ['cleanup'],
          input: { step: 'report', value: '${steps.work.output.from}' },
        },
      ],
      policies: { resilience: { retry: { maxAttempts: 1 } } },
    });
    const clock = createFakeClock();
    const { engine } = testEngine([t.work, cleanup], {
      store: createMemoryStore({ clock }),
      clock,
      cancelPollMs: 0,
    });
    const h = await engine.start(wf);
    const first = await finish(clock, h.result);
    expect(first.status).toBe('failed');
    expect(first.steps.cleanup!.status).toBe('completed');
    t.state.failTransform = false;
    const retried = await engine.retry(h.id);
    expect(retried.retried).toEqual(['work', 'cleanup', 'report']);
    expect((await finish(clock, retried.result)).status).toBe('completed');
    expect(cleanups).toHaveLength(2);
  });

  it('a retry renders again a key the document sets with policies.idempotencyKey', async () => {
    const t = setup();
    const wf = compile({
      inputs: { type: 'object', properties: { order: { type: 'string', default: 'A-1' } } },
      steps: [
        {
          id: 'charge',
          agent: '@t/work',
          input: { step: 'transform' },
          policies: { idempotencyKey: 'charge-${inputs.order}', retry: { maxAttempts: 1 } },
        },
      ],
    });
    const h = await t.engine.start(wf);
    await finish(t.clock, h.result);
    t.state.failTransform = false;
    await finish(t.clock, (await t.engine.retry(h.id)).result);
    expect(t.calls.transform!.map((c) => c.key)).toEqual(['charge-A-1', 'charge-A-1']);
  });

  it('a retry starts a new child execution for a sub-workflow step', async () => {
    const clock = createFakeClock();
    let failChild = true;
    const leaf = agent('@t/leaf', () => {
      if (failChild) throw new RetryableError('child down');
      return 'ok';
    });
    const children: string[] = [];
    const parent = agent('@t/parent', async (_input, ctx) => {
      const r = await ctx.runWorkflow(
        {
          version: '1.0.0',
          metadata: { id: 'child' },
          steps: [{ id: 'leaf', agent: '@t/leaf', input: {} }],
          policies: { resilience: { retry: { maxAttempts: 1 } } },
        },
        {},
      );
      children.push(r.executionId);
      if (r.status !== 'completed') throw new RetryableError('child failed');
      return r.outputs;
    });
    const wf = compile({
      steps: [{ id: 'p', agent: '@t/parent', input: {} }],
      policies: { resilience: { retry: { maxAttempts: 1 } } },
    });
    const { engine } = testEngine([leaf, parent], {
      store: createMemoryStore({ clock }),
      clock,
      cancelPollMs: 0,
    });
    const h = await engine.start(wf);
    expect((await finish(clock, h.result)).status).toBe('failed');
    failChild = false;
    expect((await finish(clock, (await engine.retry(h.id)).result)).status).toBe('completed');
    expect(children).toHaveLength(2);
    expect(children[1]).not.toBe(children[0]);
  });

  it("a retry's global timeout counts from the retry", async () => {
    let hang = true;
    const slow = agent('@t/slow', (_input, ctx) =>
      hang
        ? new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
        : 'done',
    );
    const wf = compile({
      steps: [{ id: 's', agent: '@t/slow', input: {} }],
      policies: { timeout: { global: '1s' }, resilience: { retry: { maxAttempts: 1 } } },
    });
    const clock = createFakeClock();
    const { engine } = testEngine([slow], { store: createMemoryStore({ clock }), clock, cancelPollMs: 0 });
    const h = await engine.start(wf);
    const first = await finish(clock, h.result);
    expect(first.status).toBe('failed');
    expect(first.error?.code).toBe('TIMEOUT');
    await clock.advance(60_000);
    hang = false;
    const again = await finish(clock, (await engine.retry(h.id)).result);
    expect(again.status).toBe('completed');
  });

  it('refuses to retry an execution that waits', async () => {
    const t = setup();
    const id = await failedExecution(t);
    const record = (await t.store.getExecution(id))!;
    await t.store.write([{ kind: 'execution', execution: { ...record, status: 'waiting' } }]);
    const refused = await t.engine.retry(id).catch((e: unknown) => e);
    expect(hasCode(refused, 'CONFLICT')).toBe(true);
    expect((refused as Error).message).toContain('it is waiting');
  });

  it('a rerun runs again a step whose condition reads a changed input, and one that reads ${inputs} whole', async () => {
    const t = setup({ failTransform: false });
    const wf = compile({
      inputs: {
        type: 'object',
        properties: { mode: { type: 'string', default: 'x' }, other: { type: 'string', default: 'o' } },
      },
      steps: [
        { id: 'plain', agent: '@t/work', input: { step: 'plain' } },
        { id: 'gated', agent: '@t/work', condition: { if: 'inputs.mode == "x"' }, input: { step: 'gated' } },
        { id: 'whole', agent: '@t/work', input: { step: 'whole', value: '${inputs}' } },
      ],
    });
    const h = await t.engine.start(wf);
    await finish(t.clock, h.result);
    const plan = await t.engine.planRerun(h.id, { fromStep: 'plain', inputs: { mode: 'y' } });
    expect(plan.rerun).toEqual(['plain', 'gated', 'whole']);
    expect(plan.invalidated).toEqual([
      { stepId: 'gated', inputs: ['mode'] },
      { stepId: 'whole', inputs: ['mode'] },
    ]);
  });
});
