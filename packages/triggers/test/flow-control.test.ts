// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { createHmac } from 'node:crypto';
import { createFakeClock } from '@orchestr8/common';
import { describe, expect, it, vi } from 'vitest';
import { FlowControl } from '../src/index.js';
import { compile, settle, setup, step } from './helpers.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const onEvent = (flow: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  compile({ steps: [step()], triggers: [{ name: 'on-order', event: { name: 'order' }, flow, ...extra }] });

describe('flow control', () => {
  it('a concurrency limit per key queues the rest: never more than the limit per key at once', async () => {
    const { scheduler, gate } = setup(T0);
    scheduler.activate(onEvent({ concurrency: { limit: 2, key: '${inputs.key}' } }));
    const outcomes = [];
    for (let i = 0; i < 100; i++)
      outcomes.push(...(await scheduler.emit({ name: 'order', data: { key: `k${i % 10}` } })));
    await settle();
    expect(outcomes.filter((o) => o.outcome.status === 'started')).toHaveLength(20);
    expect(outcomes.filter((o) => o.outcome.status === 'queued')).toHaveLength(80);
    // One finishes at a time; each frees a slot of its key for a queued one.
    await vi.waitFor(
      async () => {
        gate.release();
        await settle();
        expect([gate.calls.length, gate.open]).toEqual([100, 0]);
      },
      { timeout: 15_000, interval: 1 },
    );
    expect(Math.max(...gate.maxOpenByKey.values())).toBe(2);
  });

  it('debounce starts once after firings stop, with the last one', async () => {
    const { clock, scheduler, gate } = setup(T0, { auto: true });
    scheduler.activate(onEvent({ debounce: '5s' }));
    for (let i = 0; i < 3; i++) {
      await scheduler.emit({ name: 'order', data: { key: `n${i}` } });
      await clock.advance(4000);
    }
    await settle();
    expect(gate.calls).toEqual([]);
    await clock.advance(1000);
    await settle();
    expect(gate.calls).toEqual([{ key: 'n2' }]);
  });

  it('batching starts one execution with the batch after maxMs, or as soon as maxEvents arrive', async () => {
    const { clock, scheduler, gate, warnings } = setup(T0, { auto: true });
    scheduler.activate(
      onEvent({ batch: { maxMs: '10s', maxEvents: 3 } }, { inputs: { key: 'b', items: '${trigger.batch}' } }),
    );
    for (let i = 0; i < 4; i++) await scheduler.emit({ name: 'order', data: { n: i } });
    await settle();
    expect(warnings).toEqual([]);
    expect(gate.calls).toHaveLength(1);
    await clock.advance(10_000);
    await settle();
    expect(gate.calls).toHaveLength(2);
  });

  it('a batch of events defaults the inputs to { events: [data...] }', async () => {
    const { clock, engine, scheduler } = setup(T0, { auto: true });
    scheduler.activate(onEvent({ batch: { maxMs: '1s' } }));
    await scheduler.emit({ name: 'order', data: { n: 1 } });
    await scheduler.emit({ name: 'order', data: { n: 2 } });
    await clock.advance(1000);
    await settle();
    const [e] = (await engine.store.listExecutions({})).items;
    expect(e!.inputs).toEqual({ events: [{ n: 1 }, { n: 2 }] });
  });

  it('a rate limit per key drops firings over the limit in the window', async () => {
    const { clock, scheduler, gate } = setup(T0, { auto: true });
    scheduler.activate(onEvent({ rateLimit: { limit: 2, per: '1m', key: '${trigger.event.data.key}' } }));
    const statuses = [];
    for (const key of ['a', 'a', 'a', 'b'])
      statuses.push((await scheduler.emit({ name: 'order', data: { key } }))[0]!.outcome.status);
    expect(statuses).toEqual(['started', 'started', 'dropped', 'started']);
    await clock.advance(60_000);
    expect((await scheduler.emit({ name: 'order', data: { key: 'a' } }))[0]!.outcome.status).toBe('started');
    await settle();
    expect(gate.calls).toHaveLength(4);
  });

  it('a new version of the workflow keeps what its trigger runs and queues: the limit still holds, nothing queued is lost', async () => {
    const { scheduler, gate, warnings } = setup(T0);
    const flow = { concurrency: { limit: 1 } };
    scheduler.activate(onEvent(flow));
    const first = await scheduler.emit({ name: 'order', data: { key: 'k', n: 1 } });
    const second = await scheduler.emit({ name: 'order', data: { key: 'k', n: 2 } });
    expect([first[0]!.outcome.status, second[0]!.outcome.status]).toEqual(['started', 'queued']);
    // Registered again as a new version while one execution runs and one firing waits.
    const v2 = compile({
      version: '1.0.1',
      steps: [step()],
      triggers: [{ name: 'on-order', event: { name: 'order' }, flow }],
    });
    expect(v2.hash).not.toBe(onEvent(flow).hash);
    scheduler.activate(v2);
    const third = await scheduler.emit({ name: 'order', data: { key: 'k', n: 3 } });
    expect(third[0]!.outcome.status).toBe('queued');
    await vi.waitFor(
      async () => {
        gate.release();
        await settle();
        expect([gate.calls.length, gate.open]).toEqual([3, 0]);
      },
      { timeout: 15_000, interval: 1 },
    );
    expect(gate.maxOpenByKey.get('k')).toBe(1);
    expect(warnings).toEqual([]);
  });

  it("queued firings start with the new version's inputs, and all at once when it drops the limit", async () => {
    const { scheduler, gate, warnings } = setup(T0);
    const version = (v: string, inputs: Record<string, unknown>, flow?: Record<string, unknown>) =>
      compile({
        version: v,
        steps: [step()],
        triggers: [{ name: 'on-order', event: { name: 'order' }, inputs, ...(flow ? { flow } : {}) }],
      });
    scheduler.activate(version('1.0.0', { key: 'old' }, { concurrency: { limit: 1 } }));
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await scheduler.emit({ name: 'order', data: {} }))[0]!.outcome.status);
    expect(statuses).toEqual(['started', 'queued', 'queued']);
    await settle();
    // No flow control in the new version: both waiting firings start now, as it renders them.
    scheduler.activate(version('1.1.0', { key: 'new' }));
    await settle();
    expect(gate.calls).toEqual([{ key: 'old' }, { key: 'new' }, { key: 'new' }]);
    expect((await scheduler.list())[0]).toMatchObject({ queued: 0 });
    gate.releaseAll();
    await settle();
    expect(warnings).toEqual([]);
  });

  it('new limits (POST /workflows/execute flow) start the waiting firings they allow: all when the limit goes', async () => {
    const started: string[] = [];
    const flow = new FlowControl({
      flow: { concurrency: { limit: 1, maxQueue: 10 } } as never,
      clock: createFakeClock(T0),
      prepare: () => ({ inputs: {}, concurrencyKey: '', rateKey: '' }),
      start: async (ctx) => {
        started.push(ctx.name);
        return { executionId: ctx.name, created: true, done: new Promise(() => {}) };
      },
    });
    const fire = (name: string) => flow.submit({ name, kind: 'manual', time: '', timestamp: T0 });
    expect((await Promise.all(['a', 'b', 'c', 'd'].map(fire))).map((o) => o.status)).toEqual([
      'started',
      'queued',
      'queued',
      'queued',
    ]);
    flow.update({ concurrency: { limit: 2, maxQueue: 10 } } as never);
    await settle();
    expect(started).toEqual(['a', 'b']);
    flow.update(undefined);
    await settle();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(flow.stats().queued).toBe(0);
  });

  it('stopping, or a version without the trigger, warns how many waiting firings it discarded', async () => {
    const { scheduler, gate, warnings } = setup(T0);
    scheduler.activate(onEvent({ concurrency: { limit: 1 } }));
    for (let i = 0; i < 3; i++) await scheduler.emit({ name: 'order', data: {} });
    scheduler.activate(compile({ version: '1.1.0', steps: [step()] }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^pending trigger firings discarded \(the trigger is not in version 1\.1\.0 of the workflow\)/,
    );
    expect(JSON.parse(warnings[0]!.slice(warnings[0]!.indexOf('{')))).toEqual({
      workflowId: 'wf',
      trigger: 'on-order',
      queued: 2,
      debounced: 0,
      batched: 0,
    });
    gate.releaseAll();
    const batching = setup(T0);
    batching.scheduler.activate(onEvent({ batch: { maxMs: '1m', maxEvents: 10 } }));
    for (let i = 0; i < 4; i++) await batching.scheduler.emit({ name: 'order', data: { n: i } });
    await batching.scheduler.stop();
    expect(batching.warnings).toHaveLength(1);
    expect(batching.warnings[0]).toMatch(/^pending trigger firings discarded \(the scheduler stopped\)/);
    expect(batching.warnings[0]).toContain('"batched":4');
  });

  it('a firing whose inputs do not render is logged and counted as failed, not only answered', async () => {
    const { engine, scheduler, warnings } = setup(T0, { auto: true });
    scheduler.activate(
      compile({
        steps: [step()],
        triggers: [
          { name: 'on-order', event: { name: 'order' }, inputs: { key: '${trigger.event.data.id}' } },
        ],
      }),
    );
    const [r] = await scheduler.emit({ name: 'order', id: 'evt-9', data: {} });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^trigger firing not started /);
    expect(JSON.parse(warnings[0]!.slice('trigger firing not started '.length))).toMatchObject({
      workflowId: 'wf',
      trigger: 'on-order',
      eventId: 'evt-9',
      status: 'failed',
      error: expect.stringMatching(/template \$\{trigger\.event\.data\.id\} has no value/),
    });
    expect((await scheduler.list())[0]).toMatchObject({ dropped: 0, failed: 1 });
    expect(r!.outcome).toMatchObject({ status: 'failed', code: 'EXPRESSION' });
    expect((await engine.store.listExecutions({})).items).toEqual([]);
  });

  it('an event condition decides which events start an execution', async () => {
    const { scheduler, gate } = setup(T0, { auto: true });
    scheduler.activate(
      compile({
        steps: [step()],
        triggers: [{ name: 'big', event: { name: 'order', condition: 'trigger.event.data.amount > 100' } }],
      }),
    );
    expect(await scheduler.emit({ name: 'order', data: { amount: 5 } })).toEqual([]);
    expect(await scheduler.emit({ name: 'other', data: { amount: 500 } })).toEqual([]);
    expect((await scheduler.emit({ name: 'order', data: { amount: 500 } }))[0]!.outcome.status).toBe(
      'started',
    );
    await settle();
    expect(gate.calls).toEqual([{ key: '' }]);
  });
});

describe('a webhook', () => {
  const hook = (webhook: Record<string, unknown>) =>
    compile({
      steps: [step()],
      context: { secretRefs: { hook: { env: 'HOOK_SECRET' } } },
      triggers: [
        {
          name: 'gh',
          webhook,
          inputs: { key: '${trigger.body.id}', event: '${trigger.headers.x-event ?? null}' },
        },
      ],
    });
  const sign = (body: string) => `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`;
  const granted = {
    env: { HOOK_SECRET: 's3cret' },
    allowEnv: (n: string) => n === 'HOOK_SECRET',
    capabilities: { env: ['HOOK_SECRET'] },
  };

  it('with a valid signature starts an execution with the mapped body and headers', async () => {
    const { engine, scheduler } = setup(T0, { auto: true, ...granted });
    scheduler.activate(hook({ signature: { secret: 'hook' } }));
    const body = '{"id":"42"}';
    const r = await scheduler.webhook('wf', 'gh', {
      rawBody: Buffer.from(body),
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body), 'x-event': 'push' },
    });
    expect(r).toMatchObject({ status: 202, outcome: { status: 'started' } });
    await settle();
    expect((await engine.store.listExecutions({})).items[0]!.inputs).toEqual({ key: '42', event: 'push' });
  });

  it('with a bad or missing signature is refused and starts nothing', async () => {
    const { engine, scheduler } = setup(T0, { auto: true, ...granted });
    scheduler.activate(hook({ signature: { secret: 'hook', header: 'X-Sig' } }));
    const rawBody = Buffer.from('{"id":"1"}');
    expect(
      (await scheduler.webhook('wf', 'gh', { rawBody, headers: { 'x-sig': sign('{"id":"2"}') } })).status,
    ).toBe(401);
    expect((await scheduler.webhook('wf', 'gh', { rawBody, headers: {} })).status).toBe(401);
    expect((await engine.store.listExecutions({})).items).toEqual([]);
  });

  it('says which: a signature header that is missing, malformed, or does not match', async () => {
    const { scheduler } = setup(T0, { auto: true, ...granted });
    scheduler.activate(hook({ signature: { secret: 'hook' } }));
    const rawBody = Buffer.from('{"id":"1"}');
    const reason = async (headers: Record<string, string>) =>
      ((await scheduler.webhook('wf', 'gh', { rawBody, headers })) as { reason: string }).reason;
    expect(await reason({})).toBe('the X-Hub-Signature-256 signature is missing');
    expect(await reason({ 'x-hub-signature-256': 'sha256=abc' })).toBe(
      'the X-Hub-Signature-256 signature is not of the form [sha256=]<64 hex digits>',
    );
    expect(await reason({ 'x-hub-signature-256': sign('{"id":"2"}') })).toBe(
      'the X-Hub-Signature-256 signature does not match the body',
    );
  });

  it('whose secret the operator did not grant answers 503 and starts nothing', async () => {
    const { scheduler } = setup(T0, { auto: true, env: { HOOK_SECRET: 's3cret' } });
    scheduler.activate(hook({ signature: { secret: 'hook' } }));
    const body = '{}';
    const r = await scheduler.webhook('wf', 'gh', {
      rawBody: Buffer.from(body),
      headers: { 'x-hub-signature-256': sign(body) },
    });
    expect(r.status).toBe(503);
  });

  it('a replayed delivery id starts nothing new', async () => {
    const { engine, scheduler } = setup(T0, { auto: true, capabilities: { env: ['HOOK_SECRET'] } });
    scheduler.activate(hook({ dedupeHeader: 'X-GitHub-Delivery' }));
    const req = {
      rawBody: Buffer.from('{"id":"7"}'),
      headers: { 'content-type': 'application/json', 'x-github-delivery': 'd-1' },
    };
    expect((await scheduler.webhook('wf', 'gh', req)).status).toBe(202);
    expect(await scheduler.webhook('wf', 'gh', req)).toEqual({
      status: 200,
      duplicate: true,
      deliveryId: 'd-1',
    });
    const again = { ...req, headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' } };
    expect((await scheduler.webhook('wf', 'gh', again)).status).toBe(202);
    expect((await scheduler.webhook('wf', 'gh', again)).status).toBe(200);
    await settle();
    expect((await engine.store.listExecutions({})).items).toHaveLength(2);
  });
  describe('signed the Stripe way (t=...,v1=...)', () => {
    const stripe = (t: number, body: string, secret = 's3cret') =>
      createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    const seconds = (ms: number) => Math.floor(ms / 1000);

    it('starts an execution for a valid signature in Stripe-Signature, also when a later v1 matches', async () => {
      const { engine, scheduler } = setup(T0, { auto: true, ...granted });
      scheduler.activate(hook({ signature: { secret: 'hook', scheme: 'stripe' } }));
      const body = '{"id":"evt_1"}';
      const t = seconds(T0) - 30;
      const r = await scheduler.webhook('wf', 'gh', {
        rawBody: Buffer.from(body),
        headers: {
          'content-type': 'application/json',
          // As during a secret rotation: one v1 per secret, one of them current.
          'stripe-signature': `t=${t},v1=${stripe(t, body, 'old')},v1=${stripe(t, body)}`,
        },
      });
      expect(r).toMatchObject({ status: 202, outcome: { status: 'started' } });
      await settle();
      expect((await engine.store.listExecutions({})).items).toHaveLength(1);
    });

    it("de-duplicates a delivery sent again by its event's id, as a delivery id", async () => {
      const { engine, scheduler } = setup(T0, { auto: true, ...granted });
      scheduler.activate(hook({ signature: { secret: 'hook', scheme: 'stripe' } }));
      const t = seconds(T0) - 10;
      const deliver = (body: string, extra: Record<string, string> = {}) =>
        scheduler.webhook('wf', 'gh', {
          rawBody: Buffer.from(body),
          headers: {
            'content-type': 'application/json',
            'stripe-signature': `t=${t},v1=${stripe(t, body)}`,
            ...extra,
          },
        });
      const body = '{"id":"evt_3","type":"charge.succeeded"}';
      expect(await deliver(body)).toMatchObject({
        status: 202,
        outcome: { status: 'started' },
        deliveryId: 'evt_3',
      });
      // The same genuine delivery again, within the tolerance.
      expect(await deliver(body)).toEqual({ status: 200, duplicate: true, deliveryId: 'evt_3' });
      // Replayed with a fresh Idempotency-Key (unsigned): the signed event id still decides.
      expect(await deliver(body, { 'idempotency-key': 'fresh-1' })).toEqual({
        status: 200,
        duplicate: true,
        deliveryId: 'evt_3',
      });
      expect((await deliver('{"id":"evt_4"}')).status).toBe(202);
      // Without a string id in the body there is nothing to de-duplicate by.
      expect(await deliver('{"id":5}')).toEqual({
        status: 202,
        outcome: expect.objectContaining({ status: 'started' }),
      });
      expect((await deliver('{"id":5}')).status).toBe(202);
      await settle();
      const items = (await engine.store.listExecutions({})).items;
      expect(items).toHaveLength(4);
      expect(items.map((e) => e.correlationId)).toContain('trigger:gh#evt_3');
    });

    it('refuses a replay older than the tolerance, a wrong signature and a malformed header; nothing starts', async () => {
      const { engine, scheduler } = setup(T0, { auto: true, ...granted });
      scheduler.activate(hook({ signature: { secret: 'hook', scheme: 'stripe', tolerance: '2m' } }));
      const body = '{"id":"evt_2"}';
      const send = async (value: string) =>
        scheduler.webhook('wf', 'gh', { rawBody: Buffer.from(body), headers: { 'stripe-signature': value } });
      const old = seconds(T0) - 3 * 60;
      const stale = await send(`t=${old},v1=${stripe(old, body)}`);
      expect(stale).toMatchObject({ status: 401 });
      expect((stale as { reason: string }).reason).toMatch(/timestamp more than 120 s from now/);
      const now = seconds(T0);
      const wrong = await send(`t=${now},v1=${stripe(now, '{"id":"other"}')}`);
      expect((wrong as { reason: string }).reason).toMatch(/does not match/);
      // The timestamp is part of what is signed: moving it breaks the signature.
      expect((await send(`t=${now},v1=${stripe(old, body)}`)).status).toBe(401);
      const malformed = await send(stripe(now, body));
      expect((malformed as { reason: string }).reason).toMatch(/t=<timestamp>,v1=<signature>/);
      expect((await scheduler.webhook('wf', 'gh', { rawBody: Buffer.from(body), headers: {} })).status).toBe(
        401,
      );
      expect((await engine.store.listExecutions({})).items).toEqual([]);
      // Within the tolerance it is accepted.
      const recent = seconds(T0) - 60;
      expect((await send(`t=${recent},v1=${stripe(recent, body)}`)).status).toBe(202);
    });
  });
});
