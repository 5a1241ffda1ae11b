import { echoAgent } from '@orchestr8/agent-base';
import { describe, expect, it } from 'vitest';
import { transformAgent } from '../src/index.js';
import { caught, compile, contextFor, run, testEngine } from './helpers.js';

describe('@orchestr8/transform', () => {
  it('reshapes the output of an earlier step with a JSONata expression', async () => {
    const wf = compile({
      steps: [
        {
          id: 'fetch',
          agent: '@orchestr8/echo',
          input: {
            orders: [
              { id: 1, customer: 'ada', total: 120 },
              { id: 2, customer: 'bob', total: 15 },
              { id: 3, customer: 'ada', total: 40 },
            ],
          },
        },
        {
          id: 'big',
          agent: '@orchestr8/transform',
          dependencies: ['fetch'],
          input: {
            expression: '{ "ids": orders[total >= $min].id, "revenue": $sum(orders.total) }',
            data: '${steps.fetch.output}',
            bindings: { min: 40 },
          },
        },
      ],
    });
    const { engine, clock } = testEngine([echoAgent, transformAgent]);
    const r = await run(engine, clock, wf);
    expect(r.status).toBe('completed');
    expect(r.steps.big!.output).toEqual({ result: { ids: [1, 3], revenue: 175 } });
  });

  it('returns plain JSON: arrays for sequences, null when nothing matched', async () => {
    const data = { items: [{ n: 'a' }, { n: 'b' }] };
    expect(await transformAgent.execute({ expression: 'items.n', data }, contextFor())).toEqual({
      result: ['a', 'b'],
    });
    expect(await transformAgent.execute({ expression: 'missing.field', data }, contextFor())).toEqual({
      result: null,
    });
    expect(await transformAgent.execute({ expression: 'function($x){$x}', data }, contextFor())).toEqual({
      result: null,
    });
  });

  it('fails with a non-retryable EXPRESSION error on a bad expression, naming the position', async () => {
    const e = await caught(() => transformAgent.execute({ expression: 'items[', data: {} }, contextFor()));
    expect(e).toMatchObject({ code: 'EXPRESSION', retryable: false });
    expect(e.message).toContain('at position');
    expect(e.details).toMatchObject({ expression: 'items[', jsonataCode: 'S0203' });
    const type = await caught(() =>
      transformAgent.execute({ expression: '"a" + 1', data: {} }, contextFor()),
    );
    expect(type).toMatchObject({ code: 'EXPRESSION', retryable: false });
  });

  it('stops an endless evaluation with TIMEOUT', async () => {
    const e = await caught(() =>
      transformAgent.execute(
        { expression: '( $loop := function($n){ $loop($n + 1) }; $loop(0) )', data: {}, timeoutMs: 100 },
        contextFor(),
      ),
    );
    expect(e).toMatchObject({ code: 'TIMEOUT', retryable: false });
  });

  it('stops runaway recursion at maxDepth with EXPRESSION', async () => {
    const e = await caught(() =>
      transformAgent.execute(
        { expression: '( $f := function($n){ 1 + $f($n + 1) }; $f(0) )', data: {}, maxDepth: 50 },
        contextFor(),
      ),
    );
    expect(e).toMatchObject({ code: 'EXPRESSION', retryable: false });
    expect(e.message).toContain('deeper than 50');
  });

  it('does not start when the step is already cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const e = await caught(() =>
      transformAgent.execute({ expression: '1 + 1', data: {} }, contextFor({ signal: controller.signal })),
    );
    expect(e).toMatchObject({ code: 'CANCELLED' });
  });

  it('checks its input through the engine: a missing expression is VALIDATION', async () => {
    const wf = compile({ steps: [{ id: 't', agent: '@orchestr8/transform', input: { data: {} } }] });
    const { engine, clock } = testEngine([transformAgent]);
    const r = await run(engine, clock, wf);
    expect(r.steps.t!.error).toMatchObject({ code: 'VALIDATION' });
  });
});
