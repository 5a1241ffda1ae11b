import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gate,
  gated,
  oneStep,
  post,
  problemOf,
  startServer,
  type TestServer,
  waitTerminal,
} from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const execute = (body: unknown, key: string, headers: Record<string, string> = {}) =>
  post(`${t.url}/workflows/execute`, body, { 'idempotency-key': key, ...headers });

describe('Idempotency-Key', () => {
  it('returns the same execution for the same key and request while it runs, marked Idempotent-Replayed', async () => {
    const g = gate('replay-running');
    const body = { workflow: gated('replay-running'), inputs: {} };
    const first = await execute(body, 'replay-running-key');
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const a = (await first.json()) as Record<string, any>;
    const second = await execute(body, 'replay-running-key');
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const b = (await second.json()) as Record<string, any>;
    expect(b.executionId).toBe(a.executionId);
    expect(b.status).toBe('running');
    expect(second.headers.get('location')).toBe(`/executions/${a.executionId}`);
    g.open();
    await waitTerminal(t.url, a.executionId);
  });

  it('returns the same finished execution, with its result when waiting', async () => {
    const body = { workflow: oneStep('replay-finished') };
    const first = (await (
      await execute(body, 'replay-finished-key', { prefer: 'wait=10' })
    ).json()) as Record<string, any>;
    expect(first.status).toBe('completed');
    const again = await execute(body, 'replay-finished-key', { prefer: 'wait=10' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(first);
  });

  it('treats the same body with keys in another order as the same request', async () => {
    const a = await execute({ workflow: oneStep('order'), inputs: { x: 1, y: 2 } }, 'order-key');
    const b = await execute({ inputs: { y: 2, x: 1 }, workflow: oneStep('order') }, 'order-key');
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(((await b.json()) as Record<string, any>).executionId).toBe(
      ((await a.json()) as Record<string, any>).executionId,
    );
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED when the key comes with a different request', async () => {
    await execute({ workflow: oneStep('reuse'), inputs: { n: 1 } }, 'reused-key');
    const p = await problemOf(await execute({ workflow: oneStep('reuse'), inputs: { n: 2 } }, 'reused-key'));
    expect(p.status).toBe(422);
    expect(p.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it("accepts the draft's quoted form and treats it as the same key", async () => {
    const a = (await (await execute({ workflow: oneStep('quoted') }, '"quoted-key"')).json()) as Record<
      string,
      any
    >;
    const b = await execute({ workflow: oneStep('quoted') }, 'quoted-key');
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(((await b.json()) as Record<string, any>).executionId).toBe(a.executionId);
  });

  it('rejects malformed and hostile keys with 400 IDEMPOTENCY_KEY_INVALID', async () => {
    for (const key of ['', 'x'.repeat(256), 'naïve-ключ', '"unterminated\\"', '"a"b"', 'tab\there']) {
      const res = await fetch(`${t.url}/workflows/execute`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': Buffer.from(key, 'utf8').toString('latin1'),
        },
        body: JSON.stringify({ workflow: oneStep('hostile') }),
      });
      const p = await problemOf(res);
      expect(p.status, key).toBe(400);
      expect(p.code, key).toBe('IDEMPOTENCY_KEY_INVALID');
    }
    // 255 printable characters is the longest valid key.
    expect((await execute({ workflow: oneStep('hostile') }, '~'.repeat(255))).status).toBe(202);
  });

  it('starts exactly one execution for 100 concurrent requests with one key', async () => {
    const g = gate('concurrent');
    const body = { workflow: gated('concurrent', 'concurrent'), inputs: { n: 7 } };
    const responses = await Promise.all(Array.from({ length: 100 }, () => execute(body, 'one-key-for-100')));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as Record<string, any>[];
    expect(responses.every((r) => r.status === 202)).toBe(true);
    expect(new Set(bodies.map((b) => b.executionId)).size).toBe(1);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    const listed = await t.store.listExecutions({ workflowId: 'concurrent', limit: 1000 });
    expect(listed.items).toHaveLength(1);
    g.open();
    await waitTerminal(t.url, bodies[0]!.executionId);
  });

  it('forgets a key after its TTL', async () => {
    const short = await startServer({ idempotencyTtlMs: 1, pruneIntervalMs: 10 });
    try {
      const send = () =>
        post(
          `${short.url}/workflows/execute`,
          { workflow: oneStep('ttl') },
          { 'idempotency-key': 'short-lived', prefer: 'wait=10' },
        );
      const a = (await (await send()).json()) as Record<string, any>;
      await new Promise((r) => setTimeout(r, 20));
      const second = await send();
      expect(second.headers.get('idempotent-replayed')).toBeNull();
      expect(((await second.json()) as Record<string, any>).executionId).not.toBe(a.executionId);
      // And the expired record is deleted from the store in the background.
      let left = await short.store.findIdempotency('short-lived', 0);
      for (let i = 0; i < 500 && left; i++) {
        await new Promise((r) => setTimeout(r, 10));
        left = await short.store.findIdempotency('short-lived', 0);
      }
      expect(left).toBeUndefined();
    } finally {
      await short.stop();
    }
  });

  it('scopes keys to the API key that sent them', async () => {
    const keyed = await startServer({ apiKeys: ['key-one', 'key-two'] });
    try {
      const send = (apiKey: string) =>
        post(
          `${keyed.url}/workflows/execute`,
          { workflow: oneStep('scoped') },
          { 'idempotency-key': 'shared', authorization: `Bearer ${apiKey}` },
        );
      const a = (await (await send('key-one')).json()) as Record<string, any>;
      const b = await send('key-two');
      expect(b.headers.get('idempotent-replayed')).toBeNull();
      expect(((await b.json()) as Record<string, any>).executionId).not.toBe(a.executionId);
      const again = await send('key-one');
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    } finally {
      await keyed.stop();
    }
  });
});

/** A request with repeated headers, as sent (fetch would join them into one line). */
function rawRequest(
  method: string,
  path: string,
  headers: [string, string][],
  body?: string,
): Promise<{ status: number; body: Record<string, any> }> {
  const { hostname, port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    // Array headers are sent as given: no Host is added (Node's server requires one).
    const lines: [string, string][] = headers.some(([n]) => n === 'Host')
      ? [...headers]
      : [['Host', `${hostname}:${port}`], ...headers];
    if (body !== undefined)
      lines.push(['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(body))]);
    const req = request({ host: hostname, port, method, path, headers: lines.flat() }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('headers given more than once', () => {
  it('refuses two Idempotency-Key headers with 400 naming the header, on every route that reads it', async () => {
    const twice: [string, string][] = [
      ['Idempotency-Key', 'a1'],
      ['Idempotency-Key', 'a2'],
    ];
    const execute = await rawRequest(
      'POST',
      '/workflows/execute',
      twice,
      JSON.stringify({ workflow: oneStep('twice') }),
    );
    expect(execute.status).toBe(400);
    expect(execute.body).toMatchObject({
      code: 'IDEMPOTENCY_KEY_INVALID',
      detail: 'Idempotency-Key must be given once',
    });
    // Nothing ran under the joined key: a single "a1, a2" is a new request, not a replay.
    const single = await rawRequest(
      'POST',
      '/workflows/execute',
      [['Idempotency-Key', 'a1, a2']],
      JSON.stringify({ workflow: oneStep('twice') }),
    );
    expect(single.status).toBe(202);
    for (const path of [
      '/events',
      '/executions/x/signals/s',
      '/executions/x/retry',
      '/executions/x/steps/s/approve',
    ]) {
      const r = await rawRequest(
        'POST',
        path,
        twice,
        JSON.stringify(path === '/events' ? { name: 'n' } : {}),
      );
      expect(r.status, path).toBe(400);
      expect(r.body.detail, path).toBe('Idempotency-Key must be given once');
    }
  });

  it('refuses two Host headers and two Last-Event-ID headers with 400', async () => {
    const host = await rawRequest('GET', '/executions', [
      ['Host', 'localhost'],
      ['Host', 'evil.example'],
    ]);
    expect(host.status).toBe(400);
    expect(host.body).toMatchObject({ code: 'BAD_REQUEST', detail: 'Host must be given once' });
    const last = await rawRequest('GET', '/executions/x/events', [
      ['Last-Event-ID', '1'],
      ['Last-Event-ID', '2'],
    ]);
    expect(last.status).toBe(400);
    expect(last.body.detail).toBe('Last-Event-ID must be given once');
  });
});
