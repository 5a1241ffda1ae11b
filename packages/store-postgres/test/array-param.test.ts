/**
 * Array parameters written as JSON-made literals come back from PostgreSQL exactly as
 * given, and what JSON would write differently is left to `pg`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayLiteral, encodeParams } from '../src/array-param.js';
import { openPostgresStore, type PostgresStore } from '../src/index.js';
import { type PgServer, startPostgres } from './pg-server.js';

const TRICKY = [
  'plain',
  '',
  'with "quotes" and \\backslashes\\ and \\"both',
  '{"json":"text","n":[1,2]}',
  'NULL',
  'null',
  ' leading and trailing ',
  'a,b{c}d',
  'accents é and ✓, emoji 🎉',
  '\u2028\u2029\u007f/',
];

describe('arrayLiteral', () => {
  it('writes strings, finite numbers, booleans and nulls as one literal', () => {
    expect(arrayLiteral(['a', 'b"c', null, undefined])).toBe('{"a","b\\"c",null,null}');
    expect(arrayLiteral([1, -2.5, 1e21, true, false])).toBe('{1,-2.5,1e+21,true,false}');
    expect(arrayLiteral(['🎉'])).toBe('{"🎉"}');
    expect(arrayLiteral([])).toBe('{}');
  });

  it('leaves to pg what JSON would escape differently or cannot write', () => {
    for (const values of [
      ['line\nbreak'],
      ['tab\there'],
      ['\u0001'],
      ['lone \ud800 surrogate'],
      ['lone \udfff low surrogate'],
      ['pair reversed \udc00\ud800'],
      [Number.NaN],
      [Number.POSITIVE_INFINITY],
      [{ an: 'object' }],
      [['nested']],
      [new Date(0)],
      [10n],
    ]) {
      expect(arrayLiteral(values)).toBe(values);
    }
  });

  it('replaces only the array parameters it can write, keeping the input intact', () => {
    const input = ['x', ['a'], ['b\n'], 3];
    const out = encodeParams(input);
    expect(out).toEqual(['x', '{"a"}', ['b\n'], 3]);
    expect(input).toEqual(['x', ['a'], ['b\n'], 3]);
    const untouched = ['x', 1];
    expect(encodeParams(untouched)).toBe(untouched);
    expect(encodeParams(undefined)).toEqual([]);
  });
});

describe('through PostgreSQL', () => {
  let server: PgServer;
  let store: PostgresStore;
  beforeAll(async () => {
    server = await startPostgres();
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  const roundTrip = async (text: unknown[], int8: unknown[], float8: unknown[], bool: unknown[]) => {
    const r = await store.query(
      'round trip',
      'SELECT $1::text[] AS t, $2::int8[] AS i, $3::float8[] AS f, $4::bool[] AS b',
      [text, int8, float8, bool],
      'o8_test_round_trip',
    );
    return r.rows[0]!;
  };

  it('returns every value as given, the fast literals and pg-encoded ones alike', async () => {
    expect(typeof arrayLiteral([...TRICKY, null])).toBe('string');
    const fallback = ['new\nline', 'tab\t', 'cr\r', 'lone \udc00', '\u0001\u001f'];
    const row = await roundTrip(
      [...TRICKY, null],
      [0, 1, -1, Date.UTC(2026, 0, 1), 2 ** 53 - 1, null],
      [0, 1.5, -0.25, 1e-7, 12345.678, null],
      [true, false, null],
    );
    expect(row.t).toEqual([...TRICKY, null]);
    expect(row.i).toEqual(['0', '1', '-1', String(Date.UTC(2026, 0, 1)), String(2 ** 53 - 1), null]);
    expect(row.f).toEqual([0, 1.5, -0.25, 1e-7, 12345.678, null]);
    expect(row.b).toEqual([true, false, null]);
    // Lone surrogates cannot be encoded as UTF-8: pg writes U+FFFD for them.
    const mixed = await roundTrip([...fallback, ...TRICKY], [], [Number.NaN], []);
    expect(mixed.t).toEqual([...fallback.map((s) => s.replace('\udc00', '\ufffd')), ...TRICKY]);
    expect(mixed.f).toEqual([Number.NaN]);
  });

  it('keeps journal entries whose data holds quotes, backslashes and line breaks', async () => {
    const now = Date.now();
    const execution = {
      id: 'e1',
      workflowId: 'w',
      workflowVersion: '1',
      definitionHash: 'h',
      status: 'running' as const,
      inputs: { text: 'a "quoted" \\ value' },
      createdAt: now,
      updatedAt: now,
    };
    const data = [{ s: 'x"y\\z' }, { s: 'line\nbreak' }, { s: '🎉 ✓' }];
    await store.write([
      { kind: 'execution', execution },
      {
        kind: 'journal',
        executionId: 'e1',
        entries: data.map((d, i) => ({
          seq: i + 1,
          ts: now,
          elapsedMs: 0,
          type: 'step.completed' as const,
          stepId: `s${i}`,
          attempt: 1,
          data: d,
        })),
      },
    ]);
    const entries = await store.readJournal('e1');
    expect(entries.map((e) => e.data)).toEqual(data);
    expect((await store.getExecution('e1'))?.inputs).toEqual(execution.inputs);
  });
});
