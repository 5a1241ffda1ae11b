import { createFakeClock, type FakeClock, RetryableError, TerminalError } from '@orchestr8/common';
import { describe, expect, it } from 'vitest';
import {
  type Agent,
  createMemoryStore,
  type Engine,
  type ExecutionResult,
  type Store,
} from '../src/index.js';
import { agent, compile, dataOf, entriesOf, journalOf, testEngine } from './helpers.js';

const breaker = { failureThreshold: 2, resetTimeoutMs: 1000 };

/** One step calling `agentId` with a circuit breaker and no retry. */
function callWorkflow(stepId = 'call', workflowId = 'caller', agentId = '@t/api', input: unknown = {}) {
  return compile({
    metadata: { id: workflowId, name: workflowId },
    steps: [
      { id: stepId, agent: agentId, input, policies: { circuitBreaker: breaker, retry: { maxAttempts: 1 } } },
    ],
  });
}

/** A dependency that answers 503 until `healthy` is set. */
function api(id = '@t/api') {
  const state = { healthy: false, calls: 0 };
  const a = agent(id, () => {
    state.calls++;
    if (!state.healthy) throw new RetryableError('503 from upstream', { code: 'HTTP_5XX' });
    return { ok: true };
  });
  return { state, agent: a };
}

function setup(agents: Agent[], opts: { clock?: FakeClock; store?: Store } = {}) {
  const clock = opts.clock ?? createFakeClock();
  const store = opts.store ?? createMemoryStore({ clock });
  return { ...testEngine(agents, { clock, store }), store };
}

async function failTimes(engine: Engine, n: number, wf = callWorkflow()): Promise<ExecutionResult[]> {
  const out: ExecutionResult[] = [];
  for (let i = 0; i < n; i++) out.push(await engine.execute(wf));
  return out;
}

describe('circuit breaker', () => {
  it('opens after failureThreshold failures across executions, then fails later executions fast with CIRCUIT_OPEN', async () => {
    const dep = api();
    const { engine } = setup([dep.agent]);
    const [first, second] = await failTimes(engine, 2);
    expect([first!.steps.call!.error!.code, second!.steps.call!.error!.code]).toEqual([
      'HTTP_5XX',
      'HTTP_5XX',
    ]);
    expect(engine.breakers.state('@t/api')).toBe('open');

    const rejected = await engine.execute(callWorkflow());
    expect(dep.state.calls).toBe(2);
    expect(rejected.status).toBe('failed');
    expect(rejected.steps.call!.error!.code).toBe('CIRCUIT_OPEN');
    expect(rejected.error!.code).toBe('CIRCUIT_OPEN');
    const j = await journalOf(engine, rejected.executionId);
    expect(entriesOf(j, 'circuit.rejected', 'call').map(dataOf)).toEqual([
      { key: '@t/api', retryAfterMs: 1000 },
    ]);

    // Another workflow and step calling the same agent share the circuit.
    const other = await engine.execute(callWorkflow('fetch', 'other-workflow'));
    expect(other.steps.fetch!.error!.code).toBe('CIRCUIT_OPEN');
    expect(dep.state.calls).toBe(2);
  });

  it('journals circuit.opened in the execution whose failure opened the circuit', async () => {
    const dep = api();
    const { engine } = setup([dep.agent]);
    const [first, second] = await failTimes(engine, 2);
    expect(entriesOf(await journalOf(engine, first!.executionId), 'circuit.opened')).toEqual([]);
    const opened = entriesOf(await journalOf(engine, second!.executionId), 'circuit.opened');
    expect(opened.map((e) => [e.stepId, dataOf(e).key])).toEqual([['call', '@t/api']]);
  });

  it('stops retrying once the circuit opens, journalling circuit.opened then circuit.rejected', async () => {
    const dep = api();
    const { engine, clock } = setup([dep.agent]);
    const wf = compile({
      steps: [
        {
          id: 'call',
          agent: '@t/api',
          input: {},
          policies: { circuitBreaker: breaker, retry: { maxAttempts: 5, baseDelayMs: 10, jitter: 'none' } },
        },
      ],
    });
    const handle = await engine.start(wf);
    await clock.runAll();
    const r = await handle.result;
    expect(dep.state.calls).toBe(2);
    expect(r.steps.call!.error).toMatchObject({ code: 'CIRCUIT_OPEN' });
    const types = (await journalOf(engine, r.executionId)).map((e) => e.type);
    const opened = types.indexOf('circuit.opened');
    expect(opened).toBeGreaterThan(-1);
    expect(types.indexOf('circuit.rejected')).toBeGreaterThan(opened);
  });

  it('lets one probe through after resetTimeoutMs and closes the circuit when it succeeds', async () => {
    const dep = api();
    const { engine, clock, store } = setup([dep.agent]);
    await failTimes(engine, 2);
    dep.state.healthy = true;
    await clock.advance(999);
    const early = await engine.execute(callWorkflow());
    expect(early.steps.call!.error).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 1 });
    expect(dep.state.calls).toBe(2);

    await clock.advance(1);
    const probe = await engine.execute(callWorkflow());
    expect(probe.status).toBe('completed');
    expect(dep.state.calls).toBe(3);
    expect(engine.breakers.state('@t/api')).toBe('closed');
    expect(await store.loadCircuits()).toMatchObject([{ key: '@t/api', state: 'closed', failures: 0 }]);
    expect((await engine.execute(callWorkflow())).status).toBe('completed');
    expect(dep.state.calls).toBe(4);
  });

  it('journals the half-open probe and the close in the execution that probed', async () => {
    const dep = api();
    const { engine, clock } = setup([dep.agent]);
    await failTimes(engine, 2);
    dep.state.healthy = true;
    await clock.advance(1000);
    const probe = await engine.execute(callWorkflow());
    const types = (await journalOf(engine, probe.executionId)).map((e) => e.type);
    expect(types.filter((t) => t.startsWith('circuit.'))).toEqual(['circuit.half_open', 'circuit.closed']);
  });

  it('re-opens the circuit for another resetTimeoutMs when the probe fails', async () => {
    const dep = api();
    const { engine, clock } = setup([dep.agent]);
    await failTimes(engine, 2);
    await clock.advance(1000);
    const probe = await engine.execute(callWorkflow());
    expect(probe.steps.call!.error!.code).toBe('HTTP_5XX');
    expect(dep.state.calls).toBe(3);
    expect(engine.breakers.state('@t/api')).toBe('open');
    const after = await engine.execute(callWorkflow());
    expect(after.steps.call!.error).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 1000 });
    expect(dep.state.calls).toBe(3);
  });

  it('keys the circuit by agent id and target when the agent reports a target', async () => {
    const calls: string[] = [];
    const http: Agent = {
      id: '@t/http',
      target: (input: { host: string }) => input.host,
      execute: (input: { host: string }) => {
        calls.push(input.host);
        if (input.host === 'down.example')
          throw new RetryableError('connection refused', { code: 'NETWORK' });
        return { host: input.host };
      },
    };
    const { engine } = setup([http]);
    const to = (host: string) => callWorkflow('call', 'caller', '@t/http', { host });
    await failTimes(engine, 2, to('down.example'));
    expect(engine.breakers.state('@t/http|down.example')).toBe('open');
    expect(engine.breakers.state('@t/http|up.example')).toBeUndefined();
    expect((await engine.execute(to('up.example'))).status).toBe('completed');
    expect((await engine.execute(to('down.example'))).steps.call!.error!.code).toBe('CIRCUIT_OPEN');
    expect(calls).toEqual(['down.example', 'down.example', 'up.example']);
  });

  it('does not count failures that are not retryable (the dependency answered) toward opening it', async () => {
    let calls = 0;
    const picky = agent('@t/api', () => {
      calls++;
      throw new TerminalError('400 bad request', { code: 'HTTP_4XX' });
    });
    const { engine } = setup([picky]);
    const results = await failTimes(engine, 4);
    expect(results.map((r) => r.steps.call!.error!.code)).toEqual([
      'HTTP_4XX',
      'HTTP_4XX',
      'HTTP_4XX',
      'HTTP_4XX',
    ]);
    expect(calls).toBe(4);
    expect(engine.breakers.state('@t/api')).toBe('closed');
  });

  it('persists circuit state through the store, and a new engine on the same store starts with it', async () => {
    const clock = createFakeClock();
    const store = createMemoryStore({ clock });
    const depA = api();
    const a = setup([depA.agent], { clock, store }).engine;
    const openedAt = clock.now();
    await failTimes(a, 2);
    expect(await store.loadCircuits()).toMatchObject([
      { key: '@t/api', state: 'open', failures: 2, openUntil: openedAt + 1000 },
    ]);

    // A new process: its own breakers, the same store.
    const depB = api();
    const b = setup([depB.agent], { clock, store }).engine;
    const rejected = await b.execute(callWorkflow());
    expect(rejected.steps.call!.error!.code).toBe('CIRCUIT_OPEN');
    expect(depB.state.calls).toBe(0);

    await clock.advance(1000);
    depB.state.healthy = true;
    expect((await b.execute(callWorkflow())).status).toBe('completed');
    expect(depB.state.calls).toBe(1);
    expect(await store.loadCircuits()).toMatchObject([{ key: '@t/api', state: 'closed', failures: 0 }]);

    // And the next process sees it closed.
    const depC = api();
    depC.state.healthy = true;
    const c = setup([depC.agent], { clock, store }).engine;
    expect((await c.execute(callWorkflow())).status).toBe('completed');
    expect(depC.state.calls).toBe(1);
  });
});
