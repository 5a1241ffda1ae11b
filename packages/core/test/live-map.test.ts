import { describe, expect, it } from 'vitest';
import { LiveMap } from '../src/live-map.js';

// The engine keeps its running executions in a LiveMap: it must answer exactly as a Map does.
describe('LiveMap', () => {
  it('answers get, has, size and iteration as a Map does, in insertion order', () => {
    const m = new LiveMap<string, { n: number }>();
    const ref = new Map<string, { n: number }>();
    const ops: [string, string, number][] = [];
    // A fixed pseudo-random sequence of sets (new and existing keys) and deletes.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let i = 0; i < 2000; i++) ops.push([next() % 3 === 0 ? 'delete' : 'set', `k${next() % 40}`, i]);
    for (const [op, k, i] of ops) {
      if (op === 'set') {
        const v = { n: i };
        expect(m.set(k, v)).toBe(m);
        ref.set(k, v);
      } else expect(m.delete(k)).toBe(ref.delete(k));
      expect(m.size).toBe(ref.size);
      expect(m.get(k)).toBe(ref.get(k));
      expect(m.has(k)).toBe(ref.has(k));
    }
    expect([...m]).toEqual([...ref]);
    expect([...m.keys()]).toEqual([...ref.keys()]);
    expect([...m.values()]).toEqual([...ref.values()]);
    const seen: [string, number][] = [];
    m.forEach((v, k) => {
      seen.push([k, v.n]);
    });
    expect(seen).toEqual([...ref].map(([k, v]) => [k, v.n]));
  });

  it('keeps a value that is deleted and set again under the same key', () => {
    const m = new LiveMap<string, number>();
    m.set('a', 1);
    m.delete('a');
    expect(m.get('a')).toBeUndefined();
    expect(m.has('a')).toBe(false);
    m.set('a', 2);
    expect(m.get('a')).toBe(2);
    expect(m.delete('missing')).toBe(false);
  });
});
