import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createFakeClock } from '@orchestr8/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/index.js';
import { compile, settle, testEngine } from './helpers.js';

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

describe('tracing waits', () => {
  it('ends the execution span as waiting, and the resumed run records the wait as a span from its start', async () => {
    exporter.reset();
    const clock = createFakeClock();
    const { engine } = testEngine([], { tracer, clock, store: createMemoryStore({ clock }) });
    const h = await engine.start(
      compile({ metadata: { id: 'nap' }, steps: [{ id: 'nap', wait: { timer: '1m' } }] }),
    );
    await settle();
    const began = clock.now();
    await clock.advance(60_000);
    expect((await h.result).status).toBe('completed');
    const spans = exporter.getFinishedSpans();
    const runs = spans.filter((s) => s.name === 'workflow nap');
    expect(runs.map((s) => [s.attributes['orchestr8.resumed'], s.attributes['orchestr8.outcome']])).toEqual([
      [false, 'waiting'],
      [true, 'completed'],
    ]);
    const wait = spans.find((s) => s.name === 'wait nap')!;
    expect(wait.attributes).toMatchObject({ 'orchestr8.wait.kind': 'timer', 'orchestr8.outcome': 'fired' });
    expect(wait.parentSpanContext?.spanId).toBe(runs[1]!.spanContext().spanId);
    // It spans the whole wait: from the step's start to the wake a minute later.
    const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
    expect(ms(wait.endTime) - ms(wait.startTime)).toBeGreaterThanOrEqual(60_000 - 1);
    expect(Math.abs(ms(wait.startTime) - began)).toBeLessThan(1000);
    await engine.close();
  });
});
