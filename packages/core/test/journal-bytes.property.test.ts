import { createFakeClock } from '@orchestr8/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Journal, jsonBytes, TRUNCATED } from '../src/journal.js';
import { noRedaction } from '../src/redaction.js';

/** Strings of any UTF-16 units: multi-byte characters, control characters, lone surrogates. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyString = fc.string({ unit: anyUnit, maxLength: 300 });
const anyText = fc.oneof(
  anyString,
  fc.string({ unit: fc.constantFrom('字', '😀', '\u0001', '"', '\\', 'a') }),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    anyText,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 8 }),
    fc.dictionary(anyText, tie('v'), { maxKeys: 8 }),
  ),
})).v;

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

describe('journal sizes in bytes', () => {
  it('counts a string as exactly the UTF-8 bytes of its JSON, escapes included', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        expect(jsonBytes(s, Number.POSITIVE_INFINITY)).toBe(bytes(s));
      }),
    );
  });

  it('never counts a value as smaller than its JSON', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(jsonBytes(v, Number.POSITIVE_INFINITY)).toBeGreaterThanOrEqual(bytes(v));
      }),
    );
  });

  it('counts the longest numbers JSON writes (negative, 17 digits after 0.00000) in full', () => {
    // Found by the property above: 25 bytes, one more than -1.7976931348623157e+308.
    for (const n of [-0.0000010025864491976151, -1.7976931348623157e308, -5e-324, -0.000009999999999999999])
      expect(jsonBytes(n, Number.POSITIVE_INFINITY)).toBeGreaterThanOrEqual(bytes(n));
  });

  it('stores every field within maxFieldBytes, a cut one as a prefix of its JSON, and counts no entry as smaller than it is stored', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 80, max: 600 }), (v, max) => {
        const journal = new Journal(
          createFakeClock(),
          { maxFieldBytes: max, maxExecutionBytes: 1 << 30 },
          noRedaction,
        );
        const e = journal.entry('step.completed', 'step-1', 1, { output: v, durationMs: 1.25 });
        const stored = e.data as { output: unknown };
        expect(bytes(stored.output)).toBeLessThanOrEqual(max);
        const cut = stored.output as { [TRUNCATED]?: true; preview: string; originalBytes: number };
        if (!Object.is(stored.output, v)) {
          expect(cut[TRUNCATED]).toBe(true);
          expect(cut.originalBytes).toBe(bytes(v));
          expect(JSON.stringify(v).startsWith(cut.preview)).toBe(true);
        }
        const { executionId: _e, workflowId: _w, ...row } = e;
        expect(journal.bytes).toBeGreaterThanOrEqual(bytes(row));
      }),
      { numRuns: 300 },
    );
  });
});
