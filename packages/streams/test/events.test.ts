import { describe, expect, it } from 'vitest';
import { checkEvent, isExpired, sliceBounds, sliceIndex } from '../src/index.js';
import { compiled } from './helpers.js';

const stream = compiled(`version: "1.0.0"
id: match
slice: 500ms
epoch: 1000
events:
  goal:
    payload: { type: object, required: [team], properties: { team: { type: string } } }
  tick: {}
limits: { maxEventBytes: 200 }
crews:
  - id: c
    on: [goal]
    steps: [{ id: s, agent: "@orchestr8/echo" }]
`);

describe('time slices', () => {
  it('bins by timestamp from the epoch: a boundary instant opens the next slice', () => {
    expect(sliceIndex(1000, stream)).toBe(0);
    expect(sliceIndex(1499, stream)).toBe(0);
    expect(sliceIndex(1500, stream)).toBe(1);
    expect(sliceIndex(1999, stream)).toBe(1);
    expect(sliceIndex(1000 + 500 * 1234, stream)).toBe(1234);
    expect(sliceBounds(3, stream)).toEqual({ start: 2500, end: 3000 });
  });
});

describe('events', () => {
  const ok = { id: 'e-1', ts: 1200, kind: 'goal', stream: 'match', payload: { team: 'home' } };

  it('accepts a valid event and normalises an ISO timestamp to epoch milliseconds', () => {
    expect(checkEvent(ok, stream).event).toEqual(ok);
    const iso = checkEvent({ ...ok, ts: '1970-01-01T00:00:01.700Z' }, stream);
    expect(iso.event?.ts).toBe(1700);
  });

  it('refuses bad events, naming each problem and where it is', () => {
    const r = checkEvent({ id: 'has space', ts: 10, kind: 'penalty', stream: 'other', extra: 1 }, stream);
    expect(r.problems).toEqual([
      { pointer: '/extra', message: 'unknown field "extra"' },
      { pointer: '/id', message: 'id must be 1 to 128 letters, digits, "_", ".", ":" or "-"' },
      { pointer: '/ts', message: "ts is before the stream's epoch (1970-01-01T00:00:01.000Z)" },
      { pointer: '/stream', message: 'event for stream "other", not "match"' },
      { pointer: '/kind', message: 'unknown event kind "penalty"' },
    ]);
    expect(checkEvent('nope', stream).problems![0]!.message).toMatch(/must be an object/);
    expect(checkEvent({ ...ok, payload: { team: 3 } }, stream).problems).toEqual([
      { pointer: '/payload/team', message: 'payload must be string' },
    ]);
  });

  it('caps the size of an event', () => {
    const r = checkEvent({ ...ok, payload: { team: 'x'.repeat(300) } }, stream);
    expect(r.problems![0]!.message).toMatch(/^event is \d+ bytes; the limit is 200$/);
  });
});

describe('actions', () => {
  it('expire when their time to live runs out', () => {
    expect(isExpired({ ts: 1000, ttlMs: 500 }, 1499)).toBe(false);
    expect(isExpired({ ts: 1000, ttlMs: 500 }, 1500)).toBe(true);
  });
});
