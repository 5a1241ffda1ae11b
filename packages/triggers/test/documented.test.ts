// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * Behaviour docs-site/concepts/triggers.md promises that the other tests do not already show:
 * repeated event ids, the HTTP answers of webhooks, a new version replacing the triggers,
 * and a first activation not catching anything up.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { createMemoryTriggerStore, createTriggerRouter } from '../src/index.js';
import { compile, settle, setup, step } from './helpers.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');

describe('as documented', () => {
  it('an event id sent again starts nothing new', async () => {
    const { engine, scheduler } = setup(T0, { auto: true });
    scheduler.activate(compile({ steps: [step()], triggers: [{ name: 'on', event: { name: 'order' } }] }));
    const first = await scheduler.emit({ name: 'order', id: 'evt-1', data: { key: 'a' } });
    const again = await scheduler.emit({ name: 'order', id: 'evt-1', data: { key: 'a' } });
    await settle();
    expect(first[0]!.outcome).toMatchObject({ status: 'started', created: true });
    expect(again[0]!.outcome).toMatchObject({ status: 'started', created: false });
    const items = (await engine.store.listExecutions({})).items;
    expect(items.map((e) => e.correlationId)).toEqual(['trigger:on#evt-1']);
  });

  it('a paused event trigger starts nothing; another scheduler on the store sees the pause at its next sync', async () => {
    const store = createMemoryTriggerStore();
    const doc = compile({ steps: [step()], triggers: [{ name: 'on', event: { name: 'order' } }] });
    const here = setup(T0, { auto: true, store, workflows: async () => [doc] });
    const there = setup(T0, { auto: true, store, workflows: async () => [doc] });
    await here.scheduler.sync();
    await there.scheduler.sync();
    await here.scheduler.pause('wf', 'on');
    expect(await here.scheduler.emit({ name: 'order', id: 'e1' })).toEqual([]);
    // Not yet synced: the other process still starts it.
    expect(await there.scheduler.emit({ name: 'order', id: 'e2' })).toHaveLength(1);
    await there.scheduler.sync();
    expect(await there.scheduler.emit({ name: 'order', id: 'e3' })).toEqual([]);
    await here.scheduler.resume('wf', 'on');
    expect(await here.scheduler.emit({ name: 'order', id: 'e4' })).toHaveLength(1);
    await settle();
  });

  it('a newer registered version replaces the triggers of the older one', async () => {
    let version = compile({ steps: [step()], triggers: [{ name: 'old', event: { name: 'x' } }] });
    const { scheduler } = setup(T0, { auto: true, workflows: async () => [version] });
    await scheduler.sync();
    expect((await scheduler.list()).map((t) => t.name)).toEqual(['old']);
    version = compile({
      version: '1.1.0',
      steps: [step()],
      triggers: [{ name: 'new', event: { name: 'x' } }],
    });
    await scheduler.sync();
    expect((await scheduler.list()).map((t) => `${t.name}@${t.workflowVersion}`)).toEqual(['new@1.1.0']);
  });

  it('the first activation of a schedule does not count earlier occurrences as missed', async () => {
    const { clock, engine, scheduler } = setup(T0 + 30 * 60_000, { auto: true, toleranceMs: 1000 });
    scheduler.activate(
      compile({
        steps: [step()],
        triggers: [{ name: 's', schedule: { every: '1m', overlap: 'allowAll', catchUp: { policy: 'all' } } }],
      }),
    );
    await scheduler.tick();
    await settle();
    expect((await engine.store.listExecutions({})).items).toEqual([]);
    await clock.advance(60_000);
    await scheduler.tick();
    await settle();
    expect((await engine.store.listExecutions({})).items).toHaveLength(1);
  });

  it('webhooks answer 404 when unknown, 401 unsigned without an API key, 429 when dropped, 503 when paused', async () => {
    const { scheduler } = setup(T0, { auto: true });
    scheduler.activate(
      compile({
        steps: [step()],
        triggers: [{ name: 'hook', webhook: {}, flow: { rateLimit: { limit: 1, per: '1h' } } }],
      }),
    );
    const app = express();
    for (const r of createTriggerRouter({ scheduler, apiKeys: ['k1'] })) app.use(r.handler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (path: string, key?: string) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: '{}',
      });
    try {
      const unknown = await send('/hooks/wf/nope', 'k1');
      expect(unknown.status).toBe(404);
      // Problems in the server's shape: title from the status, the path as instance.
      expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await unknown.json()).toEqual({
        type: 'https://orchestr8.dev/problems/not-found',
        title: 'Not Found',
        status: 404,
        detail: expect.any(String),
        code: 'NOT_FOUND',
        instance: '/hooks/wf/nope',
      });
      expect((await send('/hooks/wf/hook')).status).toBe(401);
      expect((await send('/hooks/wf/hook', 'k1')).status).toBe(202);
      expect((await send('/hooks/wf/hook', 'k1')).status).toBe(429);
      await scheduler.pause('wf', 'hook');
      const paused = await send('/hooks/wf/hook', 'k1');
      expect(paused.status).toBe(503);
      expect(((await paused.json()) as { code: string }).code).toBe('TRIGGER_UNAVAILABLE');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a webhook whose inputs do not render answers 422 with a problem, and starts nothing', async () => {
    const { engine, scheduler } = setup(T0, { auto: true });
    scheduler.activate(
      compile({
        steps: [step()],
        triggers: [
          { name: 'hook', webhook: { dedupeHeader: 'X-Delivery' }, inputs: { key: '${trigger.body.id}' } },
        ],
      }),
    );
    const app = express();
    for (const r of createTriggerRouter({ scheduler })) app.use(r.handler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const res = await fetch(`${url}/hooks/wf/hook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-delivery': 'd-1' },
        body: '{}',
      });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toEqual({
        type: 'https://orchestr8.dev/problems/expression',
        title: 'Unprocessable Content',
        status: 422,
        detail: expect.stringMatching(/template \$\{trigger\.body\.id\} has no value/),
        code: 'EXPRESSION',
        deliveryId: 'd-1',
        instance: '/hooks/wf/hook',
      });
      expect((await engine.store.listExecutions({})).items).toEqual([]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
