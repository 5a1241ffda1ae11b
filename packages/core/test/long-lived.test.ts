import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/index.js';
import { agent, compile, testEngine } from './helpers.js';

const echo = agent('echo', (input) => input);
const diamond = compile({
  steps: [
    { id: 'a', agent: 'echo', input: { v: '${inputs.n}' } },
    { id: 'b', agent: 'echo', input: { v: '${steps.a.output.v}' }, dependencies: ['a'] },
    { id: 'c', agent: 'echo', input: { v: '${steps.a.output.v}' }, dependencies: ['a'] },
    { id: 'z', agent: 'echo', input: { v: '${steps.b.output.v}' }, dependencies: ['b', 'c'] },
  ],
});

describe('one engine for the life of the process', () => {
  it('lets go of an AbortSignal shared by its executions once each finishes', async () => {
    const { engine } = testEngine([echo]);
    const shutdown = new AbortController();
    for (let n = 0; n < 5; n++) {
      const r = await engine.execute(diamond, { inputs: { n }, signal: shutdown.signal });
      expect(r.status).toBe('completed');
    }
    // Nothing finished stays reachable through the signal, and aborting it later touches nothing.
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    shutdown.abort();
    expect(engine.stats().executions).toBe(0);
    await engine.close();
  });

  it('still cancels a running execution through a shared AbortSignal', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = agent('slow', (_input, ctx) => {
      ctx.signal.addEventListener('abort', () => release());
      return gate;
    });
    const { engine } = testEngine([echo, slow]);
    const shutdown = new AbortController();
    await engine.execute(diamond, { inputs: { n: 1 }, signal: shutdown.signal });
    const wf = compile({ steps: [{ id: 's', agent: 'slow', input: {} }] });
    const running = engine.execute(wf, { signal: shutdown.signal });
    shutdown.abort(new Error('shutting down'));
    const r = await running;
    expect(r.status).toBe('cancelled');
    expect(r.statusReason).toBe('shutting down');
    await engine.close();
  });

  it('answers for the most recent finished executions and forgets the oldest past its store’s bound', async () => {
    const store = createMemoryStore({ maxFinishedExecutions: 3 });
    const { engine } = testEngine([echo], { store });
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) ids.push((await engine.execute(diamond, { inputs: { n } })).executionId);
    // The oldest are forgotten: no result, no journal, not listed.
    expect(await engine.getResult(ids[0]!)).toBeUndefined();
    expect(await store.readJournal(ids[4]!)).toEqual([]);
    const listed = (await store.listExecutions({ limit: 100 })).items.map((e) => e.id);
    expect(listed.sort()).toEqual(ids.slice(-3).sort());
    // The newest keep their result, steps and journal.
    const last = await engine.getResult(ids[7]!);
    expect(last?.status).toBe('completed');
    expect(last?.steps.z?.output).toEqual({ v: 7 });
    expect((await store.readJournal(ids[7]!)).at(-1)?.type).toBe('execution.completed');
    await engine.close();
    await store.close();
  });

  it('with a store that keeps no finished execution, still resolves each with its result and hands subscribers every event', async () => {
    const store = createMemoryStore({ maxFinishedExecutions: 0 });
    const { engine } = testEngine([echo], { store });
    const seen: string[] = [];
    engine.events.subscribe((e) => {
      if (e.type === 'execution.completed') seen.push(e.executionId);
    });
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      const r = await engine.execute(diamond, { inputs: { n } });
      expect(r.status).toBe('completed');
      expect(r.steps.z?.output).toEqual({ v: n });
      ids.push(r.executionId);
    }
    await engine.events.flush();
    expect(seen).toEqual(ids);
    // Nothing is kept once finished.
    expect(await engine.getResult(ids[2]!)).toBeUndefined();
    expect((await store.listExecutions({ limit: 100 })).items).toEqual([]);
    await engine.close();
    await store.close();
  });
});
