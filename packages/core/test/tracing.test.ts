import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { RetryableError, TerminalError } from '@orchestr8/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agent, compile, testEngine } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('orchestr8-test');
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
});
afterAll(() => {
  context.disable();
});

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe('tracing', () => {
  it('records one span per execution, a child per step and per attempt, with retries, fallbacks and timeouts as events', async () => {
    exporter.reset();
    let calls = 0;
    let activeInAgent: string | undefined;
    const flaky = agent('@t/flaky', () => {
      activeInAgent = trace.getActiveSpan()?.spanContext().spanId;
      if (++calls === 1) throw new RetryableError('first attempt fails');
      return { ok: true };
    });
    const boom = agent('@t/boom', () => {
      throw new TerminalError('broken');
    });
    const echo = agent('@t/echo', (input) => input);
    const hang = agent(
      '@t/hang',
      (_i, ctx) =>
        new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason))),
    );
    const wf = compile({
      metadata: { id: 'traced', name: 'traced' },
      steps: [
        {
          id: 'retry',
          agent: '@t/flaky',
          input: {},
          policies: { retry: { maxAttempts: 2, baseDelayMs: 10 } },
        },
        { id: 'primary', agent: '@t/boom', input: {}, onError: 'fallback', fallbackStepId: 'backup' },
        { id: 'backup', agent: '@t/echo', input: {} },
        {
          id: 'slow',
          agent: '@t/hang',
          input: {},
          onError: 'continue',
          policies: { timeout: 100, retry: { maxAttempts: 1 } },
        },
      ],
    });
    const { engine, clock } = testEngine([flaky, boom, echo, hang], { tracer });
    const handle = await engine.start(wf);
    await clock.runAll();
    const result = await handle.result;
    expect(result.status).toBe('completed');

    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'workflow traced')!;
    expect(root).toBeDefined();
    expect(root.attributes['orchestr8.execution.id']).toBe(result.executionId);
    expect(root.attributes['orchestr8.outcome']).toBe('completed');
    const stepSpan = (id: string) => spans.find((s) => s.name === `step ${id}`)!;
    for (const id of ['retry', 'primary', 'slow'])
      expect(parentOf(stepSpan(id))).toBe(root.spanContext().spanId);

    const attempts = spans.filter((s) => s.name.startsWith('attempt retry #'));
    expect(attempts.map((s) => s.attributes['orchestr8.attempt']).sort()).toEqual([1, 2]);
    for (const a of attempts) expect(parentOf(a)).toBe(stepSpan('retry').spanContext().spanId);
    expect(stepSpan('retry').events.map((e) => e.name)).toContain('step.retrying');
    // the agent ran with its attempt span active, so its own calls join the trace
    expect(activeInAgent).toBe(
      attempts.find((a) => a.attributes['orchestr8.attempt'] === 2)!.spanContext().spanId,
    );

    expect(stepSpan('primary').events.map((e) => e.name)).toContain('step.fallback');
    expect(stepSpan('slow').events.map((e) => e.name)).toContain('timeout.exceeded');
    expect(stepSpan('slow').attributes['error.type']).toBe('TIMEOUT');
  });

  it('continues the trace context it is given (e.g. an incoming traceparent)', async () => {
    exporter.reset();
    const echo = agent('@t/echo', (input) => input);
    const wf = compile({
      metadata: { id: 'child-of', name: 'x' },
      steps: [{ id: 'a', agent: '@t/echo', input: {} }],
    });
    const { engine } = testEngine([echo], { tracer });
    const parent = tracer.startSpan('incoming request');
    await engine.execute(wf, { traceContext: trace.setSpan(context.active(), parent) });
    parent.end();
    const root = exporter.getFinishedSpans().find((s) => s.name === 'workflow child-of')!;
    expect(root.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(parentOf(root)).toBe(parent.spanContext().spanId);
  });
});
