import { describe, expect, it } from 'vitest';
import { buildGraph } from '../src/graph.js';

/** A seeded generator (mulberry32), so a failing graph can be rebuilt from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every step's dependencies drawn from the steps before it (so the graph is acyclic), shuffled. */
function randomDag(seed: number, n: number, density: number): number[][] {
  const next = random(seed);
  const deps: number[][] = Array.from({ length: n }, () => []);
  const perm = Array.from({ length: n }, (_, i) => i).sort(() => next() - 0.5);
  for (let i = 1; i < n; i++)
    for (let j = 0; j < i; j++) if (next() < density) deps[perm[i]!]!.push(perm[j]!);
  return deps;
}

/** The answer by brute force: a depth-first search for every pair. */
function upstreamOf(deps: readonly (readonly number[])[]): boolean[][] {
  return deps.map((_, y) => {
    const seen = new Array<boolean>(deps.length).fill(false);
    const stack = [...deps[y]!];
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (seen[v]) continue;
      seen[v] = true;
      stack.push(...deps[v]!);
    }
    return seen;
  });
}

describe('the step graph', () => {
  it('answers "is x upstream of y" like a search of every path, on random graphs', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const n = 5 + (seed % 50);
      const deps = randomDag(seed, n, [0.03, 0.1, 0.3][seed % 3]!);
      const graph = buildGraph(deps);
      const truth = upstreamOf(deps);
      const wrong: string[] = [];
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++)
          if (graph.isUpstream(x, y) !== truth[y]![x]) wrong.push(`seed ${seed}: isUpstream(${x}, ${y})`);
      expect(wrong).toEqual([]);
      expect(graph.order).toHaveLength(n);
      expect(graph.cycles).toEqual([]);
    }
  });

  it('answers for layered graphs, where steps hang under one of several dependencies', () => {
    // Each step of a layer depends on two of the layer before, as joins after fan-outs do.
    const width = 7;
    const deps: number[][] = [];
    for (let l = 0; l < 12; l++)
      for (let k = 0; k < width; k++)
        deps.push(l === 0 ? [] : [(l - 1) * width + k, (l - 1) * width + ((k + 3) % width)]);
    const graph = buildGraph(deps);
    const truth = upstreamOf(deps);
    const wrong: string[] = [];
    for (let y = 0; y < deps.length; y++)
      for (let x = 0; x < deps.length; x++)
        if (graph.isUpstream(x, y) !== truth[y]![x]) wrong.push(`isUpstream(${x}, ${y})`);
    expect(wrong).toEqual([]);
  });

  it('knows nothing upstream of steps in or after a cycle, and names each cycle once', () => {
    // 0 -> 1 -> 2 -> 0 is a cycle; 3..999 hang after it; 1000 and 1001 are fine.
    const deps: number[][] = [[1], [2], [0], [2]];
    for (let i = 4; i < 1000; i++) deps.push([i - 1]);
    deps.push([], [1000]);
    const graph = buildGraph(deps);
    expect(graph.cycles).toEqual([[0, 1, 2]]);
    expect(graph.blocked.size).toBe(1000);
    expect(graph.isUpstream(2, 3)).toBe(false);
    expect(graph.isUpstream(1000, 1001)).toBe(true);
    expect(graph.order).toEqual([1000, 1001]);
  });

  it('takes memory in proportion to the steps, not to their square', () => {
    // A 50,000-step chain: ancestor bitsets would be 50,000² bits (312 MB).
    const n = 50_000;
    const deps = Array.from({ length: n }, (_, i) => (i === 0 ? [] : [i - 1]));
    const before = process.memoryUsage();
    const graph = buildGraph(deps);
    const after = process.memoryUsage();
    expect(graph.isUpstream(0, n - 1)).toBe(true);
    expect(graph.isUpstream(n - 1, 0)).toBe(false);
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(grown).toBeLessThan(n * 1024);
  });
});
