// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * A document's `policies.flow` over real HTTP: `POST /workflows/execute` through the
 * server with `createExecuteGate()`. A request over the concurrency limit of its key is
 * answered when its execution starts; over the rate limit or the queue, 429.
 */
import { request } from 'node:http';
import { createFakeClock } from '@orchestr8/common';
import { createEngine, type ExecutionHandle, type ExecutionResult } from '@orchestr8/core';
import { createServer, type Listener } from '@orchestr8/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createExecuteGate } from '../src/index.js';
import { compile, gateAgent, registryOf, settle } from './helpers.js';

let listener: Listener | undefined;
afterEach(async () => {
  await listener?.close({ graceMs: 0 });
  listener = undefined;
});

async function start(flow: Record<string, unknown>) {
  const { agent, gate } = gateAgent();
  const registry = registryOf(agent);
  const engine = createEngine({ registry });
  const executeGate = createExecuteGate();
  const server = createServer({ engine, registry, executeGate, rateLimit: false });
  listener = await server.listen(0, '127.0.0.1');
  const workflow = {
    version: '1.0.0',
    metadata: { id: 'limited' },
    policies: { flow },
    steps: [{ id: 'a', agent: '@test/gate', input: { key: '${inputs.key}', n: '${inputs.n ?? 0}' } }],
  };
  const url = listener.url;
  const answered: number[] = [];
  const execute = (inputs: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${url}/workflows/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workflow, inputs }),
      ...(signal ? { signal } : {}),
    }).then((r) => {
      answered.push(Number(inputs.n ?? 0));
      return r;
    });
  return { gate, execute, answered, workflow, queued: () => executeGate.stats().queued };
}

/** `expect.poll` options: `what` names the state in the failure; generous for a loaded machine. */
const waitingFor = (what: string) => ({ message: `waiting for ${what}`, timeout: 15_000, interval: 10 });

describe('policies.flow on POST /workflows/execute', () => {
  it('holds a request over the per-key concurrency limit until a slot frees, in arrival order', async () => {
    const { gate, execute, answered } = await start({ concurrency: { limit: 2, key: '${inputs.key}' } });
    const a = [1, 2, 3, 4].map((n) => execute({ key: 'a', n }));
    await expect.poll(() => gate.open, waitingFor('two of key a running')).toBe(2);
    const b = execute({ key: 'b', n: 9 });
    await expect.poll(() => gate.open, waitingFor('key b running beside them')).toBe(3);
    expect((await b).status).toBe(202);
    await expect.poll(() => answered.length, waitingFor('three answers')).toBe(3);
    // Requests 3 and 4 of key a wait: not answered, not started.
    expect(answered.sort()).toEqual([1, 2, 9]);
    expect(gate.calls).toHaveLength(3);
    gate.release();
    await expect.poll(() => gate.calls.length, waitingFor('the first waiting request starts')).toBe(4);
    expect((gate.calls[3] as { n: number }).n).toBe(3);
    // Release whatever runs until all five have run and none is left running.
    await vi.waitFor(
      () => {
        gate.releaseAll();
        expect([gate.calls.length, gate.open]).toEqual([5, 0]);
      },
      { timeout: 15_000, interval: 5 },
    );
    const responses = await Promise.all(a);
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    const ids = await Promise.all(
      responses.map(async (r) => ((await r.json()) as { executionId: string }).executionId),
    );
    expect(new Set(ids).size).toBe(4);
    expect(gate.maxOpenByKey.get('a')).toBe(2);
  });

  it('answers 429 when more requests wait than maxQueue', async () => {
    const { gate, execute } = await start({ concurrency: { limit: 1, maxQueue: 1 } });
    const first = execute({ key: 'x', n: 1 });
    await expect.poll(() => gate.open, waitingFor('the first running')).toBe(1);
    const second = execute({ key: 'x', n: 2 });
    // The second waits; a third finds the queue full.
    let third = await execute({ key: 'x', n: 3 });
    for (let i = 0; i < 50 && third.status !== 429; i++) third = await execute({ key: 'x', n: 3 });
    expect(third.status).toBe(429);
    const problem = (await third.json()) as { code: string; reason: string; detail: string };
    expect(problem).toMatchObject({ code: 'RATE_LIMITED', reason: 'queue_full' });
    expect(problem.detail).toContain('maxQueue');
    gate.releaseAll();
    await expect.poll(() => gate.calls.length, waitingFor('the second started')).toBe(2);
    gate.releaseAll();
    expect((await first).status).toBe(202);
    expect((await second).status).toBe(202);
  });

  it('answers 429 with Retry-After over the rate limit of a key; other keys go on', async () => {
    const { execute, gate } = await start({ rateLimit: { limit: 2, per: '1h', key: '${inputs.key}' } });
    expect((await execute({ key: 'a' })).status).toBe(202);
    expect((await execute({ key: 'a' })).status).toBe(202);
    const over = await execute({ key: 'a' });
    expect(over.status).toBe(429);
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(await over.json()).toMatchObject({ code: 'RATE_LIMITED', reason: 'rate_limited' });
    expect((await execute({ key: 'b' })).status).toBe(202);
    expect(gate.calls).toHaveLength(3);
    gate.releaseAll();
  });

  it('starts nothing for a waiting request whose client went away', async () => {
    const { gate, execute, workflow: doc, queued: waiting } = await start({ concurrency: { limit: 1 } });
    const first = execute({ key: 'x', n: 1 });
    await expect.poll(() => gate.open, waitingFor('the first running')).toBe(1);
    // A client of its own connection that sends a request, then closes the socket unanswered.
    const url = new URL(listener!.url);
    const body = JSON.stringify({ workflow: doc, inputs: { key: 'x', n: 2 } });
    const leaving = request({
      host: url.hostname,
      port: url.port,
      path: '/workflows/execute',
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    leaving.on('error', () => {});
    leaving.end(body);
    await expect.poll(() => waiting(), waitingFor('the request waiting')).toBe(1);
    leaving.destroy();
    // The server notices, and the request leaves the queue.
    await expect.poll(() => waiting(), waitingFor('the request gone from the queue')).toBe(0);
    const third = execute({ key: 'x', n: 3 });
    gate.release();
    await expect.poll(() => gate.calls.length, waitingFor('the next request started')).toBe(2);
    gate.releaseAll();
    expect((await first).status).toBe(202);
    expect((await third).status).toBe(202);
    expect(gate.calls.map((c) => (c as { n: number }).n)).toEqual([1, 3]);
  });

  it('refuses a document whose flow key reads what a request does not have, at its position', async () => {
    const { agent } = gateAgent();
    const registry = registryOf(agent);
    const engine = createEngine({ registry });
    const bad = (flow: unknown) => ({
      version: '1.0.0',
      metadata: { id: 'bad' },
      policies: { flow },
      steps: [{ id: 'a', agent: '@test/gate' }],
    });
    expect(() => engine.compile(bad({ concurrency: { limit: 1, key: '${trigger.time}' } }))).toThrow(
      /policies\.flow reads trigger\.time/,
    );
    try {
      engine.compile(bad({ concurrency: { limit: 1, key: '${trigger.time}' } }));
    } catch (e) {
      expect((e as { details: { pointer: string }[] }).details[0]!.pointer).toBe(
        '/policies/flow/concurrency/key',
      );
    }
    expect(() => engine.compile(bad({ debounce: '5s' }))).toThrow(/debounce/);
  });
});

describe('the rate limit of policies.flow counts executions started', () => {
  const T0 = Date.parse('2025-01-01T00:00:00Z');
  /** A gate over a fake clock; each start's execution ends when the test calls `finish(n)`. */
  function gateWith(flow: Record<string, unknown>) {
    const clock = createFakeClock(T0);
    const executeGate = createExecuteGate({ clock });
    const workflow = compile({ policies: { flow }, steps: [{ id: 'a', agent: '@test/gate' }] });
    const ends = new Map<number, () => void>();
    const started: number[] = [];
    const handleOf = (n: number): ExecutionHandle => ({
      id: `e${n}`,
      created: true,
      result: new Promise<ExecutionResult>((r) => ends.set(n, () => r({} as ExecutionResult))),
      cancel: () => {},
    });
    const send = (n: number, fail = false) =>
      executeGate({ workflow, inputs: {} }, async () => {
        if (fail) throw new Error(`start ${n} failed`);
        started.push(n);
        return handleOf(n);
      });
    const finish = async (n: number) => {
      ends.get(n)!();
      await settle();
    };
    /** What a request that is answered at once gets: started, or the reason it was refused. */
    const answer = async (n: number) => {
      const r = await send(n);
      return 'refused' in r ? r.refused : 'started';
    };
    return { clock, send, finish, answer, started };
  }

  it('a request refused for a full queue takes no slot; a queued one counts once, when admitted', async () => {
    const { clock, send, finish, answer, started } = gateWith({
      concurrency: { limit: 1, maxQueue: 1 },
      rateLimit: { limit: 3, per: '1m' },
    });
    expect(await answer(1)).toBe('started');
    const second = send(2);
    await settle();
    // 1 started, 2 waits (both took a slot at 0 s): 3 and 4 find the queue full and take none
    // (4 used to be rate_limited: 3 had taken a slot).
    expect(await answer(3)).toBe('queue_full');
    expect(await answer(4)).toBe('queue_full');
    await clock.advance(30_000);
    await finish(1);
    // 2 starts on the slot it took when it queued.
    expect(await second).toMatchObject({ id: 'e2' });
    const fifth = send(5);
    await settle();
    // 1, 2 (0 s) and 5 (30 s) fill the window; the first slots leave it at 60 s.
    const over = await send(6);
    expect(over).toMatchObject({ refused: 'rate_limited', retryAfterMs: 30_000 });
    await finish(2);
    expect(await fifth).toMatchObject({ id: 'e5' });
    expect(await answer(7)).toBe('rate_limited');
    // A slot leaves its window however long its firing waited in the queue: at 61 s only 5's is left.
    await clock.advance(31_000);
    await finish(5);
    expect(await answer(8)).toBe('started');
    const ninth = send(9);
    await settle();
    expect(await answer(10)).toBe('rate_limited');
    await finish(8);
    expect(await ninth).toMatchObject({ id: 'e9' });
    expect(started).toEqual([1, 2, 5, 8, 9]);
  });

  it('a slot taken by a queued firing leaves the window with time, not when the firing starts', async () => {
    const { clock, send, finish, answer, started } = gateWith({
      concurrency: { limit: 1, maxQueue: 10 },
      rateLimit: { limit: 2, per: '1s' },
    });
    expect(await answer(1)).toBe('started');
    const queued = [send(2)];
    await settle();
    // One execution runs for minutes; firings keep queueing as their windows pass, never refused
    // for slots that queued firings took long ago.
    for (let n = 3; n <= 5; n++) {
      await clock.advance(60_000);
      queued.push(send(n));
      await settle();
    }
    for (const n of [1, 2, 3, 4]) await finish(n);
    await Promise.all(queued);
    expect(started).toEqual([1, 2, 3, 4, 5]);
  });

  it('a start that fails gives its slot back', async () => {
    const { send, answer, started } = gateWith({ rateLimit: { limit: 1, per: '1m' } });
    await expect(send(1, true)).rejects.toThrow('start 1 failed');
    expect(await answer(2)).toBe('started');
    expect(await answer(3)).toBe('rate_limited');
    expect(started).toEqual([2]);
  });
});
