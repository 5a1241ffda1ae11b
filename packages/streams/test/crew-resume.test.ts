/**
 * A crew execution a dead processor left running is resumed by its successor, and its crew
 * timeout still runs from the execution's creation: the successor gives it only what is left
 * (none when it is over: it is cancelled before any step runs; when it runs out while the
 * execution is being loaded, it is cancelled as soon as it is loaded), and a crew that finished
 * before the crash keeps its result whatever the time.
 */
import { builtinAgents, createAgentRegistry, defineAgent } from '@orchestr8/agent-base';
import { createFakeClock } from '@orchestr8/common';
import { createEngine, createMemoryStore, type Engine, type Store } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { compileCrews, createSliceRunner, type SliceGroup, type SliceOutcome } from '../src/index.js';
import { compiled, crew } from './helpers.js';

const T0 = 1_700_000_000_000;
const stream = compiled(`version: "1.0.0"
id: s
slice: 100ms
epoch: ${T0}
events: { tick: {} }
crews:
${crew('slow', ['tick'], '@test/hang', {}, [], '\n    timeout: 1s')}${crew('quick', ['tick'], '@orchestr8/echo', { actions: [{ kind: 'done' }] })}`);
const group: SliceGroup = {
  index: 0,
  slices: [0],
  events: [{ id: 'e1', ts: T0 + 10, kind: 'tick', stream: 's', payload: {} }],
};

/** Calls of `@test/hang` per engine: it runs until its execution is cancelled. */
function engineOn(store: Store, clock: ReturnType<typeof createFakeClock>, calls: string[], name: string) {
  const hang = defineAgent<unknown, unknown>({
    id: '@test/hang',
    execute: (_input, ctx) => {
      calls.push(name);
      return new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      );
    },
  });
  return createEngine({ registry: createAgentRegistry([...builtinAgents, hang]), store, clock });
}

async function runnerOn(engine: Engine, clock: ReturnType<typeof createFakeClock>) {
  const workflows = await compileCrews(stream, engine);
  return createSliceRunner({ stream, engine, workflows, clock, keyPrefix: 'stream' });
}

/**
 * A processor that began slice 0 and died: its crews' executions are in the store, `slow`
 * still running (its engine shut down without finishing it, as a killed process leaves it).
 */
async function deadProcessor() {
  const clock = createFakeClock(T0);
  const store = createMemoryStore({ clock });
  const calls: string[] = [];
  const first = engineOn(store, clock, calls, 'first');
  // Its own timers (the crew timeout) died with it: a clock nobody advances.
  const run = await runnerOn(first, createFakeClock(T0));
  void run(group, {});
  let slow: string | undefined;
  for (let i = 0; i < 100 && !slow; i++) {
    await clock.advance(0);
    const page = await store.listExecutions({ status: ['running'], limit: 10 });
    slow = page.items.find((e) => e.idempotencyKey === 'stream:s:0:slow')?.id;
  }
  if (!slow) throw new Error('the crew execution did not start');
  const down = first.shutdown({ graceMs: 0 });
  await clock.advance(0);
  await down;
  expect((await store.getExecution(slow))!.status).toBe('running');
  return { clock, store, calls, slow };
}

/**
 * The store as the successor sees it: while `hold` is set, loading an execution's journal
 * (which only a resume does) waits for it, so a test can move time on mid-resume.
 */
function slowToLoad(store: Store) {
  const ctl: { hold?: Promise<void>; loading?: () => void } = {};
  const wrapped = new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === 'readJournal')
        return async (...args: Parameters<Store['readJournal']>) => {
          if (ctl.hold) {
            ctl.loading?.();
            await ctl.hold;
          }
          return target.readJournal(...args);
        };
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: wrapped, ctl };
}

/** Runs the slice on a successor engine; `settled()` says whether its outcome is in. */
async function successor(dead: Awaited<ReturnType<typeof deadProcessor>>, store: Store = dead.store) {
  const engine = engineOn(store, dead.clock, dead.calls, 'successor');
  const run = await runnerOn(engine, dead.clock);
  let outcome: SliceOutcome | undefined;
  const done = run(group, {}).then((o) => {
    outcome = o;
    return o;
  });
  return { done, settled: () => outcome !== undefined };
}

describe('a crew execution resumed after its processor died', () => {
  it('gets only what is left of its timeout, counted from when the execution was created', async () => {
    const dead = await deadProcessor();
    await dead.clock.advance(700); // the successor starts 700 ms into the crew's 1 s
    const next = await successor(dead);
    await dead.clock.advance(200);
    expect(next.settled()).toBe(false);
    expect(dead.calls).toEqual(['first', 'successor']); // resumed: its step runs again
    await dead.clock.advance(150); // 1,050 ms after the crew began
    expect(next.settled()).toBe(true);
    const outcome = await next.done;
    expect(outcome.crews.map((c) => [c.crew, c.status])).toEqual([
      ['slow', 'failed'],
      ['quick', 'completed'],
    ]);
    expect(outcome.errors.map((e) => [e.kind, e.crew, e.error.code, e.error.message])).toEqual([
      ['crew-failed', 'slow', 'TIMEOUT', 'crew "slow" ran longer than its timeout of 1000 ms'],
    ]);
    expect(outcome.actions.map((a) => a.id)).toEqual(['s:0:quick:0']);
    const record = (await dead.store.getExecution(dead.slow))!;
    expect(record.status).toBe('cancelled');
    expect(record.statusReason).toContain('ran longer than its timeout of 1000 ms');
  });

  it('over its timeout already, it is cancelled before any of its steps runs again', async () => {
    const dead = await deadProcessor();
    await dead.clock.advance(5_000);
    const next = await successor(dead);
    const outcome = await next.done;
    expect(dead.calls).toEqual(['first']);
    expect(outcome.errors.map((e) => [e.crew, e.error.code])).toEqual([['slow', 'TIMEOUT']]);
    expect(outcome.crews.find((c) => c.crew === 'slow')).toMatchObject({
      status: 'failed',
      executionId: dead.slow,
    });
    expect((await dead.store.getExecution(dead.slow))!.status).toBe('cancelled');
  });

  it('whose timeout passes while its execution is being loaded is cancelled once it is loaded', async () => {
    const dead = await deadProcessor();
    await dead.clock.advance(900); // 100 ms of the crew's 1 s left: no cancel request is recorded
    const slow = slowToLoad(dead.store);
    let release!: () => void;
    slow.ctl.hold = new Promise<void>((r) => {
      release = r;
    });
    const loading = new Promise<void>((r) => {
      slow.ctl.loading = r;
    });
    const next = await successor(dead, slow.store);
    await loading;
    await dead.clock.advance(200); // the timeout passes mid-load: nothing to cancel yet
    expect(next.settled()).toBe(false);
    slow.ctl.hold = undefined;
    release();
    for (let i = 0; i < 50 && !next.settled(); i++) await dead.clock.advance(0);
    // Nothing else would stop it: its step hangs and the store holds no cancel request.
    expect(next.settled()).toBe(true);
    const outcome = await next.done;
    expect(outcome.errors.map((e) => [e.crew, e.error.code, e.error.message])).toEqual([
      ['slow', 'TIMEOUT', 'crew "slow" ran longer than its timeout of 1000 ms'],
    ]);
    expect(outcome.crews.find((c) => c.crew === 'slow')).toMatchObject({
      status: 'failed',
      executionId: dead.slow,
    });
    const record = (await dead.store.getExecution(dead.slow))!;
    expect(record.status).toBe('cancelled');
    expect(record.statusReason).toContain('ran longer than its timeout of 1000 ms');
  });

  it('a crew that finished before the crash keeps its result, however long ago that was', async () => {
    const dead = await deadProcessor();
    await dead.clock.advance(60_000);
    const next = await successor(dead);
    await dead.clock.advance(1_000);
    const outcome = await next.done;
    expect(outcome.crews.find((c) => c.crew === 'quick')).toMatchObject({ status: 'completed', actions: 1 });
    expect(outcome.actions.map((a) => [a.id, a.kind])).toEqual([['s:0:quick:0', 'done']]);
  });
});
