import { describe, expect, it } from 'vitest';
import { agent, compile, deferred, settle, testEngine } from './helpers.js';

const echo = agent('@t/echo', (input) => input);

describe('scheduling', () => {
  it('starts a step as soon as its own dependencies complete, not level by level', async () => {
    const slow = deferred();
    const started: string[] = [];
    const a = agent('@t/rec', async (input: { id: string; slow?: boolean }) => {
      started.push(input.id);
      if (input.slow) await slow.promise;
      return { id: input.id };
    });
    const wf = compile({
      steps: [
        { id: 'a', agent: '@t/rec', input: { id: 'a', slow: true } },
        { id: 'b', agent: '@t/rec', input: { id: 'b' } },
        { id: 'c', agent: '@t/rec', input: { id: 'c' }, dependencies: ['b'] },
        { id: 'd', agent: '@t/rec', input: { id: 'd' }, dependencies: ['a', 'c'] },
      ],
    });
    const { engine } = testEngine([a]);
    const handle = await engine.start(wf);
    await settle();
    // c (level 2) ran while a (level 1) is still running
    expect(started).toEqual(['a', 'b', 'c']);
    slow.resolve(undefined);
    const result = await handle.result;
    expect(result.status).toBe('completed');
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('passes an upstream output into a downstream input with its type', async () => {
    const wf = compile({
      steps: [
        { id: 'a', agent: '@t/echo', input: { list: [1, 2], n: 3 } },
        {
          id: 'b',
          agent: '@t/echo',
          dependencies: ['a'],
          input: { list: '${steps.a.output.list}', s: 'n=${steps.a.output.n}' },
        },
      ],
    });
    const { engine } = testEngine([echo]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    expect(r.steps.b!.output).toEqual({ list: [1, 2], s: 'n=3' });
  });

  it('never runs more than maxConcurrentSteps at once, and starts ready steps in FIFO order', async () => {
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const gates = new Map<number, () => void>();
    const a = agent('@t/gate', (input: { i: number }) => {
      order.push(input.i);
      running++;
      peak = Math.max(peak, running);
      return new Promise((resolve) => {
        gates.set(input.i, () => {
          running--;
          resolve(input.i);
        });
      });
    });
    const steps = Array.from({ length: 8 }, (_, i) => ({ id: `s${i}`, agent: '@t/gate', input: { i } }));
    const wf = compile({ steps, policies: { concurrency: { maxConcurrentSteps: 3 } } });
    const { engine } = testEngine([a]);
    const handle = await engine.start(wf);
    for (let k = 0; k < 8; k++) {
      await settle();
      expect(running).toBeLessThanOrEqual(3);
      const open = [...gates.keys()][0]!;
      gates.get(open)!();
      gates.delete(open);
    }
    const r = await handle.result;
    expect(r.status).toBe('completed');
    expect(peak).toBe(3);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('runs forEach once per item, keeps outputs in input order, and respects its concurrency', async () => {
    let running = 0;
    let peak = 0;
    const a = agent('@t/item', async (input: { n: number; delay: number }) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, input.delay));
      running--;
      return input.n * 10;
    });
    const wf = compile({
      inputs: { type: 'object', properties: { xs: { type: 'array' } } },
      steps: [
        {
          id: 'each',
          agent: '@t/item',
          forEach: { items: '${inputs.xs}', concurrency: 2 },
          input: { n: '${item}', delay: '${index}' },
        },
      ],
    });
    const { engine } = testEngine([a]);
    const r = await engine.execute(wf, { inputs: { xs: [5, 4, 3, 2, 1] } });
    expect(r.status).toBe('completed');
    expect(r.steps.each!.output).toEqual([50, 40, 30, 20, 10]);
    expect(peak).toBe(2);
  });

  it('runs the vertical-slice document unchanged: step2 receives step1 output', async () => {
    const hello = agent('@orchestr8/hello-world', (input: { message: string }) => ({
      result: `Hello, ${input.message}`,
    }));
    const wf = compile({
      version: '1.0.0',
      metadata: { id: 'vs-test-workflow', name: 'Vertical Slice Test' },
      steps: [
        {
          id: 'step1',
          name: 'Hello Step',
          agent: { id: '@orchestr8/hello-world' },
          input: { message: 'Hello from step 1' },
        },
        {
          id: 'step2',
          name: 'Echo Step',
          agent: { id: '@orchestr8/hello-world' },
          dependencies: ['step1'],
          input: { message: '${steps.step1.output.result}' },
        },
      ],
      policies: { resilience: { retry: { maxAttempts: 2 }, circuitBreaker: { failureThreshold: 3 } } },
    });
    const { engine } = testEngine([hello]);
    const r = await engine.execute(wf);
    expect(r.status).toBe('completed');
    expect(r.steps.step2!.output).toEqual({ result: 'Hello, Hello, Hello from step 1' });
  });
});
