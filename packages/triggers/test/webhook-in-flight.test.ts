// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * A webhook delivery still being decided, over real loopback HTTP. Its copies are answered
 * 409 (`Retry-After: 1`, a problem) by the scheduler handling it and by another scheduler on
 * the same trigger store (two `serve` processes on one database: here two schedulers, each on
 * its own connection and behind its own HTTP server). Once the first is refused (429, a
 * problem) the retry is processed as new; once it is accepted, copies are duplicates; when its
 * process dies mid-delivery, a copy is processed as new after the pending lease (60 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeClock, type FakeClock } from '@orchestr8/common';
import { createEngine, type Engine } from '@orchestr8/core';
import { openPostgresStore } from '@orchestr8/store-postgres';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { usePostgres } from '../../store-postgres/test/use-postgres.js';
import {
  createPostgresTriggerStore,
  createScheduler,
  createTriggerRouter,
  openSqliteTriggerStore,
  type TriggerStore,
} from '../src/index.js';
import { compile, gateAgent, registryOf, step } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'o8-webhook-in-flight-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pgServer = usePostgres();

/** Opens connections to one shared trigger store: each call a new one (another process's). */
type SharedStore = () => Promise<{ open(): Promise<TriggerStore>; close(): Promise<void> }>;

const sqlite: SharedStore = async () => {
  const path = join(dir, `t-${Math.random()}.db`);
  return { open: async () => openSqliteTriggerStore(path), close: async () => {} };
};
const postgres: SharedStore = async () => {
  const url = pgServer.freshSchemaUrl();
  // The executions' tables first, as serve does.
  await (await openPostgresStore({ url })).close();
  const pools: { close(): Promise<void> }[] = [];
  return {
    async open() {
      const pg = await openPostgresStore({ url });
      pools.push(pg);
      return createPostgresTriggerStore(pg);
    },
    close: async () => {
      await Promise.all(pools.map((p) => p.close()));
    },
  };
};

const T0 = Date.parse('2025-01-01T00:00:00Z');
const workflow = compile({
  steps: [step()],
  triggers: [
    {
      name: 'gh',
      webhook: { dedupeHeader: 'X-GitHub-Delivery' },
      inputs: { key: '${trigger.body.id}' },
      flow: { rateLimit: { limit: 1, per: '1m' } },
    },
  ],
});

/** A promise settled from outside. */
function latch(): { promise: Promise<void>; open(): void } {
  let open = () => {};
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

interface Node {
  url: string;
  close(): Promise<void>;
}

/** One "serve process": a scheduler on `store` behind its own HTTP server on loopback. */
async function startNode(engine: Engine, clock: FakeClock, store: TriggerStore): Promise<Node> {
  const scheduler = createScheduler({ engine, clock, store, workflows: async () => [] });
  scheduler.activate(workflow);
  const app = express();
  for (const r of createTriggerRouter({ scheduler })) app.use(r.handler);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r(undefined))),
  };
}

/** An engine whose executions start only once `gate` settles; `called` settles at the first start. */
function slowToStart(engine: Engine, gate: Promise<void>): { engine: Engine; called: Promise<void> } {
  const called = latch();
  const start: Engine['start'] = async (...args) => {
    called.open();
    await gate;
    return engine.start(...args);
  };
  return {
    engine: new Proxy(engine, { get: (t, p) => (p === 'start' ? start : Reflect.get(t, p, t)) }),
    called: called.promise,
  };
}

/** A store whose releases (a delivery refused) wait for `gate`; `called` settles at the first. */
function slowToRelease(
  store: TriggerStore,
  gate: Promise<void>,
): { store: TriggerStore; called: Promise<void> } {
  const called = latch();
  return {
    store: {
      ...store,
      async releaseDelivery(key, now, ttlMs) {
        called.open();
        await gate;
        await store.releaseDelivery?.(key, now, ttlMs);
      },
    },
    called: called.promise,
  };
}

const deliver = (node: Node, id: string) =>
  fetch(`${node.url}/hooks/wf/gh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-delivery': id },
    body: JSON.stringify({ id: '7' }),
  });

/** The answer to a copy of a delivery still in flight. */
async function expectRetryLater(res: Response, deliveryId: string): Promise<void> {
  expect(res.status).toBe(409);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await res.json()).toEqual({
    type: 'https://orchestr8.dev/problems/conflict',
    title: 'Conflict',
    status: 409,
    detail: `delivery ${deliveryId} is still being processed; retry it`,
    code: 'CONFLICT',
    deliveryId,
    instance: '/hooks/wf/gh',
  });
}

async function expectDuplicate(res: Response, deliveryId: string): Promise<void> {
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ duplicate: true, deliveryId });
}

async function expectStarted(res: Response, deliveryId: string, created = true): Promise<void> {
  expect(res.status).toBe(202);
  expect(await res.json()).toMatchObject({ status: 'started', created, deliveryId });
}

describe.each([
  ['SQLite', sqlite],
  ['PostgreSQL', postgres],
])('a webhook delivery in flight, on a %s trigger store', (_name, shared) => {
  const setup = async () => {
    const clock = createFakeClock(T0);
    const engine = createEngine({ registry: registryOf(gateAgent(true).agent), clock, random: () => 0.5 });
    const stores = await shared();
    const nodes: Node[] = [];
    const node = async (e: Engine = engine, wrap: (s: TriggerStore) => TriggerStore = (s) => s) => {
      const n = await startNode(e, clock, wrap(await stores.open()));
      nodes.push(n);
      return n;
    };
    const executions = async () => (await engine.store.listExecutions({})).items;
    const close = async () => {
      await Promise.all(nodes.map((n) => n.close()));
      await stores.close();
    };
    return { clock, engine, node, executions, close };
  };

  it('a copy is told 409 with Retry-After: 1; the first is refused with a 429 problem; the retry then runs', async () => {
    const { clock, node, executions, close } = await setup();
    const gate = latch();
    let release: Promise<void> = Promise.resolve();
    const a = await node(undefined, (s) => {
      const slow = slowToRelease(s, gate.promise);
      release = slow.called;
      return slow.store;
    });
    try {
      await expectStarted(await deliver(a, 'd-0'), 'd-0');
      // Over the rate limit: refused, and held while its claim is given back.
      const first = deliver(a, 'd-1');
      await release;
      await expectRetryLater(await deliver(a, 'd-1'), 'd-1');
      gate.open();
      const refused = await first;
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.headers.get('retry-after')).toBe('60');
      expect(await refused.json()).toEqual({
        type: 'https://orchestr8.dev/problems/rate-limited',
        title: 'Too Many Requests',
        status: 429,
        detail: "the firing was dropped: over the trigger's rate limit",
        code: 'RATE_LIMITED',
        reason: 'rate_limited',
        retryAfterMs: 60_000,
        deliveryId: 'd-1',
        instance: '/hooks/wf/gh',
      });
      await clock.advance(60_000);
      await expectStarted(await deliver(a, 'd-1'), 'd-1');
      await expectDuplicate(await deliver(a, 'd-1'), 'd-1');
      expect(await executions()).toHaveLength(2);
    } finally {
      gate.open();
      await close();
    }
  });

  it('another scheduler on the store answers a copy 409 while the first starts, and a duplicate once it started', async () => {
    const { engine, node, executions, close } = await setup();
    const gate = latch();
    const slow = slowToStart(engine, gate.promise);
    const a = await node(slow.engine);
    const b = await node();
    try {
      const first = deliver(a, 'd-1');
      await slow.called;
      await expectRetryLater(await deliver(b, 'd-1'), 'd-1');
      await expectRetryLater(await deliver(a, 'd-1'), 'd-1');
      gate.open();
      await expectStarted(await first, 'd-1');
      await expectDuplicate(await deliver(b, 'd-1'), 'd-1');
      await expectDuplicate(await deliver(a, 'd-1'), 'd-1');
      expect(await executions()).toHaveLength(1);
    } finally {
      gate.open();
      await close();
    }
  });

  it('another scheduler on the store answers a copy 409 while the first is refused, then processes the retry as new', async () => {
    const { node, executions, close } = await setup();
    const gate = latch();
    let release: Promise<void> = Promise.resolve();
    const a = await node(undefined, (s) => {
      const slow = slowToRelease(s, gate.promise);
      release = slow.called;
      return slow.store;
    });
    const b = await node();
    try {
      await expectStarted(await deliver(a, 'd-0'), 'd-0');
      const first = deliver(a, 'd-1');
      await release;
      // A 200 here would tell the sender it succeeded, and the delivery would be lost.
      await expectRetryLater(await deliver(b, 'd-1'), 'd-1');
      gate.open();
      expect((await first).status).toBe(429);
      // b's own rate limit has room: the retry starts there.
      await expectStarted(await deliver(b, 'd-1'), 'd-1');
      await expectDuplicate(await deliver(a, 'd-1'), 'd-1');
      expect(await executions()).toHaveLength(2);
    } finally {
      gate.open();
      await close();
    }
  });

  it('a copy is processed as new once the pending lease of a claim whose process hangs has expired', async () => {
    const { clock, engine, node, executions, close } = await setup();
    const gate = latch();
    const slow = slowToStart(engine, gate.promise);
    const a = await node(slow.engine);
    const b = await node();
    try {
      const first = deliver(a, 'd-1');
      await slow.called;
      await expectRetryLater(await deliver(b, 'd-1'), 'd-1');
      await clock.advance(59_999);
      await expectRetryLater(await deliver(b, 'd-1'), 'd-1');
      await clock.advance(1);
      await expectStarted(await deliver(b, 'd-1'), 'd-1');
      // The hung one wakes up: its start finds the execution b started (same idempotency key),
      // and its late decision leaves b's claim alone.
      gate.open();
      await expectStarted(await first, 'd-1', false);
      await expectDuplicate(await deliver(a, 'd-1'), 'd-1');
      expect(await executions()).toHaveLength(1);
    } finally {
      gate.open();
      await close();
    }
  });
});
