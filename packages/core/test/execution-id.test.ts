import { describe, expect, it } from 'vitest';
import { newExecutionId } from '../src/execution-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('execution ids', () => {
  it('are version 7 UUIDs carrying the creation time in milliseconds', () => {
    const at = Date.UTC(2026, 11, 3, 7, 30);
    const id = newExecutionId(at);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
  });

  it('sort in the order they were made, within one millisecond too, and never repeat', () => {
    const at = Date.UTC(2027, 0, 1);
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) ids.push(newExecutionId(at + Math.floor(i / 5000)));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });

  it('keep sorting after the clock steps back', () => {
    const a = newExecutionId(Date.UTC(2028, 0, 1));
    const b = newExecutionId(Date.UTC(2027, 6, 1));
    expect(b > a).toBe(true);
  });

  it('carry 62 random bits: every digit turns up at every random place, every variant too', () => {
    const at = Date.UTC(2029, 0, 1);
    const seen = new Map<number, Set<string>>();
    for (let i = 0; i < 4000; i++) {
      const id = newExecutionId(at + i);
      for (let p = 19; p < 36; p++) {
        if (p === 23) continue;
        const s = seen.get(p) ?? new Set<string>();
        seen.set(p, s);
        s.add(id[p]!);
      }
    }
    expect([...seen.get(19)!].sort()).toEqual(['8', '9', 'a', 'b']);
    for (let p = 20; p < 36; p++) if (p !== 23) expect(seen.get(p)!.size).toBe(16);
  });
});
