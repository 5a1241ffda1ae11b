import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedactor } from '../src/index.js';

const SECRET = 'sk-0123456789';
const SHORT = 'k9!';

/** Text that may hold the secrets anywhere: whole, inside, repeated, overlapping itself. */
const text = fc
  .array(
    fc.oneof(fc.string({ maxLength: 6 }), fc.constant(SECRET), fc.constant(SHORT), fc.constant('sk-01')),
    {
      maxLength: 5,
    },
  )
  .map((parts) => parts.join(''));

const tree = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    text,
    fc.integer(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(text, tie('v'), { maxKeys: 5 }),
    // Deep chains, past the levels the redactor walks one by one.
    fc.tuple(fc.integer({ min: 60, max: 130 }), tie('v')).map(([levels, leaf]) => {
      let v = leaf;
      for (let i = 0; i < levels; i++) v = { [i % 7 === 0 ? SECRET : 'n']: v };
      return v;
    }),
  ),
})).v;

describe('redaction of arbitrary data', () => {
  it('leaves no secret in the JSON of what it returns, wherever the data held it', () => {
    const r = createRedactor([SECRET, SHORT]);
    fc.assert(
      fc.property(tree, (v) => {
        const out = r.redact(v);
        expect(JSON.stringify(out)).not.toContain(SECRET);
        // A short secret is never left standing as a whole string, value or key.
        expect(stringsOf(out)).not.toContain(SHORT);
      }),
      { numRuns: 500 },
    );
  });

  it('never changes the value it is given', () => {
    const r = createRedactor([SECRET]);
    fc.assert(
      fc.property(tree, (v) => {
        const before = JSON.stringify(v);
        r.redact(v);
        expect(JSON.stringify(v)).toBe(before);
      }),
      { numRuns: 200 },
    );
  });
});

/** Every string in a value, keys included. */
function stringsOf(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) stringsOf(x, out);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      stringsOf(x, out);
    }
  }
  return out;
}
