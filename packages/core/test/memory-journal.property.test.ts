import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JournalColumns } from '../src/memory-journal.js';
import type { JournalEntry } from '../src/types.js';

const entryArb: fc.Arbitrary<JournalEntry> = fc.record(
  {
    seq: fc.integer({ min: 1, max: 40 }),
    ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true })),
    elapsedMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
    type: fc.constantFrom('step.started', 'step.completed', 'execution.started'),
    stepId: fc.constantFrom('a', 'b', 'z'),
    attempt: fc.integer({ min: 0, max: 5 }),
    data: fc.oneof(fc.constant(null), fc.jsonValue(), fc.constant({ output: { v: 1 } })),
  },
  { requiredKeys: ['seq', 'ts', 'elapsedMs', 'type'], noNullPrototype: true },
);

type Op = { put: JournalEntry[] } | { drop: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ put: fc.array(entryArb, { maxLength: 8 }) }, { noNullPrototype: true }),
  },
  { weight: 1, arbitrary: fc.record({ drop: fc.integer({ min: 0, max: 41 }) }, { noNullPrototype: true }) },
);

/** The behaviour the columns replace: entries sorted by seq, upsert by seq, trim below a seq. */
function model(ops: readonly Op[]): JournalEntry[] {
  let journal: JournalEntry[] = [];
  for (const op of ops) {
    if ('put' in op) {
      for (const e of op.put) {
        journal = journal.filter((j) => j.seq !== e.seq);
        journal.push(e);
        journal.sort((a, b) => a.seq - b.seq);
      }
    } else journal = journal.filter((j) => j.seq >= op.drop);
  }
  return journal;
}

describe('memory store journal columns', () => {
  it('read back equal to a sorted array of entries under any order of upserts and trims', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 12 }), (ops) => {
        const columns = new JournalColumns();
        for (const op of ops) {
          if ('put' in op) for (const e of op.put) columns.put(e);
          else columns.dropFirst(columns.firstIndexAfter(op.drop - 1));
        }
        const read = Array.from({ length: columns.length }, (_, i) => columns.entryAt(i));
        const expected = model(ops);
        // Same fields exactly: an absent stepId, attempt or data stays absent (not undefined).
        expect(read).toStrictEqual(expected);
        for (let s = 0; s <= 41; s++) {
          expect(columns.firstIndexAfter(s)).toBe(expected.filter((e) => e.seq <= s).length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
