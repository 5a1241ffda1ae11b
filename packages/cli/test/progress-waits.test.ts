import type { EngineEvent } from '@orchestr8/core';
import { validateWorkflowObject } from '@orchestr8/schema';
import { describe, expect, it } from 'vitest';
import { ProgressView } from '../src/progress.js';

const workflow = validateWorkflowObject({
  version: '1.0.0',
  metadata: { id: 'p' },
  steps: [
    { id: 'paid', wait: { event: { name: 'payment.received' } } },
    { id: 'ok', wait: { approval: { title: 'Refund?' } } },
  ],
}).workflow!;

const event = (seq: number, stepId: string, data: Record<string, unknown>): EngineEvent => ({
  seq,
  ts: 1000 + seq,
  elapsedMs: seq,
  type: 'step.waiting',
  stepId,
  attempt: 1,
  data,
  executionId: 'x',
  workflowId: 'p',
});

describe('the live view of a waiting step', () => {
  it('shows the step as waiting, and what for', () => {
    const writes: string[] = [];
    const out = { isTTY: false, write: (c: string) => writes.push(c) } as unknown as NodeJS.WriteStream;
    const view = new ProgressView(workflow, out);
    view.start();
    view.onEvent(
      event(1, 'paid', { kind: 'event', events: ['payment.received'], dueAt: '2030-01-01T00:00:00.000Z' }),
    );
    view.onEvent(event(2, 'ok', { kind: 'approval', title: 'Refund?' }));
    view.stop();
    const text = writes.join('');
    expect(text).toMatch(
      /⏸ paid\s+waiting.*waiting for event payment.received \(until 2030-01-01T00:00:00.000Z\)/,
    );
    expect(text).toMatch(/⏸ ok\s+waiting.*waiting for approval: Refund\?/);
  });
});
