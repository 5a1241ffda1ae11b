/**
 * Waits across real worker processes on one PostgreSQL: executions wait (timers and
 * correlated events) while two workers run; one worker is SIGKILLed; the timers fire and
 * the events wake, each once. Then both workers are killed, the timers fall due with no
 * worker alive, and a worker started afterwards fires them at once, in due order. Last,
 * the same over HTTP through two API instance processes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionHandle } from '@orchestr8/core';
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PgServer, startPostgres } from '../../store-postgres/test/pg-server.js';
import { createDistributedEngine, type DistributedEngine } from '../src/index.js';
import { compile, registryOf, sleep, until } from './helpers.js';
import { type Proc, spawnFixture } from './processes.js';

const WORKER = 'packages/worker/test/fixtures/worker-process.ts';
const API = 'packages/worker/test/fixtures/api-process.ts';

let server: PgServer;
let store: PostgresStore;
let api: DistributedEngine;
let dir: string;
let log: string;
let url: string;
const procs: Proc[] = [];

const worker = async (id: string, concurrency = 4) => {
  const p = await spawnFixture(WORKER, {
    ORCHESTR8_STORE: url,
    ORCHESTR8_TEST_LOG: log,
    WORKER_ID: id,
    WORKER_CONCURRENCY: String(concurrency),
    WORKER_LEASE_MS: '4000',
    // Long: timers fire on time only because every worker hears of them when they are registered.
    WORKER_WAIT_POLL_MS: '60000',
  });
  procs.push(p);
  return p;
};

beforeAll(async () => {
  server = await startPostgres();
  url = server.freshSchemaUrl();
  dir = mkdtempSync(join(tmpdir(), 'orchestr8-waits-'));
  log = join(dir, 'calls.log');
  store = await openPostgresStore({ url });
  // The API side only: steps run on the worker processes.
  api = await createDistributedEngine({ store, registry: registryOf() });
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill().catch(() => {})));
  await api?.shutdown({ graceMs: 100 });
  await store?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** How many times `@test/work` started for each execution (its log line is written first thing). */
function workCalls(): Map<string, number> {
  const out = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').filter(Boolean)) {
    const id = line.split(' ')[0]!;
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

const allWaiting = (ids: readonly string[]) =>
  until(async () => {
    for (const id of ids) if ((await store.getExecution(id))?.status !== 'waiting') return false;
    return true;
  }, 30_000);

async function wokenOnce(h: ExecutionHandle, step: string): Promise<void> {
  const r = await h.result;
  expect(r.status).toBe('completed');
  const journal = await store.readJournal(h.id);
  expect(journal.filter((e) => e.type === 'step.woken' && e.stepId === step)).toHaveLength(1);
  expect(workCalls().get(h.id)).toBe(1);
}

const timerWorkflow = (delay: string) =>
  compile({
    steps: [
      { id: 't', wait: { timer: delay } },
      { id: 'b', agent: '@test/work', input: { v: 1 }, dependencies: ['t'] },
    ],
  });

it('loses nothing when a worker is SIGKILLed while executions wait: timers fire and events wake, once each', async () => {
  const [w1] = await Promise.all([worker('w1'), worker('w2')]);
  const events = compile({
    inputs: { type: 'object', properties: { k: { type: 'string' } } },
    steps: [
      { id: 'e', wait: { event: { name: 'order.paid', match: 'event.payload.k == inputs.k' } } },
      { id: 'b', agent: '@test/work', input: { v: 2 }, dependencies: ['e'] },
    ],
  });
  const waiting = [];
  for (let i = 0; i < 4; i++) waiting.push(await api.start(events, { inputs: { k: `k${i}` } }));
  // Started last, with time to spare: all of them wait before the first timer is due.
  const timers = [];
  for (let i = 0; i < 4; i++) timers.push(await api.start(timerWorkflow('6s')));
  await allWaiting([...timers, ...waiting].map((h) => h.id));
  await w1!.kill();
  for (let i = 0; i < 4; i++) {
    const d = await api.sendEvent({ name: 'order.paid', id: `p${i}`, payload: { k: `k${i}` } });
    expect(d).toMatchObject({ accepted: true, woken: 1 });
    // Sent again (a retried webhook): accepted once, wakes nothing more.
    expect(await api.sendEvent({ name: 'order.paid', id: `p${i}`, payload: { k: `k${i}` } })).toMatchObject({
      accepted: false,
      woken: 0,
    });
  }
  for (const h of timers) await wokenOnce(h, 't');
  for (const h of waiting) await wokenOnce(h, 'e');
}, 90_000);

it('fires timers that fell due while no worker ran, at once and in due order, after a worker starts', async () => {
  for (const p of procs) await p.kill();
  const [w] = await Promise.all([worker('w3')]);
  const handles = [];
  // Registered in reverse due order: the latest first.
  for (const delay of ['6s', '5s', '4s']) handles.push(await api.start(timerWorkflow(delay)));
  await allWaiting(handles.map((h) => h.id));
  const dues = await Promise.all(
    handles.map(async (h) => (await store.waits.listWaits({ executionId: h.id }))[0]!.dueAt!),
  );
  await w!.kill();
  // Every timer falls due with no worker alive.
  await sleep(Math.max(0, Math.max(...dues) - Date.now()) + 300);
  await worker('w4', 1);
  for (const h of handles) await wokenOnce(h, 't');
  // One at a time (concurrency 1), in the order they fell due: the earliest first.
  const wokenAt = await Promise.all(
    handles.map(async (h) => (await store.readJournal(h.id)).find((e) => e.type === 'step.woken')!.ts),
  );
  const byDue = handles.map((_, i) => i).sort((a, b) => dues[a]! - dues[b]!);
  // Entries carry millisecond times and one worker takes three timers within a few: two woken
  // in the same millisecond are in order whichever way round, so a tie counts as in due order.
  const byWoken = handles.map((_, i) => i).sort((a, b) => wokenAt[a]! - wokenAt[b]! || dues[a]! - dues[b]!);
  expect(byWoken).toEqual(byDue);
}, 90_000);

it('over HTTP on two API instances: an event (retried with the same Idempotency-Key) wakes once, an approval with an invalid form is refused, a valid one continues', async () => {
  await worker('w5');
  const [a, b] = await Promise.all([
    spawnFixture(API, { ORCHESTR8_STORE: url }),
    spawnFixture(API, { ORCHESTR8_STORE: url }),
  ]);
  procs.push(a!, b!);
  const call = (api: Proc, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api.info}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const doc = {
    version: '1.0.0',
    metadata: { id: 'refund', name: 'refund' },
    inputs: { type: 'object', properties: { order: { type: 'string' } } },
    steps: [
      {
        id: 'paid',
        wait: { event: { name: 'refund.requested', match: 'event.payload.order == inputs.order' } },
      },
      {
        id: 'ok',
        dependencies: ['paid'],
        wait: {
          approval: {
            title: 'Refund ${inputs.order}?',
            form: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
          },
        },
      },
      { id: 'b', agent: '@test/work', input: { v: '${steps.ok.output.data.amount}' }, dependencies: ['ok'] },
    ],
  };
  const started = await call(a!, '/workflows/execute', { workflow: doc, inputs: { order: 'o-1' } });
  expect(started.status).toBe(202);
  const { executionId: id } = (await started.json()) as { executionId: string };
  await allWaiting([id]);
  const headers = { 'idempotency-key': 'refund-o-1' };
  const event = { name: 'refund.requested', payload: { order: 'o-1' } };
  const first = await call(a!, '/events', event, headers);
  const again = await call(b!, '/events', event, headers);
  expect(first.status).toBe(202);
  const firstAnswer = await first.json();
  expect(firstAnswer).toMatchObject({ accepted: true, woken: 1 });
  // the retry, on the other instance, gets the first delivery's answer back (and wakes nothing more)
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(await again.json()).toEqual(firstAnswer);
  await until(async () => {
    const r = await fetch(`${b!.info}/approvals`);
    const { items } = (await r.json()) as { items: { executionId: string; title: string }[] };
    return items.some((i) => i.executionId === id && i.title === 'Refund o-1?');
  }, 30_000);
  const invalid = await call(b!, `/executions/${id}/steps/ok/approve`, {
    by: 'ann',
    data: { amount: 'ten' },
  });
  expect(invalid.status).toBe(422);
  expect(JSON.stringify(await invalid.json())).toContain('/data/amount');
  const valid = await call(a!, `/executions/${id}/steps/ok/approve`, { by: 'ann', data: { amount: 10 } });
  expect(valid.status).toBe(202);
  await until(async () => (await store.getExecution(id))?.status === 'completed', 30_000);
  const steps = await store.getSteps(id);
  expect(steps.find((s) => s.stepId === 'b')?.output).toEqual({ v: 10 });
  expect(workCalls().get(id)).toBe(1);
}, 90_000);
