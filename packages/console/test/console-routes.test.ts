import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '@orchestr8/core';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, createConsoleRouters } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'o8-console-'));
const appDir = join(dir, 'app');
let base = '';
let server: Server;
const store = createMemoryStore();

beforeAll(async () => {
  mkdirSync(join(appDir, 'assets'), { recursive: true });
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(join(appDir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'not for you');
  await store.putDefinition({
    id: 'wf',
    version: '1',
    hash: 'h1',
    document: { metadata: { id: 'wf', version: '1' }, steps: [{ id: 'a', agent: 'transform' }] },
    createdAt: 1,
  });
  await store.createExecution({
    id: 'e1',
    workflowId: 'wf',
    workflowVersion: '1',
    definitionHash: 'h1',
    status: 'completed',
    inputs: { who: 'ada' },
    correlationId: 'trigger:nightly@2026',
    parentExecutionId: 'p0',
    parentStepId: 'call',
    createdAt: 5,
    updatedAt: 5,
  });
  const app = express();
  const [pub, data] = createConsoleRouters({ store, appDir });
  app.use(pub!.handler);
  // As the server mounts them: the data router behind auth (here: a key check standing in).
  app.use((req, res, next) => (req.headers.authorization === 'Bearer k' ? next() : res.status(401).end()));
  app.use(data!.handler);
  // An API route the console must not shadow.
  app.get('/executions', (_req, res) => res.json({ items: [] }));
  app.use((_req, res) => res.status(404).json({ code: 'NOT_FOUND' }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console routes', () => {
  it('serves the page at / revalidated on every load, with a policy that forbids other origins', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self'");
    expect(await res.text()).toContain('<title>console</title>');
  });

  it('serves the page for console routes (a reload or shared link) and never for API routes', async () => {
    for (const path of ['/console', '/console/executions/e1', '/console/workflows/wf'])
      expect((await fetch(`${base}${path}`)).headers.get('content-type'), path).toMatch(/^text\/html/);
    const api = await fetch(`${base}/executions`, { headers: { authorization: 'Bearer k' } });
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await api.json()).toEqual({ items: [] });
    expect((await fetch(`${base}/nothing-here`, { headers: { authorization: 'Bearer k' } })).status).toBe(
      404,
    );
    expect((await fetch(`${base}/console/api/nope`, { headers: { authorization: 'Bearer k' } })).status).toBe(
      404,
    );
  });

  it('caches hashed assets for a year, and answers 404 for missing ones and for paths out of the folder', async () => {
    const res = await fetch(`${base}/console/assets/index-abc123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const missing = await fetch(`${base}/console/assets/missing.js?v=2`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await missing.json()).toEqual({
      type: 'https://orchestr8.dev/problems/not-found',
      title: 'Not Found',
      status: 404,
      detail: 'no console asset "missing.js"',
      code: 'NOT_FOUND',
      instance: '/console/assets/missing.js',
    });
    for (const p of ['/console/assets/..%2F..%2Fsecret.txt', '/console/assets/%2e%2e/%2e%2e/secret.txt']) {
      const r = await fetch(`${base}${p}`);
      // The URL parser may resolve the dots itself (then the path is elsewhere): either way, no file.
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(await r.text()).not.toContain('not for you');
    }
  });

  it('gives an execution inputs, trigger, parent and definition, behind auth', async () => {
    expect((await fetch(`${base}/console/api/executions/e1`)).status).toBe(401);
    const res = await fetch(`${base}/console/api/executions/e1`, { headers: { authorization: 'Bearer k' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      executionId: 'e1',
      inputs: { who: 'ada' },
      correlationId: 'trigger:nightly@2026',
      parentExecutionId: 'p0',
      parentStepId: 'call',
      definition: { hash: 'h1', document: { steps: [{ id: 'a' }] } },
    });
    const missing = await fetch(`${base}/console/api/executions/nope`, {
      headers: { authorization: 'Bearer k' },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await missing.json()).toEqual({
      type: 'https://orchestr8.dev/problems/not-found',
      title: 'Not Found',
      status: 404,
      detail: 'no execution "nope"',
      code: 'NOT_FOUND',
      instance: '/console/api/executions/nope',
    });
  });

  it('says how to build the console when it is not built', async () => {
    const app = express();
    app.use(createConsoleRouters({ store, appDir: join(dir, 'none') })[0]!.handler);
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        type: 'https://orchestr8.dev/problems/console-not-built',
        title: 'Service Unavailable',
        status: 503,
        detail: expect.stringContaining('pnpm build'),
        code: 'CONSOLE_NOT_BUILT',
        instance: '/',
      });
    } finally {
      s.close();
    }
  });
});
