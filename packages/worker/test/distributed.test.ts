import { createEngine, createMemoryStore, type ExecutionResult } from '@orchestr8/core';
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { usePostgres } from '../../store-postgres/test/use-postgres.js';
import { createDistributedEngine, type DistributedEngine, workersRoute } from '../src/index.js';
import { agent, compile, diamond, registryOf, sleep } from './helpers.js';

const server = usePostgres();

const echo = agent('echo', (input) => input);
let flaky = 0;
const agents = [
  echo,
  agent('child', async (_input, ctx) => {
    const r = await ctx.runWorkflow(
      {
        version: '1.0.0',
        metadata: { id: 'child-wf', name: 'child' },
        steps: [{ id: 'inner', agent: 'echo', input: { from: 'child' } }],
      },
      { inputs: {} },
    );
    return { child: r.status, outputs: r.outputs };
  }),
  agent('boom', () => {
    throw Object.assign(new Error('boom'), { code: 'AGENT_FAILED' });
  }),
  agent('flaky', () => {
    if (++flaky % 3 !== 0)
      throw Object.assign(new Error('try again'), { code: 'RETRYABLE', retryable: true });
    return { ok: true };
  }),
  agent('stubborn', async (input: { ms: number }) => {
    // Ignores its abort signal.
    await new Promise((r) => setTimeout(r, input.ms));
    return { done: true };
  }),
  agent('slow', async (input: { ms: number }, ctx) => {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, input.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
    return { slept: input.ms };
  }),
];
const registry = registryOf(...agents);

let store: PostgresStore;
let engine: DistributedEngine;
afterEach(async () => {
  await engine?.shutdown({ graceMs: 100 });
  await store?.close();
});

async function setup(options: { leaseMs?: number } = {}) {
  store = await openPostgresStore({ url: server.freshSchemaUrl() });
  engine = await createDistributedEngine({
    store,
    registry,
    worker: { concurrency: 4, leaseMs: options.leaseMs ?? 5000, pollMs: 200, sweepMs: 100 },
  });
}

/** The same document on the in-process engine (memory store), for comparison. */
async function inProcess(doc: Record<string, unknown>, inputs: unknown = {}): Promise<ExecutionResult> {
  const e = createEngine({ registry, store: createMemoryStore() });
  return e.execute(compile(doc), { inputs });
}

function shape(r: ExecutionResult) {
  const steps: Record<string, unknown> = {};
  for (const [id, s] of Object.entries(r.steps)) {
    steps[id] = {
      status: s.status,
      output: s.output,
      statusReason: s.statusReason,
      skipReason: s.skipReason,
      errorCode: s.error?.code,
      aliasFor: s.aliasFor,
    };
  }
  return {
    status: r.status,
    outputs: r.outputs,
    errorCode: r.error?.code,
    statusReason: r.statusReason,
    steps,
  };
}

const documents: Record<string, Record<string, unknown>> = {
  diamond: diamond('echo'),
  'conditions, skips cascade, all_done join': {
    steps: [
      { id: 'a', agent: 'echo', input: { go: false } },
      { id: 'b', agent: 'echo', input: {}, dependencies: ['a'], condition: { if: '${steps.a.output.go}' } },
      { id: 'c', agent: 'echo', input: {}, dependencies: ['b'] },
      { id: 'd', agent: 'echo', input: { x: 1 }, dependencies: ['a'] },
      {
        id: 'join',
        agent: 'echo',
        input: { d: '${steps.d.output.x}' },
        dependencies: ['c', 'd'],
        trigger: 'all_done',
      },
    ],
  },
  'onError continue': {
    steps: [
      { id: 'a', agent: 'boom', input: {}, onError: 'continue' },
      { id: 'b', agent: 'echo', input: { after: 'a' }, dependencies: ['a'] },
    ],
  },
  'onError fail stops the rest': {
    steps: [
      { id: 'a', agent: 'echo', input: {} },
      { id: 'bad', agent: 'boom', input: {}, dependencies: ['a'] },
      { id: 'next', agent: 'echo', input: {}, dependencies: ['bad'] },
    ],
  },
  fallback: {
    steps: [
      { id: 'a', agent: 'boom', input: { v: 1 }, onError: 'fallback', fallbackStepId: 'plan-b' },
      { id: 'plan-b', agent: 'echo', input: { v: 2 } },
      { id: 'c', agent: 'echo', input: { got: '${steps.a.output.v}' }, dependencies: ['a'] },
    ],
  },
  forEach: {
    steps: [
      { id: 'list', agent: 'echo', input: { items: [1, 2, 3] } },
      {
        id: 'each',
        agent: 'echo',
        forEach: { items: '${steps.list.output.items}', concurrency: 2 },
        input: { n: '${item}', i: '${index}' },
        dependencies: ['list'],
      },
    ],
  },
  'a sub-workflow run by a step': {
    steps: [
      {
        id: 'parent',
        agent: 'child',
        input: {},
      },
    ],
  },
  'outputs that cannot be rendered': {
    steps: [{ id: 'a', agent: 'echo', input: {} }],
    outputs: { v: '${steps.a.output.missing.deeper}' },
  },
};

describe('distributed execution matches the in-process engine', () => {
  for (const [name, doc] of Object.entries(documents)) {
    it(name, async () => {
      await setup();
      const expected = await inProcess(doc, { n: 7 });
      const actual = await engine.execute(compile(doc), { inputs: { n: 7 } });
      expect(shape(actual)).toEqual(shape(expected));
    });
  }
});

describe('distributed execution', () => {
  it('retries inside the worker and records the attempts', async () => {
    await setup();
    flaky = 0;
    const r = await engine.execute(
      compile({
        steps: [{ id: 'f', agent: 'flaky', input: {} }],
        policies: { resilience: { retry: { maxAttempts: 3, baseDelayMs: '1ms', maxDelayMs: '2ms' } } },
      }),
    );
    expect(r.status).toBe('completed');
    expect(r.steps.f!.attempts).toBe(3);
  });

  it('journals every step once, in seq order without gaps', async () => {
    await setup();
    const r = await engine.execute(compile(diamond('echo')), { inputs: { n: 3 } });
    expect(r.outputs).toEqual({ v: 3 });
    const journal = await store.readJournal(r.executionId);
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
    expect(journal[0]!.type).toBe('execution.started');
    expect(journal.at(-1)!.type).toBe('execution.completed');
    const started = journal.filter((e) => e.type === 'step.started').map((e) => e.stepId);
    const completed = journal.filter((e) => e.type === 'step.completed').map((e) => e.stepId);
    expect(started.sort()).toEqual(['a', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'z']);
    expect(completed.sort()).toEqual(started.sort());
  });

  it('publishes the start of a long step before it finishes, once', async () => {
    await setup();
    const h = await engine.start(compile({ steps: [{ id: 'wait', agent: 'slow', input: { ms: 1200 } }] }));
    await sleep(600);
    const early = await store.readJournal(h.id);
    expect(early.map((e) => e.type)).toEqual(['execution.started', 'step.started']);
    const r = await h.result;
    expect(r.status).toBe('completed');
    const journal = await store.readJournal(h.id);
    expect(journal.map((e) => e.type)).toEqual([
      'execution.started',
      'step.started',
      'step.completed',
      'execution.completed',
    ]);
    expect(journal.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('cancels an execution: running steps are aborted, the rest never start', async () => {
    await setup();
    const h = await engine.start(
      compile({
        steps: [
          { id: 'wait', agent: 'slow', input: { ms: 10_000 } },
          { id: 'after', agent: 'echo', input: {}, dependencies: ['wait'] },
        ],
      }),
    );
    await sleep(300);
    expect(engine.cancel(h.id, { reason: 'by test' })).toBe(true);
    const r = await h.result;
    expect(r.status).toBe('cancelled');
    expect(r.statusReason).toBe('by test');
    expect(r.steps.wait!.status).toBe('cancelled');
    expect(r.steps.after!.status).toBe('cancelled');
  });

  it('honours a cancel request recorded by another process (orchestr8 cancel)', async () => {
    await setup();
    const h = await engine.start(compile({ steps: [{ id: 'wait', agent: 'slow', input: { ms: 10_000 } }] }));
    await sleep(200);
    expect(await store.requestCancel(h.id, 'from the CLI', Date.now())).toBe('requested');
    const r = await h.result;
    expect(r.status).toBe('cancelled');
    expect(r.statusReason).toBe('from the CLI');
  });

  it('fails an execution past its global timeout', async () => {
    await setup();
    const r = await engine.execute(
      compile({
        steps: [{ id: 'wait', agent: 'slow', input: { ms: 10_000 } }],
        policies: { timeout: { global: '300ms' } },
      }),
    );
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('TIMEOUT');
    expect(r.steps.wait!.status).toBe('cancelled');
  });

  it('starts one execution for one idempotency key, and refuses the key for another request', async () => {
    await setup();
    const wf = compile(diamond('echo'));
    const [a, b] = await Promise.all([
      engine.start(wf, { idempotencyKey: 'k1', inputs: { n: 1 } }),
      engine.start(wf, { idempotencyKey: 'k1', inputs: { n: 1 } }),
    ]);
    expect(a.id).toBe(b.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    await expect(
      engine.start(compile(diamond('echo', 'other')), { idempotencyKey: 'k1' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect((await a.result).status).toBe('completed');
    expect(await store.isDistributed(a.id)).toBe(true);
  });
});

describe('stopping and leases', () => {
  it('stops steps running elsewhere when a step fails with onError fail', async () => {
    await setup();
    const t0 = Date.now();
    const r = await engine.execute(
      compile({
        steps: [
          { id: 'slow', agent: 'slow', input: { ms: 10_000 } },
          { id: 'bad', agent: 'slow', input: { ms: 200 } },
          { id: 'boom', agent: 'boom', input: {}, dependencies: ['bad'] },
          { id: 'after', agent: 'echo', input: {}, dependencies: ['slow'] },
        ],
      }),
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.status, JSON.stringify(r, null, 1)).toBe('failed');
    expect(r.statusReason).toMatch(/step "boom" failed/);
    expect(r.steps.slow!.status).toBe('cancelled');
    expect(r.steps.after!.status).toBe('cancelled');
    const journal = await store.readJournal(r.executionId);
    expect(journal.filter((e) => e.type === 'execution.cancelling')).toHaveLength(1);
    expect(journal.at(-1)!.type).toBe('execution.failed');
  });

  it('records a step that ignores its abort as cancelled after the grace period', async () => {
    await setup();
    const h = await engine.start(
      compile({
        steps: [{ id: 'deaf', agent: 'stubborn', input: { ms: 3000 } }],
        policies: { cancellation: { gracePeriodMs: '200ms' } },
      }),
    );
    await sleep(300);
    const t0 = Date.now();
    engine.cancel(h.id, { reason: 'now' });
    const r = await h.result;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.status).toBe('cancelled');
    expect(r.steps.deaf).toMatchObject({
      status: 'cancelled',
      statusReason: 'did not stop within the grace period',
    });
  });

  it('drops the result of a step whose lease another worker took, and commits the other run once', async () => {
    await setup({ leaseMs: 600 });
    const h = await engine.start(compile({ steps: [{ id: 'wait', agent: 'slow', input: { ms: 1000 } }] }));
    await sleep(300);
    // As if the lease had expired and another worker had claimed the step.
    await store.query('steal', "UPDATE tasks SET lease_owner = 'thief' WHERE execution_id = $1", [h.id]);
    await sleep(700); // the heartbeat notices, the first run's result is refused
    expect((await store.getExecution(h.id))!.status).toBe('running');
    // The thief dies too: its lease expires and the step runs again here.
    await store.query('expire', 'UPDATE tasks SET lease_expires_at = 0 WHERE execution_id = $1', [h.id]);
    const r = await h.result;
    expect(r.status).toBe('completed');
    const journal = await store.readJournal(h.id);
    expect(journal.filter((e) => e.type === 'step.completed')).toHaveLength(1);
  });
});

describe('executions an in-process engine left running', () => {
  it('are handed to the workers by resumeAll, and finish there', async () => {
    await setup();
    const local = createEngine({ registry, store });
    const wf = compile({
      steps: [
        { id: 'a', agent: 'echo', input: { v: 7 } },
        { id: 'wait', agent: 'slow', input: { ms: 600 }, dependencies: ['a'] },
        { id: 'z', agent: 'echo', input: { v: '${steps.a.output.v}' }, dependencies: ['wait'] },
      ],
      outputs: { v: '${steps.z.output.v}' },
    });
    const h = await local.start(wf);
    await sleep(200);
    // As if its process died: the execution stays `running` in the store.
    await local.shutdown({ graceMs: 0 });
    expect((await store.getExecution(h.id))!.status).toBe('running');
    expect(await store.isDistributed(h.id)).toBe(false);

    const resumed = await engine.resumeAll();
    expect(resumed.map((x) => x.id)).toEqual([h.id]);
    const r = await resumed[0]!.result;
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ v: 7 });
    expect(await store.isDistributed(h.id)).toBe(true);
    const journal = await store.readJournal(h.id);
    expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i + 1));
    expect(journal.filter((e) => e.type === 'step.completed').map((e) => e.stepId)).toEqual([
      'a',
      'wait',
      'z',
    ]);
    expect(journal.some((e) => e.type === 'execution.resumed')).toBe(true);
    // Adopted once: a second call finds it the workers'.
    expect(await engine.resumeAll()).toEqual([]);
  });
});

describe('API instances', () => {
  it('deliver the events of executions run by workers to subscribers of another instance', async () => {
    await setup();
    const other = await createDistributedEngine({ store, registry });
    try {
      const seen: string[] = [];
      other.events.subscribe((e) => {
        seen.push(`${e.seq} ${e.type}${e.stepId ? ` ${e.stepId}` : ''}`);
      });
      const r = await engine.execute(compile(diamond('echo')), { inputs: { n: 2 } });
      for (let i = 0; i < 200 && !seen.some((x) => x.endsWith('execution.completed')); i++) await sleep(10);
      const journal = await store.readJournal(r.executionId);
      expect(seen, seen.join(' | ')).toEqual(
        journal.map((e) => `${e.seq} ${e.type}${e.stepId ? ` ${e.stepId}` : ''}`),
      );
    } finally {
      await other.shutdown();
    }
  });

  it('see the results of executions another instance started (idempotent replays too)', async () => {
    await setup();
    const other = await createDistributedEngine({ store, registry });
    try {
      const wf = compile(diamond('echo'));
      const first = await engine.start(wf, { idempotencyKey: 'shared', inputs: { n: 5 } });
      const again = await other.start(wf, { idempotencyKey: 'shared', inputs: { n: 5 } });
      expect(again).toMatchObject({ id: first.id, created: false });
      expect((await again.result).outputs).toEqual({ v: 5 });
      expect((await other.getResult(first.id))!.status).toBe('completed');
    } finally {
      await other.shutdown();
    }
  });

  it('serve GET /workers with the live workers and what they run', async () => {
    await setup();
    const h = await engine.start(compile({ steps: [{ id: 'wait', agent: 'slow', input: { ms: 2000 } }] }));
    await sleep(200);
    let body: any;
    const route = workersRoute(store);
    expect(route).toMatchObject({ method: 'get', path: '/workers' });
    await route.handler({}, { json: (b: unknown) => (body = b) });
    expect(body.workers).toHaveLength(1);
    expect(body.workers[0]).toMatchObject({ queues: ['default'], concurrency: 4 });
    expect(body.workers[0].running).toMatchObject([{ executionId: h.id, stepId: 'wait' }]);
    expect(body.workers[0].heartbeatAgeMs).toBeLessThan(10_000);
    expect(body.queues).toEqual([{ queue: 'default', ready: 0, leased: 1 }]);
    engine.cancel(h.id);
    await h.result;
  });
});

describe("the operator's capabilities on workers", () => {
  // A step that starts its own workflow again: each level one execution deeper.
  const recurse = agent('recurse', async (_input, ctx) => {
    const r = await ctx.runWorkflow({
      version: '1.0.0',
      metadata: { id: 'recurse' },
      steps: [{ id: 'again', agent: 'recurse', input: {} }],
    });
    if (r.status !== 'completed') throw Object.assign(new Error(r.error?.message ?? 'child failed'), r.error);
    return r.outputs;
  });

  it('stop a workflow that calls itself at maxWorkflowDepth, counting depth across workers', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    engine = await createDistributedEngine({
      store,
      registry: registryOf(recurse),
      capabilities: { maxWorkflowDepth: 3 },
      worker: { concurrency: 8, pollMs: 200, sweepMs: 100 },
    });
    const r = await engine.execute(compile({ steps: [{ id: 'again', agent: 'recurse', input: {} }] }));
    expect(r.status).toBe('failed');
    expect(JSON.stringify(r.error)).toContain('LIMIT_EXCEEDED');
    const all = await store.listExecutions({ limit: 100 });
    // The top level and three nested levels; the fourth is refused.
    expect(all.items).toHaveLength(4);
    expect(all.items.every((e) => e.status === 'failed')).toBe(true);
  });

  it('refuse a document that reads an environment variable the operator did not grant, before storing it', async () => {
    store = await openPostgresStore({ url: server.freshSchemaUrl() });
    engine = await createDistributedEngine({ store, registry, env: { APP_TOKEN: 'x' } });
    const doc = {
      context: { environment: ['APP_TOKEN'] },
      steps: [{ id: 'a', agent: 'echo', input: { t: '${env.APP_TOKEN}' } }],
    };
    await expect(engine.start(compile(doc))).rejects.toMatchObject({ code: 'CAPABILITY_DENIED' });
    expect((await store.listExecutions({ limit: 10 })).items).toHaveLength(0);
  });
});
