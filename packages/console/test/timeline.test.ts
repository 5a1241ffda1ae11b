import { describe, expect, it } from 'vitest';
import { applyEntries, emptyState } from '../app/lib/execution-state.js';
import { buildTimeline, formatMs } from '../app/lib/timeline.js';

describe('the timeline of attempts and back-offs', () => {
  it('draws each attempt and the back-off between them, from the first start', () => {
    const s = applyEntries(emptyState(), [
      { seq: 1, ts: 1000, type: 'step.started', stepId: 'a', attempt: 1 },
      { seq: 2, ts: 1100, type: 'step.retrying', stepId: 'a', attempt: 1, data: { delayMs: 200 } },
      { seq: 3, ts: 1300, type: 'step.attempt', stepId: 'a', attempt: 2 },
      { seq: 4, ts: 1350, type: 'step.completed', stepId: 'a', attempt: 2 },
      { seq: 5, ts: 1350, type: 'step.started', stepId: 'b', attempt: 1 },
    ]);
    const t = buildTimeline(Object.values(s.steps), 1500);
    expect(t.origin).toBe(1000);
    expect(t.span).toBe(500);
    expect(t.rows.map((r) => r.stepId)).toEqual(['a', 'b']);
    expect(t.rows[0]!.bars.map((b) => [b.kind, b.attempt, b.start, b.end, b.outcome])).toEqual([
      ['attempt', 1, 0, 100, 'failed'],
      ['backoff', 1, 100, 300, 'backoff'],
      ['attempt', 2, 300, 350, 'completed'],
    ]);
    // Still running: drawn up to now.
    expect(t.rows[1]!.bars[0]).toMatchObject({ start: 350, end: 500, open: true });
  });

  it('is empty before any step started', () => {
    expect(buildTimeline([], 5).rows).toEqual([]);
  });

  it('formats durations for people', () => {
    expect(formatMs(12)).toBe('12 ms');
    expect(formatMs(1500)).toBe('1.50 s');
    expect(formatMs(75_000)).toBe('1 min 15 s');
  });
});
