import { describe, expect, it } from 'vitest';
import { checkContextWrite, mergeWrites } from '../src/index.js';

const policies = { score: 'counter', seen: 'union' } as const;

describe('merging crews’ context writes at the end of a slice', () => {
  it('last writer wins per key: the newer event wins, whatever the order the crews finished in', () => {
    const a = { crew: 'a', crewIndex: 0, ts: 200, values: { phase: 'second-half' } };
    const b = { crew: 'b', crewIndex: 1, ts: 150, values: { phase: 'first-half', other: 1 } };
    expect(mergeWrites({ phase: 'kickoff' }, [a, b], policies)).toEqual({ phase: 'second-half', other: 1 });
    expect(mergeWrites({ phase: 'kickoff' }, [b, a], policies)).toEqual({ phase: 'second-half', other: 1 });
  });

  it('a tie goes to the crew later in the document', () => {
    const a = { crew: 'a', crewIndex: 0, ts: 100, values: { x: 'from a' } };
    const b = { crew: 'b', crewIndex: 1, ts: 100, values: { x: 'from b' } };
    expect(mergeWrites({}, [b, a], policies)).toEqual({ x: 'from b' });
    expect(mergeWrites({}, [a, b], policies)).toEqual({ x: 'from b' });
  });

  it('null deletes a last-writer-wins key', () => {
    expect(
      mergeWrites({ x: 1, y: 2 }, [{ crew: 'a', crewIndex: 0, ts: 1, values: { x: null } }], {}),
    ).toEqual({ y: 2 });
  });

  it('counter writes add up, from every crew', () => {
    const writes = [
      { crew: 'a', crewIndex: 0, ts: 1, values: { score: 2 } },
      { crew: 'b', crewIndex: 1, ts: 9, values: { score: 3 } },
    ];
    expect(mergeWrites({ score: 10 }, writes, policies)).toEqual({ score: 15 });
    expect(mergeWrites({}, writes, policies)).toEqual({ score: 5 });
  });

  it('union writes add the items not yet present, in crew order, comparing values not references', () => {
    const writes = [
      { crew: 'b', crewIndex: 1, ts: 1, values: { seen: [{ p: 'ada' }, 'bob'] } },
      { crew: 'a', crewIndex: 0, ts: 5, values: { seen: ['cy', 'bob'] } },
    ];
    expect(mergeWrites({ seen: ['bob'] }, writes, policies)).toEqual({ seen: ['bob', 'cy', { p: 'ada' }] });
  });

  it('does not change the context it is given', () => {
    const before = { score: 1 };
    mergeWrites(before, [{ crew: 'a', crewIndex: 0, ts: 1, values: { score: 1 } }], policies);
    expect(before).toEqual({ score: 1 });
  });

  it("refuses writes that do not suit a key's policy, naming the key", () => {
    expect(checkContextWrite({ score: 'two' }, policies)).toBe(
      'context key "score" is a counter: write a number to add',
    );
    expect(checkContextWrite({ seen: 'x' }, policies)).toBe(
      'context key "seen" is a union: write an array of items to add',
    );
    expect(checkContextWrite({ __proto__x: 1, 'a b': 2 }, policies)).toBe(
      'context key "a b" must be letters, digits, "_" and "-"',
    );
    expect(checkContextWrite([1], policies)).toBe('context must be an object of key: value');
    expect(checkContextWrite({ score: 1, seen: [], free: { any: 'thing' } }, policies)).toBeUndefined();
  });
});
