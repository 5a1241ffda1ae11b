import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine.js';
import { createMemoryStore } from '../src/memory-store.js';
import { agent, compile, deferred, registryOf, settle } from './helpers.js';
import { defineOperationsContract } from './operations-contract.js';
import { defineStoreContract, entry, execution, step } from './store-contract.js';

defineStoreContract('memory', async () => ({ store: createMemoryStore() }));

describe('memory store', () => {
  it('uses the injected clock to decide whether a claim has expired', async () => {
    const clock = createFakeClock(10_000);
    const store = createMemoryStore({ clock });
    const claim = { key: 'k', fingerprint: 'f', expiresAt: 10_500 };
    expect((await store.createExecution(execution(), claim)).created).toBe(true);
    expect((await store.createExecution(execution(), claim)).created).toBe(false);
    await clock.advance(500);
    expect((await store.createExecution(execution(), claim)).created).toBe(true);
    const record = await store.findIdempotency('k', clock.now() - 1);
    expect(record?.createdAt).toBe(10_500);
  });

  it('does not keep the claim of an execution the retention bound forgets as it is created', async () => {
    const clock = createFakeClock(10_000);
    const store = createMemoryStore({ clock, maxFinishedExecutions: 0 });
    const claim = { key: 'k', fingerprint: 'f', expiresAt: 20_000 };
    const done = execution({ status: 'completed', finishedAt: 10_000 });
    expect((await store.createExecution(done, claim)).created).toBe(true);
    expect(await store.getExecution(done.id)).toBeUndefined();
    // The key names no missing execution: the next request with it starts one.
    expect(await store.findIdempotency('k', clock.now())).toBeUndefined();
    expect((await store.createExecution(execution(), claim)).created).toBe(true);
  });

  it('keeps the references it is given rather than copying on write', async () => {
    const store = createMemoryStore();
    const e = execution();
    await store.createExecution(e);
    const s = step(e.id, 'a');
    await store.write([{ kind: 'step', step: s }]);
    // Documented ownership rule: a written record belongs to the store.
    s.status = 'completed';
    expect((await store.getSteps(e.id))[0]!.status).toBe('completed');
  });

  it('keeps steps and journal entries in order past the room its tables start with', async () => {
    const store = createMemoryStore();
    const e = execution();
    await store.createExecution(e);
    // 40 steps and 60 entries (more than a table starts with room for); every third
    // entry arrives late, then a trim, then more steps and entries.
    const late: number[] = [];
    for (let seq = 1; seq <= 60; seq++) {
      if (seq % 3 === 0) late.push(seq);
      else await store.write([{ kind: 'journal', executionId: e.id, entries: [entry(seq)] }]);
    }
    for (let i = 0; i < 40; i++) await store.write([{ kind: 'step', step: step(e.id, `s${i}`) }]);
    await store.write([{ kind: 'journal', executionId: e.id, entries: late.map((s) => entry(s)) }]);
    await store.write([{ kind: 'step', step: step(e.id, 's7', { status: 'completed' }) }]);
    expect((await store.readJournal(e.id)).map((j) => j.seq)).toEqual(range(1, 60));
    await store.write([{ kind: 'journalTrim', executionId: e.id, beforeSeq: 35 }]);
    await store.write([{ kind: 'journal', executionId: e.id, entries: [entry(61), entry(62)] }]);
    expect((await store.readJournal(e.id)).map((j) => j.seq)).toEqual(range(35, 62));
    expect((await store.readJournal(e.id, { afterSeq: 59 })).map((j) => j.seq)).toEqual([60, 61, 62]);
    const steps = await store.getSteps(e.id);
    expect(steps.map((s) => s.stepId)).toEqual(range(0, 39).map((i) => `s${i}`));
    expect(steps.filter((s) => s.status === 'completed').map((s) => s.stepId)).toEqual(['s7']);
  });

  it('keeps every journal entry of many small write turns, in seq order', async () => {
    const store = createMemoryStore();
    const e = execution();
    await store.createExecution(e);
    let seq = 0;
    for (let i = 0; i < 20_000; i++) {
      await store.write([
        { kind: 'step', step: step(e.id, `s${i % 10}`) },
        { kind: 'journal', executionId: e.id, entries: [entry(++seq), entry(++seq), entry(++seq)] },
      ]);
    }
    const journal = await store.readJournal(e.id);
    expect(journal.length).toBe(60_000);
    expect(journal.every((j, i) => j.seq === i + 1)).toBe(true);
    expect((await store.getSteps(e.id)).map((s) => s.stepId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `s${i}`),
    );
  });

  it('reads back each journal entry as written, its data with its fields in their order', async () => {
    const store = createMemoryStore();
    const e = execution();
    await store.createExecution(e);
    class Payload {
      constructor(
        readonly agent: string,
        readonly input: unknown,
      ) {}
    }
    const written = [
      entry(1, { data: { agent: 'a', input: { v: 1 } }, stepId: 's', attempt: 1 }),
      entry(2, {
        type: 'step.completed',
        stepId: 's',
        attempt: 1,
        data: { output: { v: 1 }, durationMs: 0.25 },
      }),
      entry(3, { data: { agent: 'a', input: undefined }, stepId: 't' }),
      // Other shapes of the same types are kept as they are.
      entry(4, { data: { input: 1, agent: 'a' } }),
      entry(5, { data: { agent: 'a', input: 1, fallbackFor: 's' } }),
      entry(6, { type: 'step.completed', data: { output: 1, durationMs: 2, aliasFor: 'f' } }),
      entry(7, { type: 'step.completed', data: { output: 1, durationMs: -1 } }),
      entry(8, { type: 'step.completed', data: { durationMs: 2, output: 1 } }),
      entry(9, { data: new Payload('a', 1) }),
      entry(10, { type: 'execution.completed', data: { durationMs: 3, outputs: { z: 1 } } }),
      entry(11, { type: 'step.completed', data: { output: undefined, durationMs: 0 } }),
      entry(12, { type: 'other' }),
    ];
    await store.write([{ kind: 'journal', executionId: e.id, entries: written }]);
    const read = await store.readJournal(e.id);
    expect(read).toEqual(written);
    expect(read.map((j) => JSON.stringify(j.data))).toEqual(written.map((j) => JSON.stringify(j.data)));
    expect(read[8]!.data).toBeInstanceOf(Payload);
    // Written again with the same seq, in another form: replaced.
    const again = entry(2, { type: 'step.failed', stepId: 's', data: { error: { code: 'X' } } });
    await store.write([{ kind: 'journal', executionId: e.id, entries: [again] }]);
    expect((await store.readJournal(e.id, { afterSeq: 1, limit: 1 }))[0]).toEqual(again);
    expect(await store.readJournal(e.id)).toHaveLength(12);
  });

  it("keeps an engine's journal as its subscribers saw it", async () => {
    const engine = createEngine({ registry: registryOf(agent('echo', (input) => input)) });
    const seen: unknown[] = [];
    engine.events.subscribe((ev) => {
      const { executionId: _e, workflowId: _w, ...rest } = ev;
      seen.push(JSON.parse(JSON.stringify(rest)));
    });
    const wf = compile({
      version: '1.0.0',
      metadata: { id: 'journal-forms', name: 'journal-forms' },
      steps: [
        { id: 'a', agent: 'echo', input: { v: '${inputs.n}' } },
        { id: 'b', agent: 'echo', input: { v: '${steps.a.output.v}' }, dependencies: ['a'] },
      ],
    });
    const r = await engine.execute(wf, { inputs: { n: 7 } });
    await engine.events.flush();
    const journal = await engine.store.readJournal(r.executionId);
    expect(journal.map((j) => j.type)).toEqual([
      'execution.started',
      'step.started',
      'step.completed',
      'step.started',
      'step.completed',
      'execution.completed',
    ]);
    expect(JSON.parse(JSON.stringify(journal))).toEqual(seen);
    await engine.close();
  });

  it('forgets the oldest finished executions beyond maxFinishedExecutions, never a running one', async () => {
    const gate = deferred<void>();
    const wait = agent('@t/wait', async () => {
      await gate.promise;
      return 'late';
    });
    const echo = agent('@t/echo', (input) => input);
    const store = createMemoryStore({ maxFinishedExecutions: 3 });
    const engine = createEngine({ registry: registryOf(wait, echo), store, cancelPollMs: 0 });
    const slow = await engine.start(compile({ steps: [{ id: 'w', agent: '@t/wait', input: {} }] }));
    const quick = compile({ steps: [{ id: 'e', agent: '@t/echo', input: { n: '${inputs.n}' } }] });
    const ids: string[] = [];
    for (let n = 1; n <= 5; n++) ids.push((await engine.execute(quick, { inputs: { n } })).executionId);
    expect(await store.getExecution(ids[0]!)).toBeUndefined();
    expect(await store.getExecution(ids[1]!)).toBeUndefined();
    expect(await store.readJournal(ids[1]!)).toEqual([]);
    for (const id of ids.slice(2)) {
      expect((await store.getExecution(id))?.status).toBe('completed');
      expect((await store.getSteps(id)).map((s) => s.status)).toEqual(['completed']);
      expect((await store.readJournal(id)).length).toBeGreaterThan(0);
    }
    // The running one was started first but is not finished: kept.
    expect((await store.getExecution(slow.id))?.status).toBe('running');
    gate.resolve();
    expect((await slow.result).status).toBe('completed');
    await settle();
    // Now it is the newest finished one, and the oldest of the others goes.
    expect((await store.getExecution(slow.id))?.status).toBe('completed');
    expect(await store.getExecution(ids[2]!)).toBeUndefined();
    const page = await store.listExecutions({});
    expect(page.items.map((e) => e.id).sort()).toEqual([ids[3], ids[4], slow.id].sort());
  });

  it('lands the writes that follow, in one batch, an execution forgotten and written again', async () => {
    const store = createMemoryStore({ maxFinishedExecutions: 1 });
    const a = execution();
    const b = execution();
    await store.createExecution(a);
    await store.createExecution(b);
    await store.write([{ kind: 'execution', execution: { ...a, status: 'completed' } }]);
    await store.write([
      { kind: 'journal', executionId: a.id, entries: [entry(1)] },
      // B finishing forgets A (one finished kept); A is then written again, running.
      { kind: 'execution', execution: { ...b, status: 'completed' } },
      { kind: 'execution', execution: { ...a, status: 'running' } },
      { kind: 'journal', executionId: a.id, entries: [entry(2)] },
      { kind: 'step', step: step(a.id, 's') },
    ]);
    expect((await store.getExecution(a.id))?.status).toBe('running');
    expect((await store.readJournal(a.id)).map((e) => e.seq)).toEqual([2]);
    expect((await store.getSteps(a.id)).map((s) => s.stepId)).toEqual(['s']);
  });

  it('keeps each journal whole and in order while many executions journal in the same turns', async () => {
    const engine = createEngine({ registry: registryOf(agent('echo', (input) => input)) });
    const wf = compile({
      version: '1.0.0',
      metadata: { id: 'interleaved', name: 'interleaved' },
      steps: [
        { id: 'a', agent: 'echo', input: { v: '${inputs.n}' } },
        { id: 'b', agent: 'echo', input: { v: '${steps.a.output.v}' }, dependencies: ['a'] },
        { id: 'c', agent: 'echo', input: { v: '${steps.a.output.v}' }, dependencies: ['a'] },
      ],
    });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => engine.execute(wf, { inputs: { n } })),
    );
    for (const [n, r] of results.entries()) {
      expect(r.outputs).toEqual({ b: { v: n }, c: { v: n } });
      const journal = await engine.store.readJournal(r.executionId);
      expect(journal.map((j) => j.seq)).toEqual(journal.map((_, i) => i + 1));
      expect(journal.map((j) => `${j.type}${j.stepId ? ` ${j.stepId}` : ''}`)).toEqual([
        'execution.started',
        'step.started a',
        'step.completed a',
        'step.started b',
        'step.completed b',
        'step.started c',
        'step.completed c',
        'execution.completed',
      ]);
      expect(
        journal
          .filter((j) => j.stepId !== undefined)
          .map(
            (j) =>
              (j.data as { input?: { v: number } }).input?.v ??
              (j.data as { output: { v: number } }).output.v,
          ),
      ).toEqual(Array(6).fill(n));
    }
    await engine.close();
  });

  it('after a prune, still forgets the oldest finished executions beyond the bound, and only those', async () => {
    const store = createMemoryStore({ maxFinishedExecutions: 2 });
    const finish = async (finishedAt: number) => {
      const e = execution({ createdAt: finishedAt });
      await store.createExecution(e);
      await store.write([{ kind: 'execution', execution: { ...e, status: 'completed', finishedAt } }]);
      return e.id;
    };
    const a = await finish(1_000);
    const b = await finish(2_000);
    expect((await store.prune({ finishedBefore: 1_500, now: 3_000 })).executions).toBe(1);
    const c = await finish(3_000);
    expect(await store.getExecution(b)).toBeDefined();
    const d = await finish(4_000);
    expect(await store.getExecution(a)).toBeUndefined();
    expect(await store.getExecution(b)).toBeUndefined();
    expect((await store.listExecutions({})).items.map((e) => e.id).sort()).toEqual([c, d].sort());
  });

  it('keeps the 1,000 most recent finished executions by default', async () => {
    const store = createMemoryStore();
    const ids: string[] = [];
    for (let i = 0; i < 1_001; i++) {
      const e = execution({ status: 'completed', finishedAt: 2_000 });
      ids.push(e.id);
      await store.createExecution(e);
    }
    expect(await store.getExecution(ids[0]!)).toBeUndefined();
    expect((await store.getExecution(ids[1]!))?.status).toBe('completed');
    expect((await store.getExecution(ids[1_000]!))?.status).toBe('completed');
    const listed = await store.listExecutions({ limit: 1_000 });
    expect(listed.items).toHaveLength(1_000);
    expect(listed.nextCursor).toBeUndefined();
  });

  it('keeps at most 100,000 journal entries of finished executions by default', async () => {
    const store = createMemoryStore();
    const finishWith = async (entries: number) => {
      const e = execution();
      await store.createExecution(e);
      const journal = Array.from({ length: entries }, (_, i) => entry(i + 1));
      await store.write([
        { kind: 'journal', executionId: e.id, entries: journal },
        { kind: 'execution', execution: { ...e, status: 'completed', finishedAt: 2_000 } },
      ]);
      return e.id;
    };
    const first = await finishWith(50_000);
    const second = await finishWith(50_000);
    // Exactly at the bound: both kept.
    expect(await store.readJournal(first)).toHaveLength(50_000);
    const third = await finishWith(1);
    // One entry past it: the oldest goes, with its journal.
    expect(await store.getExecution(first)).toBeUndefined();
    expect(await store.readJournal(first)).toEqual([]);
    expect(await store.readJournal(second)).toHaveLength(50_000);
    expect(await store.readJournal(third)).toHaveLength(1);
  });

  it('keeps everything with maxFinishedExecutions: Infinity', async () => {
    const echo = agent('@t/echo', (input) => input);
    const store = createMemoryStore({ maxFinishedExecutions: Number.POSITIVE_INFINITY });
    const engine = createEngine({ registry: registryOf(echo), store });
    const wf = compile({ steps: [{ id: 'e', agent: '@t/echo', input: {} }] });
    for (let n = 0; n < 20; n++) await engine.execute(wf);
    expect((await store.listExecutions({ limit: 1000 })).items).toHaveLength(20);
  });

  it('forgets the oldest finished executions once their journals pass maxFinishedJournalEntries', async () => {
    const echo = agent('@t/echo', (input) => input);
    const wf = compile({ steps: [{ id: 'e', agent: '@t/echo', input: {} }] });
    // How many entries one execution journals, measured rather than assumed.
    const probe = createMemoryStore();
    const first = await createEngine({ registry: registryOf(echo), store: probe }).execute(wf);
    const perExecution = (await probe.readJournal(first.executionId)).length;

    const store = createMemoryStore({ maxFinishedJournalEntries: perExecution * 2 });
    const engine = createEngine({ registry: registryOf(echo), store });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push((await engine.execute(wf)).executionId);
    await settle();
    const kept = (await store.listExecutions({})).items.map((e) => e.id);
    // Two executions' worth of entries stay; the newest finished is always among them.
    expect(kept.sort()).toEqual(ids.slice(3).sort());
    expect(await store.readJournal(ids[0]!)).toEqual([]);
  });

  it('forgets the idempotency keys of executions it forgets: the same key then starts a new run', async () => {
    const echo = agent('@t/echo', (input) => input);
    const store = createMemoryStore({ maxFinishedExecutions: 2 });
    const engine = createEngine({ registry: registryOf(echo), store });
    const wf = compile({ steps: [{ id: 'e', agent: '@t/echo', input: {} }] });
    const start = (n: number) => engine.start(wf, { idempotencyKey: `key-${n}`, fingerprint: 'f' });
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) {
      const h = await start(n);
      await h.result;
      ids.push(h.id);
    }
    await settle();
    // Kept executions still answer their key with the same execution.
    const replay = await start(3);
    expect(replay.created).toBe(false);
    expect(replay.id).toBe(ids[3]);
    // A forgotten one's key is gone with it, so memory stays bounded and the key runs again.
    expect(await store.findIdempotency('key-0', Date.now())).toBeUndefined();
    expect(await store.findIdempotency('key-1', Date.now())).toBeUndefined();
    const again = await start(0);
    expect(again.created).toBe(true);
    expect(again.id).not.toBe(ids[0]);
    expect((await again.result).status).toBe('completed');
  });

  it('keeps a key naming a newer execution when an older one naming it is forgotten', async () => {
    const clock = createFakeClock(1_000);
    const store = createMemoryStore({ clock, maxFinishedExecutions: 1 });
    const claim = { key: 'k', fingerprint: 'f', expiresAt: 1_500 };
    const old = execution({ status: 'completed', finishedAt: 1 });
    expect((await store.createExecution(old, claim)).created).toBe(true);
    await clock.advance(500);
    // The claim expired: the key now names a new (running) execution.
    const newer = execution();
    expect((await store.createExecution(newer, { ...claim, expiresAt: 5_000 })).created).toBe(true);
    await store.createExecution(execution({ status: 'completed', finishedAt: 2 }));
    expect(await store.getExecution(old.id)).toBeUndefined();
    expect((await store.findIdempotency('k', clock.now()))?.executionId).toBe(newer.id);
  });

  it('keeps the newest finished execution even when its journal alone passes the bound', async () => {
    const echo = agent('@t/echo', (input) => input);
    const store = createMemoryStore({ maxFinishedJournalEntries: 1 });
    const engine = createEngine({ registry: registryOf(echo), store });
    const wf = compile({ steps: [{ id: 'e', agent: '@t/echo', input: {} }] });
    await engine.execute(wf);
    const last = await engine.execute(wf);
    await settle();
    expect((await store.listExecutions({})).items.map((e) => e.id)).toEqual([last.executionId]);
    expect((await engine.getResult(last.executionId))?.status).toBe('completed');
  });
});

defineOperationsContract('memory', async () => ({ store: createMemoryStore() }));

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
