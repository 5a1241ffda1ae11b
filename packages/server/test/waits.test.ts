// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, problemOf, startServer, type TestServer, waitTerminal } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const doc = (id: string, steps: unknown[]) => ({
  version: '1.0.0',
  metadata: { id },
  inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
  steps,
});

async function start(workflow: unknown, inputs: unknown = {}): Promise<string> {
  const res = await post(`${t.url}/workflows/execute`, { workflow, inputs });
  expect(res.status).toBe(202);
  return ((await res.json()) as { executionId: string }).executionId;
}

async function waitStatus(id: string, status: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const body = (await (await fetch(`${t.url}/executions/${id}`)).json()) as { status: string };
    if (body.status === status) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`execution ${id} never became ${status}`);
}

describe('waits over HTTP', () => {
  it('POST /events wakes the correlated execution once; the same id again wakes nothing', async () => {
    const wf = doc('paid', [
      { id: 'w', wait: { event: { name: 'paid', match: 'event.payload.orderId == inputs.orderId' } } },
    ]);
    const a = await start(wf, { orderId: 'A' });
    const b = await start(wf, { orderId: 'B' });
    await waitStatus(a, 'waiting');
    await waitStatus(b, 'waiting');
    const listed = (await (await fetch(`${t.url}/executions?status=waiting`)).json()) as {
      items: { executionId: string }[];
    };
    expect(listed.items.map((e) => e.executionId)).toEqual(expect.arrayContaining([a, b]));
    const res = await post(
      `${t.url}/events`,
      { name: 'paid', payload: { orderId: 'A' } },
      { 'Idempotency-Key': 'ev-1' },
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ id: 'ev-1', accepted: true, woken: 1 });
    expect((await waitTerminal(t.url, a)).steps.w.output).toMatchObject({
      id: 'ev-1',
      payload: { orderId: 'A' },
    });
    const again = await post(`${t.url}/events`, { name: 'paid', id: 'ev-1', payload: { orderId: 'B' } });
    expect(await again.json()).toEqual({ id: 'ev-1', accepted: false, woken: 0 });
    await waitStatus(b, 'waiting');
  });

  it('POST /executions/:id/signals/:name reaches that execution', async () => {
    const id = await start(doc('sig', [{ id: 'w', wait: { event: { name: 'go' } } }]));
    await waitStatus(id, 'waiting');
    const res = await post(`${t.url}/executions/${id}/signals/go`, { payload: { n: 1 } });
    expect(res.status).toBe(202);
    expect((await waitTerminal(t.url, id)).steps.w.output).toMatchObject({ name: 'go', payload: { n: 1 } });
  });

  it('approvals: listed, an invalid form is 422 naming the field, a valid one continues', async () => {
    const id = await start(
      doc('refund', [
        {
          id: 'ok',
          wait: {
            approval: {
              title: 'Refund ${inputs.orderId}?',
              form: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
            },
          },
        },
      ]),
      { orderId: 'R1' },
    );
    await waitStatus(id, 'waiting');
    const list = (await (await fetch(`${t.url}/approvals`)).json()) as { items: Record<string, unknown>[] };
    expect(list.items).toContainEqual(
      expect.objectContaining({ executionId: id, stepId: 'ok', title: 'Refund R1?' }),
    );
    const bad = await post(`${t.url}/executions/${id}/steps/ok/approve`, {
      by: 'ann',
      data: { amount: 'ten' },
    });
    expect(bad.status).toBe(422);
    const p = await problemOf(bad);
    expect(p.detail).toContain('/amount');
    expect(p.errors[0].pointer).toBe('/data/amount');
    const good = await post(`${t.url}/executions/${id}/steps/ok/approve`, {
      by: 'ann',
      data: { amount: 10 },
    });
    expect(good.status).toBe(202);
    const done = await waitTerminal(t.url, id);
    expect(done.status).toBe('completed');
    expect(done.steps.ok.output).toEqual({ approved: true, by: 'ann', data: { amount: 10 } });
    // The step finished: a conflict naming how it ended (core's wait service), not a missing step.
    const twice = await post(`${t.url}/executions/${id}/steps/ok/reject`, { by: 'bob' });
    expect(twice.status).toBe(409);
  });

  it('a decision by someone not among the approvers is 403', async () => {
    const id = await start(
      doc('guarded', [{ id: 'ok', wait: { approval: { title: 'Go?', approvers: ['ann'] } } }]),
    );
    await waitStatus(id, 'waiting');
    const res = await post(`${t.url}/executions/${id}/steps/ok/approve`, { by: 'eve' });
    expect(res.status).toBe(403);
    expect((await problemOf(res)).code).toBe('CAPABILITY_DENIED');
  });

  it('reject fails the step with REJECTED', async () => {
    const id = await start(doc('refund2', [{ id: 'ok', wait: { approval: { title: 'Go?' } } }]));
    await waitStatus(id, 'waiting');
    expect(
      (await post(`${t.url}/executions/${id}/steps/ok/reject`, { by: 'bob', comment: 'no' })).status,
    ).toBe(202);
    const done = await waitTerminal(t.url, id);
    expect(done.status).toBe('failed');
    expect(done.steps.ok.error.code).toBe('REJECTED');
  });

  it('approve and reject with an Idempotency-Key: a repeat gets the first answer, another request with the key is 422', async () => {
    const id = await start(doc('keyed', [{ id: 'ok', wait: { approval: { title: 'Go?' } } }]));
    await waitStatus(id, 'waiting');
    const url = `${t.url}/executions/${id}/steps/ok/approve`;
    const first = await post(url, { by: 'ann', data: { n: 1 } }, { 'Idempotency-Key': 'dec-1' });
    expect(first.status).toBe(202);
    const answer = await first.json();
    expect(answer).toMatchObject({ executionId: id, stepId: 'ok', decision: 'approved', by: 'ann' });
    expect((await waitTerminal(t.url, id)).status).toBe('completed');
    // The step has moved on (its wait is gone): the repeat still gets the first answer, not 404.
    const again = await post(url, { by: 'ann', data: { n: 1 } }, { 'Idempotency-Key': 'dec-1' });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual(answer);
    const other = await post(
      `${t.url}/executions/${id}/steps/ok/reject`,
      { by: 'ann' },
      { 'Idempotency-Key': 'dec-1' },
    );
    expect(other.status).toBe(422);
    expect((await problemOf(other)).code).toBe('IDEMPOTENCY_KEY_REUSED');
    const unkeyed = await post(url, { by: 'ann', data: { n: 1 } });
    expect(unkeyed.status).toBe(409);
  });

  it('an event repeated with its Idempotency-Key gets the first answer; another event under the key is 422, not lost', async () => {
    const id = await start(doc('ev-keyed', [{ id: 'w', wait: { event: { name: 'ev-keyed-go' } } }]));
    await waitStatus(id, 'waiting');
    const url = `${t.url}/events`;
    const first = await post(
      url,
      { name: 'ev-keyed-go', payload: { n: 1 } },
      { 'Idempotency-Key': 'ev-keyed-1' },
    );
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const answer = await first.json();
    expect(answer).toEqual({ id: 'ev-keyed-1', accepted: true, woken: 1 });
    await waitTerminal(t.url, id);
    const again = await post(
      url,
      { name: 'ev-keyed-go', payload: { n: 1 } },
      { 'Idempotency-Key': 'ev-keyed-1' },
    );
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(answer);
    for (const body of [
      { name: 'ev-keyed-go', payload: { n: 2 } },
      { name: 'ev-keyed-other', payload: { n: 1 } },
    ]) {
      const other = await post(url, body, { 'Idempotency-Key': 'ev-keyed-1' });
      expect(other.status).toBe(422);
      expect((await problemOf(other)).code).toBe('IDEMPOTENCY_KEY_REUSED');
    }
  });

  it('a signal repeated with its Idempotency-Key gets the first answer', async () => {
    const id = await start(doc('sig-keyed', [{ id: 'w', wait: { event: { name: 'go' } } }]));
    await waitStatus(id, 'waiting');
    const url = `${t.url}/executions/${id}/signals/go`;
    const first = await post(url, { payload: { n: 1 } }, { 'Idempotency-Key': 'sig-1' });
    expect(first.status).toBe(202);
    const answer = await first.json();
    expect(answer).toEqual({ id: `${id}:sig-1`, accepted: true, woken: 1 });
    await waitTerminal(t.url, id);
    const again = await post(url, { payload: { n: 1 } }, { 'Idempotency-Key': 'sig-1' });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual(answer);
    const other = await post(url, { payload: { n: 2 } }, { 'Idempotency-Key': 'sig-1' });
    expect(other.status).toBe(422);
    expect((await problemOf(other)).code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});
