/**
 * One processor at a time holds a stream: a second one on the same transport waits as a
 * standby (runs no crew, commits nothing) until the holder's claim is released or runs out.
 * A holder that stalled past its claim finds it taken when it wakes and commits nothing, so a
 * slice is never committed by two processors and a live holder's crews are never resumed by
 * another.
 */
import { type Clock, createFakeClock, type FakeClock } from '@orchestr8/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryTransport,
  createStreamProcessor,
  type StreamErrorRecord,
  type StreamProcessor,
  type StreamTransport,
  viewHeartbeats,
} from '../src/index.js';
import { compiled, crew, gates, testEngine, waiting } from './helpers.js';

const T0 = 1_700_000_000_000;
const CLAIM_MS = 3_000;
const stream = compiled(`version: "1.0.0"
id: match
slice: 100ms
epoch: ${T0}
events: { goal: {}, tick: {} }
context:
  keys: { count: counter }
crews:
${crew('slow', ['goal'], '@test/gate', { name: 'slow' }, [], '\n    timeout: 1h')}${crew('count', ['tick'], '@test/count')}`);
const ev = (id: string, at: number, kind = 'tick') => ({
  id,
  ts: T0 + at,
  kind,
  stream: 'match',
  payload: {},
});

/**
 * The wall clock every processor sees, and a clock for one processor that reads that wall
 * time but whose timers run only when the test advances `stalled`: a processor that stalls.
 */
function stallableClocks(): { wall: FakeClock; stalled: FakeClock; aClock: Clock } {
  const wall = createFakeClock(T0);
  const stalled = createFakeClock(T0);
  const aClock: Clock = {
    now: () => wall.now(),
    monotonic: () => stalled.monotonic(),
    setTimeout: (fn, ms, o) => stalled.setTimeout(fn, ms, o),
    sleep: (ms, signal) => stalled.sleep(ms, signal),
  };
  return { wall, stalled, aClock };
}

let running: StreamProcessor[] = [];
afterEach(async () => {
  for (const p of running) await p.stop();
  running = [];
  gates.clear();
});

/** The transport as one processor sees it: the commits it made are listed under its name. */
function seenBy(transport: StreamTransport, name: string, commits: string[]): StreamTransport {
  return {
    ...transport,
    commit: async (c) => {
      const revision = await transport.commit(c);
      commits.push(`${name}:${c.record.index}`);
      return revision;
    },
  };
}

/**
 * The transport as one processor sees it, with claims (takes and renewals) that throw
 * `message` while `failing.on` is set: a key-value store that times out or is down.
 */
function failingClaims(transport: StreamTransport, message: string) {
  const failing = { on: false };
  const seen: StreamTransport = {
    ...transport,
    claim: async (c) => {
      if (failing.on) throw new Error(message);
      return transport.claim(c);
    },
  };
  return { transport: seen, failing };
}

async function processor(transport: StreamTransport, clock: Clock, engineClock: FakeClock) {
  const errors: StreamErrorRecord[] = [];
  const p = createStreamProcessor({
    stream,
    engine: testEngine(engineClock),
    transport,
    clock,
    claimMs: CLAIM_MS,
    heartbeatMs: 0,
    onError: (e) => errors.push(e),
  });
  running.push(p);
  await p.start();
  return { p, errors };
}

describe('the stream claim: one processor at a time', () => {
  it('a second processor waits as a standby while the first lives, runs no crew, and takes over when the first stops', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    const commits: string[] = [];
    let release!: () => void;
    gates.set(
      'slow',
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const a = await processor(seenBy(transport, 'a', commits), clock, clock);
    const b = await processor(seenBy(transport, 'b', commits), clock, clock);
    expect([a.p.status().active, b.p.status().active]).toEqual([true, false]);
    await transport.publishEvent(ev('g1', 10, 'goal'));
    // Slice 0 closes and its crew hangs far longer than the claim lasts: the holder renews it.
    await clock.advance(5 * CLAIM_MS);
    expect(a.p.status()).toMatchObject({ active: true, committedSlice: -1 });
    expect(b.p.status()).toMatchObject({ active: false, committedSlice: -1, eventsIn: 0 });
    release();
    await expect.poll(() => a.p.status().committedSlice, waiting('slice 0 committed by a')).toBe(0);
    expect((await transport.readActions()).map((x) => x.id)).toEqual(['match:0:slow:0']);

    await a.p.stop();
    await transport.publishEvent(ev('t1', 5 * CLAIM_MS + 10));
    // Released: the standby takes over at its next try, from the committed context.
    await clock.advance(CLAIM_MS / 3);
    await expect.poll(() => b.p.status().active, waiting('b takes over')).toBe(true);
    await clock.advance(200);
    await expect.poll(() => b.p.status().committedSlice, waiting('slice 150 committed by b')).toBe(150);
    expect(commits).toEqual(['a:0', 'b:150']);
    expect((await transport.readSlices()).map((s) => s.index)).toEqual([0, 150]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('a holder that stalled past its claim is replaced, and on waking commits nothing: each slice is committed once', async () => {
    // The wall clock both see; the stalled processor's timers run only when the test says so.
    const { wall, stalled, aClock } = stallableClocks();
    const transport = createMemoryTransport({ clock: wall });
    const commits: string[] = [];
    const a = await processor(seenBy(transport, 'a', commits), aClock, stalled);
    await transport.publishEvent(ev('t1', 10));
    await wall.advance(100);
    await stalled.advance(100);
    await expect.poll(() => a.p.status().committedSlice, waiting('slice 0 committed by a')).toBe(0);

    // a stalls (no timer of its runs) with slice 1's event taken, not yet acknowledged.
    await transport.publishEvent(ev('t2', 150));
    const b = await processor(seenBy(transport, 'b', commits), wall, wall);
    expect(b.p.status().active).toBe(false);
    await wall.advance(CLAIM_MS);
    await expect.poll(() => b.p.status().active, waiting('b takes over once a’s claim ran out')).toBe(true);
    await expect.poll(() => b.p.status().committedSlice, waiting('slice 1 committed by b')).toBe(1);

    // a wakes: slice 1 closes, its crew runs, and the commit finds the stream taken.
    await stalled.advance(CLAIM_MS + 100);
    await expect.poll(() => a.p.status().active, waiting('a stands down')).toBe(false);
    await expect.poll(() => a.errors.length, waiting('a reports the slice it did not commit')).toBe(1);
    expect(commits).toEqual(['a:0', 'b:1']);
    // The event a held unacknowledged went to b.
    expect((await transport.readSlices()).map((s) => [s.index, s.eventIds])).toEqual([
      [0, ['t1']],
      [1, ['t2']],
    ]);
    expect((await transport.loadContext())!.slice).toBe(1);
    expect(b.p.context()).toEqual({ count: 2 });
    expect(a.p.status().committedSlice).toBe(0);
    expect(a.errors).toEqual([
      expect.objectContaining({
        kind: 'commit-failed',
        error: expect.objectContaining({
          code: 'CONFLICT',
          message: 'another processor took stream "match" over: slice 1 was not committed here',
        }),
      }),
    ]);
  });

  it('a holder that passed its claim check and then stalled has its commit refused once another took over: no slice committed twice, the context never goes back', async () => {
    const { wall, stalled, aClock } = stallableClocks();
    const transport = createMemoryTransport({ clock: wall });
    const commits: string[] = [];
    // a's commit of slice 1 hangs after its claim check, until the test lets it go on.
    let inCommit = false;
    let resume!: () => void;
    const hanging: StreamTransport = {
      ...transport,
      commit: async (c) => {
        if (c.record.index === 1) {
          inCommit = true;
          await new Promise<void>((r) => {
            resume = r;
          });
        }
        return seenBy(transport, 'a', commits).commit(c);
      },
    };
    const a = await processor(hanging, aClock, stalled);
    await transport.publishEvent(ev('t1', 10));
    await wall.advance(100);
    await stalled.advance(100);
    await expect.poll(() => a.p.status().committedSlice, waiting('slice 0 committed by a')).toBe(0);
    await transport.publishEvent(ev('t2', 150));
    await wall.advance(100);
    await stalled.advance(100);
    await expect.poll(() => inCommit, waiting('a in its commit of slice 1')).toBe(true);

    const b = await processor(seenBy(transport, 'b', commits), wall, wall);
    await wall.advance(CLAIM_MS);
    await expect.poll(() => b.p.status().committedSlice, waiting('slice 1 committed by b')).toBe(1);
    await transport.publishEvent(ev('t3', CLAIM_MS + 250));
    await wall.advance(200);
    await expect.poll(() => b.p.status().committedSlice, waiting('a later slice by b')).toBeGreaterThan(1);
    const latest = b.p.status().committedSlice;

    resume();
    await expect.poll(() => a.errors.length, waiting('a reports the refused commit')).toBe(1);
    expect(a.errors[0]).toMatchObject({
      kind: 'commit-failed',
      error: {
        code: 'CONFLICT',
        message: 'another processor took stream "match" over: slice 1 was not committed here',
      },
    });
    expect(commits).toEqual(['a:0', 'b:1', `b:${latest}`]);
    expect((await transport.readSlices()).map((s) => s.index)).toEqual([0, 1, latest]);
    expect(await transport.loadContext()).toEqual({ slice: latest, values: { count: 3 } });

    // A processor started after b stops resumes from b's context: every event counted once.
    await b.p.stop();
    await a.p.stop();
    const c = await processor(transport, wall, wall);
    await expect.poll(() => c.p.status().active, waiting('c takes over')).toBe(true);
    expect(c.p.status().committedSlice).toBe(latest);
    expect(c.p.context()).toEqual({ count: 3 });
  });

  it('a failed claim renewal at commit time loses no slice: the processor takes the stream over again from the committed context', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    const { transport: failing, failing: broken } = failingClaims(transport, 'KV timeout');
    const a = await processor(failing, clock, clock);
    let release!: () => void;
    gates.set(
      'slow',
      new Promise<void>((r) => {
        release = r;
      }),
    );
    await transport.publishEvent(ev('g', 10, 'goal'));
    await transport.publishEvent(ev('t1', 20));
    // Slice 0 closes; its slow crew hangs while renewals fail until less than a third of the claim is left.
    await clock.advance(100);
    broken.on = true;
    await clock.advance((2 * CLAIM_MS) / 3);
    expect(a.p.status().active).toBe(true);
    release();
    await expect.poll(() => a.errors.length, waiting('the failed commit is reported')).toBe(1);
    // It says it stood down, and why: not that another processor holds the stream.
    expect(a.errors[0]).toMatchObject({
      kind: 'commit-failed',
      slice: 0,
      error: {
        message:
          'slice 0 was not committed: KV timeout; this processor stands down and takes the stream over again from the committed context at its next claim renewal',
      },
    });
    expect(a.p.status()).toMatchObject({
      active: false,
      standbyReason: expect.stringMatching(/^stood down: its commit of slice 0 failed \(KV timeout\)/),
    });
    broken.on = false;
    await clock.advance(CLAIM_MS);
    await expect.poll(() => a.p.status().committedSlice, waiting('slice 0 committed after all')).toBe(0);
    await transport.publishEvent(ev('t2', clock.now() - T0 + 10));
    await clock.advance(200);
    await expect.poll(() => a.p.context(), waiting('both ticks counted')).toEqual({ count: 2 });
    expect((await transport.readSlices()).map((s) => s.eventIds)).toEqual([['g', 't1'], ['t2']]);
    expect(transport.acked.size).toBe(3);
  });

  it('a commit that fails (transport error) loses no slice: the processor takes the stream over again from the committed context and commits it', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    let failures = 1;
    const failing: StreamTransport = {
      ...transport,
      commit: async (c) => {
        if (failures-- > 0) throw new Error('publish timed out');
        return transport.commit(c);
      },
    };
    const a = await processor(failing, clock, clock);
    await transport.publishEvent(ev('t1', 10));
    await clock.advance(100);
    await expect.poll(() => a.errors.length, waiting('the failed commit is reported')).toBe(1);
    expect(a.errors[0]).toMatchObject({
      kind: 'commit-failed',
      error: {
        message: expect.stringMatching(
          /^slice 0 was not committed: publish timed out; this processor stands down/,
        ),
      },
    });
    expect(transport.acked.size).toBe(0);
    await clock.advance(CLAIM_MS / 3);
    await expect.poll(() => a.p.status().committedSlice, waiting('slice 0 committed after all')).toBe(0);
    expect(a.p.status().active).toBe(true);
    expect((await transport.readSlices()).map((s) => s.eventIds)).toEqual([['t1']]);
    expect(a.p.context()).toEqual({ count: 1 });
    expect(transport.acked.size).toBe(1);
  });

  it('a holder that cannot renew its claim (transport errors) stands down when the claim runs out by its clock, and the standby takes over', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    const { transport: failing, failing: broken } = failingClaims(transport, 'KV down');
    const a = await processor(failing, clock, clock);
    const b = await processor(transport, clock, clock);
    broken.on = true;
    // Renewals fail: a is still the holder until its claim runs out...
    await clock.advance(CLAIM_MS - 1);
    expect([a.p.status().active, b.p.status().active]).toEqual([true, false]);
    // ...then it stands down, and b takes the stream over.
    await clock.advance(1);
    await expect.poll(() => a.p.status().active, waiting('a stands down')).toBe(false);
    await expect.poll(() => b.p.status().active, waiting('b takes over')).toBe(true);
    await transport.publishEvent(ev('t1', clock.now() - T0 + 10));
    await clock.advance(200);
    await expect.poll(() => b.p.status().committedSlice, waiting('b commits the event')).toBeGreaterThan(-1);
    expect(a.p.status().eventsIn).toBe(0);
    expect(b.p.context()).toEqual({ count: 1 });
  });

  it('a standby says so in its heartbeats, is reported stale when it goes silent like a holder, and says running once it holds the stream', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    const start = async (processorId: string) => {
      const p = createStreamProcessor({
        stream,
        engine: testEngine(clock),
        transport,
        clock,
        claimMs: CLAIM_MS,
        processorId,
        heartbeatMs: 1000,
      });
      running.push(p);
      await p.start();
      return p;
    };
    const a = await start('a');
    await start('b');
    const states = async () =>
      Object.fromEntries((await transport.readHeartbeats()).map((h) => [h.processor, h.state]));
    await expect.poll(states, waiting('both heartbeats')).toEqual({ a: 'running', b: 'standby' });
    const standby = (await transport.readHeartbeats()).find((h) => h.processor === 'b')!;
    expect(viewHeartbeats([standby], standby.at + 3001)[0]!.stale).toBe(true);
    await a.stop();
    await clock.advance(CLAIM_MS / 3);
    await clock.advance(1000);
    await expect.poll(states, waiting('b running, a stopped')).toEqual({ a: 'stopped', b: 'running' });
  });

  it('a processor whose takeover failed still releases the claim when it stops: a standby need not wait for it to run out', async () => {
    const clock = createFakeClock(T0);
    const transport = createMemoryTransport({ clock });
    let consumeFails = true;
    const failing: StreamTransport = {
      ...transport,
      consume: async (handler) => {
        if (consumeFails) throw new Error('consumer unavailable');
        return transport.consume(handler);
      },
    };
    const a = await processor(failing, clock, clock).catch((e: Error) => e);
    expect(a).toMatchObject({ message: 'consumer unavailable' });
    const stuck = running.pop()!;
    const b = await processor(transport, clock, clock);
    expect(b.p.status().active).toBe(false);
    await stuck.stop();
    // Released: b takes the stream at its next try, long before a's claim would have run out.
    await clock.advance(CLAIM_MS / 3);
    await expect.poll(() => b.p.status().active, waiting('b takes over')).toBe(true);
    consumeFails = false;
  });

  it('refuses a claim length it cannot renew or time, naming claimMs', () => {
    for (const claimMs of [0, 2, 1.5, -1, Number.NaN, 2_147_483_648])
      expect(() =>
        createStreamProcessor({ stream, engine: testEngine(), transport: createMemoryTransport(), claimMs }),
      ).toThrow(
        expect.objectContaining({
          code: 'VALIDATION',
          message: `claimMs must be an integer from 3 to 2147483647 ms, got ${claimMs}`,
        }),
      );
  });
});
