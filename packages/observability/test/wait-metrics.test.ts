import { createFakeClock } from '@orchestr8/common';
import { createEngine, createMemoryStore } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/index.js';
import { agent, compile, registryOf, sample } from './helpers.js';

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('wait metrics', () => {
  it('count parked executions, wakes by kind and outcome, timeouts, and the wake latency', async () => {
    const clock = createFakeClock();
    const metrics = createMetrics();
    const engine = createEngine({
      registry: registryOf(agent('@t/echo', (i) => i)),
      store: createMemoryStore({ clock }),
      clock,
      observers: [metrics.observer],
      eventLookBackMs: 1000, // the late execution must not take the earlier event
    });
    const timer = compile({ metadata: { id: 'nap' }, steps: [{ id: 'w', wait: { timer: '1m' } }] });
    const paid = compile({
      metadata: { id: 'paid' },
      steps: [{ id: 'w', wait: { event: { name: 'paid' }, timeout: '1h' } }],
    });
    const ok = compile({
      metadata: { id: 'ok' },
      steps: [{ id: 'w', wait: { approval: { title: 'Go?' } } }],
    });
    const handles = [
      await engine.start(timer),
      await engine.start(paid),
      await engine.start(paid),
      await engine.start(ok),
      await engine.start(ok),
    ];
    await settle();
    await engine.sendEvent({ name: 'paid', id: 'one' }); // both event waits take it
    await engine.decide(handles[3]!.id, 'w', { decision: 'approve' });
    await engine.decide(handles[4]!.id, 'w', { decision: 'reject' });
    await clock.advance(60_000); // the timer
    await Promise.all(handles.map((h) => h.result));

    const late = await engine.start(paid);
    await settle();
    await clock.advance(3_600_000); // its timeout
    expect((await late.result).status).toBe('failed');

    const text = await metrics.metrics();
    expect(sample(text, 'orchestr8_executions_parked_total', { workflow: 'paid' })).toBe(3);
    expect(sample(text, 'orchestr8_executions_parked_total', { workflow: 'ok' })).toBe(2);
    const woken = (kind: string, outcome: string) =>
      sample(text, 'orchestr8_waits_woken_total', { kind, outcome });
    expect(woken('timer', 'fired')).toBe(1);
    expect(woken('event', 'event')).toBe(2);
    expect(woken('approval', 'approved')).toBe(1);
    expect(woken('approval', 'rejected')).toBe(1);
    expect(woken('event', 'timed_out')).toBe(1);
    expect(sample(text, 'orchestr8_wait_timeouts_total', { kind: 'event' })).toBe(1);
    expect(sample(text, 'orchestr8_wait_wake_latency_seconds_count', { kind: 'event' })).toBe(3);
    // On the fake clock a wake is taken at once: every latency is in the first bucket.
    expect(sample(text, 'orchestr8_wait_wake_latency_seconds_bucket', { kind: 'event', le: '0.001' })).toBe(
      3,
    );
    await engine.close();
  });
});
