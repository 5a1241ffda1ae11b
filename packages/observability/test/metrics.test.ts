import { RetryableError } from '@orchestr8/common';
import { createEngine, type Engine } from '@orchestr8/core';
import { createServer, type Listener } from '@orchestr8/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../src/index.js';
import { agent, compile, deferred, registryOf, sample } from './helpers.js';

let flakyCalls = 0;
const gate = deferred();
const registry = registryOf(
  agent('@t/echo', (input) => input),
  agent('@t/flaky', () => {
    if (++flakyCalls === 1) throw new RetryableError('first attempt fails');
    return { ok: true };
  }),
  agent('@t/boom', () => {
    throw new RetryableError('503 from upstream', { code: 'HTTP_5XX' });
  }),
  agent('@t/gate', () => gate.promise.then(() => ({ opened: true }))),
);

/** Four steps: one completes, one completes after a retry, one fails (opening its circuit), one is skipped. */
const metered = compile({
  metadata: { id: 'metered', name: 'metered' },
  steps: [
    { id: 'ok', agent: '@t/echo', input: { v: 1 } },
    { id: 'flaky', agent: '@t/flaky', input: {}, policies: { retry: { maxAttempts: 2, baseDelayMs: 1 } } },
    {
      id: 'broken',
      agent: '@t/boom',
      input: {},
      onError: 'continue',
      policies: {
        retry: { maxAttempts: 1 },
        circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 60_000 },
      },
    },
    { id: 'never', agent: '@t/echo', input: {}, condition: { if: 'false' } },
  ],
});
const gated = compile({
  metadata: { id: 'gated', name: 'gated' },
  steps: [{ id: 'wait', agent: '@t/gate', input: {} }],
});

let metrics: Metrics;
let engine: Engine;
let listener: Listener;
const scrape = async () => {
  const res = await fetch(`${listener.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

beforeAll(async () => {
  metrics = createMetrics();
  engine = createEngine({ registry, observers: [metrics.observer] });
  metrics.collect(engine);
  listener = await createServer({ engine, registry, metrics }).listen(0);
});
afterAll(async () => {
  await Promise.all([listener.close({ graceMs: 100 }), engine.shutdown({ graceMs: 100 })]);
});

describe('GET /metrics', () => {
  it('counts executions, steps, retries, circuits and store writes of known workflows', async () => {
    // The first run retries `flaky` once and opens the circuit of `broken`; the second finds it open.
    for (let i = 0; i < 2; i++) expect((await engine.execute(metered)).status).toBe('completed');
    const text = await scrape();

    expect(sample(text, 'orchestr8_executions_started_total', { workflow: 'metered' })).toBe(2);
    expect(sample(text, 'orchestr8_executions_total', { workflow: 'metered', status: 'completed' })).toBe(2);
    expect(
      sample(text, 'orchestr8_execution_duration_seconds_count', {
        workflow: 'metered',
        status: 'completed',
      }),
    ).toBe(2);
    const steps = (agent: string, status: string) => sample(text, 'orchestr8_steps_total', { agent, status });
    expect(steps('@t/echo', 'completed')).toBe(2);
    expect(steps('@t/flaky', 'completed')).toBe(2);
    expect(steps('@t/boom', 'failed')).toBe(2);
    expect(steps('none', 'skipped')).toBe(2);
    expect(
      sample(text, 'orchestr8_step_duration_seconds_count', { agent: '@t/flaky', status: 'completed' }),
    ).toBe(2);
    expect(
      sample(text, 'orchestr8_step_duration_seconds_bucket', {
        agent: '@t/boom',
        status: 'failed',
        le: '+Inf',
      }),
    ).toBe(2);
    expect(sample(text, 'orchestr8_step_retries_total', { agent: '@t/flaky' })).toBe(1);
    expect(sample(text, 'orchestr8_circuit_transitions_total', { key: '@t/boom', to: 'open' })).toBe(1);
    expect(sample(text, 'orchestr8_circuit_rejections_total', { key: '@t/boom' })).toBe(1);
    expect(sample(text, 'orchestr8_circuit_state', { key: '@t/boom', state: 'open' })).toBe(1);
    expect(sample(text, 'orchestr8_circuit_state', { key: '@t/boom', state: 'closed' })).toBe(0);
    expect(sample(text, 'orchestr8_store_write_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'orchestr8_store_writes_total')).toBeGreaterThan(0);
    expect(sample(text, 'orchestr8_executions_in_flight')).toBe(0);
    expect(sample(text, 'orchestr8_steps_in_flight')).toBe(0);
    expect(sample(text, 'orchestr8_events_dropped_total')).toBe(0);
  });

  it('reads in-flight executions and steps, and event-bus drops, at scrape time', async () => {
    // A subscriber that falls behind: a queue of one, and a handler stuck until the test ends,
    // so the events behind it are dropped (a pending handler is the only case that drops).
    let unstick!: () => void;
    const stuck = new Promise<void>((r) => {
      unstick = r;
    });
    const slow = engine.events.subscribe(() => stuck, { capacity: 1 });
    const handle = await engine.start(gated);
    await new Promise((r) => setTimeout(r, 20));
    let text = await scrape();
    expect(sample(text, 'orchestr8_executions_in_flight')).toBe(1);
    expect(sample(text, 'orchestr8_steps_in_flight')).toBe(1);
    gate.resolve();
    expect((await handle.result).status).toBe('completed');
    text = await scrape();
    expect(sample(text, 'orchestr8_executions_in_flight')).toBe(0);
    expect(engine.stats().eventsDropped).toBeGreaterThan(0);
    expect(sample(text, 'orchestr8_events_dropped_total')).toBe(engine.stats().eventsDropped);
    unstick();
    slow.unsubscribe();
  });

  it('uses a private registry, not prom-client global one', async () => {
    const { register } = await import('prom-client');
    expect(await register.getSingleMetricAsString('orchestr8_steps_total').catch(() => '')).toBe('');
    expect(metrics.registry).not.toBe(register);
  });

  it('is 404 on a server without metrics', async () => {
    const other = createEngine({ registry });
    const l = await createServer({ engine: other, registry }).listen(0);
    try {
      const res = await fetch(`${l.url}/metrics`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe('NOT_FOUND');
    } finally {
      await Promise.all([l.close({ graceMs: 100 }), other.shutdown({ graceMs: 100 })]);
    }
  });
});
