import { describe, expect, it } from 'vitest';
import { createMemoryTriggerStore, createScheduler, parseTriggerCorrelationId } from '../src/index.js';
import { compile, settle, setup, step } from './helpers.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const MIN = 60_000;

const everyMinute = (schedule: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  compile({
    steps: [step()],
    triggers: [{ name: 'tick', schedule: { cron: '* * * * *', ...schedule }, ...extra }],
  });

async function advance(clock: { advance(ms: number): Promise<void> }, ms: number) {
  await clock.advance(ms);
  await settle();
}

describe('a schedule', () => {
  it('fires each occurrence on time, with the fire time in its inputs and its correlation id', async () => {
    const { clock, engine, scheduler, gate } = setup(T0, { auto: true });
    scheduler.activate(everyMinute({}, { inputs: { key: '${trigger.time}' } }));
    await scheduler.start();
    await advance(clock, 3 * MIN);
    expect(gate.calls).toEqual([
      { key: '2025-01-01T00:01:00.000Z' },
      { key: '2025-01-01T00:02:00.000Z' },
      { key: '2025-01-01T00:03:00.000Z' },
    ]);
    const page = await engine.store.listExecutions({});
    expect(page.items.map((e) => parseTriggerCorrelationId(e.correlationId))).toContainEqual({
      trigger: 'tick',
      fireTime: '2025-01-01T00:01:00.000Z',
    });
    await scheduler.stop();
  });

  it('overlap skip: an occurrence due while the previous run is going is skipped', async () => {
    const { clock, scheduler, gate } = setup(T0);
    scheduler.activate(everyMinute({ overlap: 'skip' }));
    await scheduler.start();
    await advance(clock, 3 * MIN);
    expect(gate.calls).toHaveLength(1);
    gate.releaseAll();
    await settle();
    await advance(clock, MIN);
    expect(gate.calls).toHaveLength(2);
    await scheduler.stop();
  });

  it('overlap bufferOne: one occurrence waits and runs when the previous run ends; later ones are skipped', async () => {
    const { clock, scheduler, gate } = setup(T0);
    scheduler.activate(everyMinute({ overlap: 'bufferOne' }));
    await scheduler.start();
    await advance(clock, 3 * MIN);
    expect(gate.calls).toHaveLength(1);
    gate.release();
    await settle();
    await settle();
    expect(gate.calls).toHaveLength(2);
    await scheduler.stop();
  });

  it("overlap bufferOne across a new version: the occurrence buffered runs when the old version's run ends", async () => {
    const { clock, scheduler, gate } = setup(T0);
    scheduler.activate(everyMinute({ overlap: 'bufferOne' }));
    await scheduler.start();
    await advance(clock, MIN);
    expect(gate.calls).toHaveLength(1);
    // A new version while the first run goes on; the next occurrence is buffered by it.
    scheduler.activate(
      compile({
        version: '1.1.0',
        steps: [step()],
        triggers: [{ name: 'tick', schedule: { cron: '* * * * *', overlap: 'bufferOne' } }],
      }),
    );
    await advance(clock, MIN);
    expect(gate.calls).toHaveLength(1);
    gate.release();
    await settle();
    await settle();
    expect(gate.calls).toHaveLength(2);
    await scheduler.stop();
  });

  it('overlap allowAll: runs alongside', async () => {
    const { clock, scheduler, gate } = setup(T0);
    scheduler.activate(everyMinute({ overlap: 'allowAll' }));
    await scheduler.start();
    await advance(clock, 3 * MIN);
    expect(gate.open).toBe(3);
    await scheduler.stop();
  });

  it('overlap cancelRunning: the running one is cancelled, then the new one runs', async () => {
    const { clock, engine, scheduler, gate } = setup(T0);
    scheduler.activate(everyMinute({ overlap: 'cancelRunning' }));
    await scheduler.start();
    await advance(clock, MIN);
    await advance(clock, MIN);
    await advance(clock, 10_000);
    const page = await engine.store.listExecutions({});
    const statuses = page.items.map((e) => e.status).sort();
    expect(statuses).toEqual(['cancelled', 'running']);
    expect(gate.calls).toHaveLength(2);
    gate.releaseAll();
    await scheduler.stop();
  });

  describe('catch-up after the scheduler was down for three occurrences', () => {
    async function downFor(policy: Record<string, unknown>) {
      const store = createMemoryTriggerStore();
      const wf = everyMinute(
        { overlap: 'allowAll', catchUp: policy },
        { inputs: { key: '${trigger.time}' } },
      );
      const first = setup(T0, { auto: true, store });
      first.scheduler.activate(wf);
      await first.scheduler.start();
      await advance(first.clock, MIN);
      await first.scheduler.stop();
      // Down from 00:01:30 to 00:04:30: 00:02, 00:03 and 00:04 are missed.
      const second = setup(T0 + 4.5 * MIN, { auto: true, store });
      second.scheduler.activate(wf);
      await second.scheduler.start();
      await settle();
      const calls = second.gate.calls.map((c) => (c as { key: string }).key.slice(11, 16));
      await second.scheduler.stop();
      return calls;
    }

    it('none: nothing missed runs', async () => {
      expect(await downFor({ policy: 'none' })).toEqual([]);
    });
    it('last: the latest missed occurrence runs', async () => {
      expect(await downFor({ policy: 'last' })).toEqual(['00:04']);
    });
    it('all: each missed occurrence runs, oldest first', async () => {
      expect(await downFor({ policy: 'all' })).toEqual(['00:02', '00:03', '00:04']);
    });
    it('all, capped: at most max, the most recent', async () => {
      expect(await downFor({ policy: 'all', max: 2 })).toEqual(['00:03', '00:04']);
    });
    it('all within a window: older occurrences are dropped', async () => {
      expect(await downFor({ policy: 'all', window: '150s' })).toEqual(['00:03', '00:04']);
    });
  });

  it('does not fire an occurrence twice after a restart', async () => {
    const store = createMemoryTriggerStore();
    const a = setup(T0, { auto: true, store });
    const wf = everyMinute({ catchUp: { policy: 'all' } });
    a.scheduler.activate(wf);
    await a.scheduler.start();
    await advance(a.clock, MIN);
    await a.scheduler.stop();
    const b = createScheduler({ engine: a.engine, clock: a.clock, store, workflows: async () => [wf] });
    await b.start();
    await settle();
    expect(a.gate.calls).toHaveLength(1);
    await b.stop();
  });

  it('pause stops firing, resume fires again without catching up the paused time', async () => {
    const { clock, scheduler, gate } = setup(T0, { auto: true });
    scheduler.activate(everyMinute({ catchUp: { policy: 'all' } }));
    await scheduler.start();
    await scheduler.pause('wf', 'tick');
    await advance(clock, 3 * MIN);
    expect(gate.calls).toHaveLength(0);
    expect((await scheduler.list())[0]).toMatchObject({ paused: true });
    await scheduler.resume('wf', 'tick');
    await advance(clock, MIN);
    expect(gate.calls).toHaveLength(1);
    expect((await scheduler.list())[0]!.nextFireAt).toBe(T0 + 5 * MIN);
    await scheduler.stop();
  });

  it('backfill fires each occurrence of a range, with the overlap policy', async () => {
    const { scheduler, gate } = setup(T0, { auto: true });
    scheduler.activate(everyMinute({ overlap: 'allowAll' }, { inputs: { key: '${trigger.time}' } }));
    const r = await scheduler.backfill('wf', 'tick', T0 - 3 * MIN, T0 - MIN);
    await settle();
    expect(r.map((x) => x.outcome.status)).toEqual(['started', 'started', 'started']);
    expect(gate.calls.map((c) => (c as { key: string }).key.slice(11, 16))).toEqual([
      '23:57',
      '23:58',
      '23:59',
    ]);
  });

  it('one scheduler of several sharing a store fires each occurrence: the lease holder', async () => {
    const store = createMemoryTriggerStore();
    const a = setup(T0, { auto: true, store, owner: 'a' });
    const wf = everyMinute();
    a.scheduler.activate(wf);
    const b = createScheduler({
      engine: a.engine,
      clock: a.clock,
      store,
      owner: 'b',
      workflows: async () => [wf],
    });
    await a.scheduler.start();
    await b.start();
    await advance(a.clock, 2 * MIN);
    expect(a.gate.calls).toHaveLength(2);
    expect(a.scheduler.leader).toBe(true);
    expect(b.leader).toBe(false);
    // The leader stops (or dies): the other takes over within the lease time.
    await a.scheduler.stop();
    await advance(a.clock, MIN);
    expect(b.leader).toBe(true);
    expect(a.gate.calls).toHaveLength(3);
    await b.stop();
  });
});
