import { describe, expect, it } from 'vitest';
import { agent, compile, testEngine } from './helpers.js';

const child = {
  version: '1.0.0',
  metadata: { id: 'child', name: 'child' },
  inputs: { type: 'object', properties: { n: { type: 'number' } } },
  steps: [{ id: 'double', agent: '@t/double', input: { n: '${inputs.n}' } }],
  outputs: { doubled: '${steps.double.output}' },
};

describe('sub-workflows', () => {
  it('runs a child execution linked to the parent step and returns its outputs', async () => {
    const double = agent('@t/double', (input: { n: number }) => input.n * 2);
    const parentAgent = agent('@t/parent', async (input: { n: number }, ctx) => {
      const r = await ctx.runWorkflow(child, { inputs: { n: input.n } });
      return { status: r.status, outputs: r.outputs, childId: r.executionId };
    });
    const wf = compile({ steps: [{ id: 'p', agent: '@t/parent', input: { n: 21 } }] });
    const { engine } = testEngine([double, parentAgent]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    const out = r.steps.p!.output as { status: string; outputs: unknown; childId: string };
    expect(out).toMatchObject({ status: 'completed', outputs: { doubled: 42 } });
    const childRecord = await engine.store.getExecution(out.childId);
    expect(childRecord).toMatchObject({
      parentExecutionId: r.executionId,
      parentStepId: 'p',
      workflowId: 'child',
    });
    const journal = await engine.store.readJournal(r.executionId);
    expect(journal.find((e) => e.type === 'step.child')?.data).toEqual({ childExecutionId: out.childId });
  });

  it('finds the same child execution when the step runs again, instead of starting another', async () => {
    const double = agent('@t/double', (input: { n: number }) => input.n * 2);
    const ids: string[] = [];
    const parentAgent = agent('@t/parent', async (_input, ctx) => {
      const r = await ctx.runWorkflow(child, { inputs: { n: 1 } });
      ids.push(r.executionId);
      if (ctx.attempt === 1)
        throw Object.assign(new Error('flaky after child'), { code: 'RETRYABLE', retryable: true });
      return r.outputs;
    });
    const wf = compile({
      steps: [
        { id: 'p', agent: '@t/parent', input: {}, policies: { retry: { maxAttempts: 2, baseDelayMs: 0 } } },
      ],
    });
    const { engine, clock } = testEngine([double, parentAgent]);
    const handle = await engine.start(wf);
    await clock.runAll();
    const r = await handle.result;
    expect(r.status).toBe('completed');
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it('starts a fresh child on retry when the previous child failed', async () => {
    let childCalls = 0;
    const flakyChild = agent('@t/double', () => {
      if (++childCalls === 1) throw new Error('child broke');
      return 2;
    });
    const ids: string[] = [];
    const parentAgent = agent('@t/parent', async (_input, ctx) => {
      const r = await ctx.runWorkflow(child, { inputs: { n: 1 } });
      ids.push(r.executionId);
      if (r.status !== 'completed')
        throw Object.assign(new Error('child failed'), { code: 'RETRYABLE', retryable: true });
      return r.outputs;
    });
    const wf = compile({
      steps: [
        { id: 'p', agent: '@t/parent', input: {}, policies: { retry: { maxAttempts: 2, baseDelayMs: 0 } } },
      ],
    });
    const { engine, clock } = testEngine([flakyChild, parentAgent]);
    const handle = await engine.start(wf);
    await clock.runAll();
    const r = await handle.result;
    expect(r.status).toBe('completed');
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
    expect(r.steps.p!.output).toEqual({ doubled: 2 });
  });

  it('fails the step with VALIDATION when the child document is invalid', async () => {
    const parentAgent = agent('@t/parent', (_input, ctx) => ctx.runWorkflow({ version: '1.0.0', steps: [] }));
    const wf = compile({ steps: [{ id: 'p', agent: '@t/parent', input: {} }] });
    const { engine } = testEngine([parentAgent]);
    const r = await engine.execute(wf);
    expect(r.steps.p!.error!.code).toBe('VALIDATION');
  });
});
