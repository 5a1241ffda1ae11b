import { describe, expect, it } from 'vitest';
import { cachedLayout, layoutGraph, SIMPLIFY_ABOVE, stepsOfDocument } from '../app/lib/graph.js';

const doc = {
  steps: [
    { id: 'fetch', agent: 'http' },
    {
      id: 'each',
      agent: { id: 'transform' },
      dependencies: ['fetch'],
      forEach: { items: '${steps.fetch.output}' },
    },
    { id: 'risky', agent: 'http', dependencies: ['fetch'], onError: 'fallback', fallbackStepId: 'safe' },
    { id: 'safe', agent: 'transform', dependencies: ['fetch'] },
    { id: 'join', agent: 'transform', dependencies: ['each', 'risky', 'each'] },
  ],
};

describe('the graph of a workflow', () => {
  it('reads steps, dependencies, forEach and fallbacks from the document', () => {
    const steps = stepsOfDocument(doc);
    expect(steps.map((s) => s.id)).toEqual(['fetch', 'each', 'risky', 'safe', 'join']);
    expect(steps.find((s) => s.id === 'join')?.dependencies).toEqual(['each', 'risky']);
    expect(steps.find((s) => s.id === 'each')).toMatchObject({ forEach: true, agent: 'transform' });
    expect(steps.find((s) => s.id === 'risky')?.fallbackStepId).toBe('safe');
    expect(steps.find((s) => s.id === 'safe')?.fallbackOnly).toBe(true);
  });

  it('tolerates documents that are not what it expects', () => {
    expect(stepsOfDocument(undefined)).toEqual([]);
    expect(stepsOfDocument({ steps: 'nope' })).toEqual([]);
    expect(
      stepsOfDocument({ steps: [null, 3, { id: 7 }, { id: 'ok', dependencies: [1, 'gone'] }] }),
    ).toMatchObject([{ id: 'ok', dependencies: ['gone'] }]);
  });

  it('lays dependencies out in layers, each below what it depends on, with a dashed fallback edge', () => {
    const g = layoutGraph(stepsOfDocument(doc));
    const y = Object.fromEntries(g.nodes.map((n) => [n.id, n.y]));
    expect(y.each).toBeGreaterThan(y.fetch!);
    expect(y.join).toBeGreaterThan(y.each!);
    expect(y.join).toBeGreaterThan(y.risky!);
    expect(g.edges.filter((e) => e.kind === 'fallback')).toEqual([
      { id: 'risky=>safe', source: 'risky', target: 'safe', kind: 'fallback' },
    ]);
    expect(g.edges.filter((e) => e.kind === 'dependency')).toHaveLength(5);
    expect(g.simplified).toBe(false);
    // No two nodes overlap.
    for (const a of g.nodes)
      for (const b of g.nodes)
        if (a !== b)
          expect(
            a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y,
          ).toBe(true);
  });

  it('simplifies graphs above the threshold and lays out 1,000 steps', () => {
    const steps = Array.from({ length: 1000 }, (_, i) => ({
      id: `s${i}`,
      agent: 'transform',
      dependencies: i === 0 ? [] : [`s${Math.floor((i - 1) / 3)}`],
    }));
    const g = layoutGraph(stepsOfDocument({ steps }));
    expect(SIMPLIFY_ABOVE).toBeLessThan(1000);
    expect(g.simplified).toBe(true);
    expect(g.nodes).toHaveLength(1000);
    expect(g.nodes.every((n) => Number.isFinite(n.x) && Number.isFinite(n.y))).toBe(true);
  });

  it('computes a layout once per definition hash', () => {
    expect(cachedLayout('h1', doc)).toBe(cachedLayout('h1', doc));
    expect(cachedLayout('h2', doc)).not.toBe(cachedLayout('h1', doc));
  });
});
