/**
 * `orchestr8 triggers` over real processes: a built `orchestr8 serve` on SQLite, and the
 * built CLI talking to it over HTTP. Waits are bounded polls; no timing is asserted.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, type Served, serve, until, useTempRoot } from './fixtures/harness.js';

const tempRoot = useTempRoot('triggers-cli');
let s: Served;
const KEY = 'k-triggers-cli-test';
const auth = { ORCHESTR8_API_KEY: KEY };

const workflow = (id: string, triggers: unknown[]) => ({
  version: '1.0.0',
  metadata: { id },
  steps: [{ id: 'a', agent: '@orchestr8/echo', input: { message: 'hi' } }],
  triggers,
});

async function put(doc: { metadata: { id: string } }) {
  const r = await fetch(`${s.url}/workflows/${doc.metadata.id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(doc),
  });
  expect(r.status).toBeLessThan(300);
}

async function executions(workflowId: string): Promise<{ executionId: string; correlationId?: string }[]> {
  const r = await fetch(`${s.url}/executions?workflowId=${workflowId}&limit=100`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  return ((await r.json()) as { items: { executionId: string; correlationId?: string }[] }).items;
}

const run = (args: string[], env: Record<string, string | undefined> = auth) =>
  cli(['triggers', ...args, '--server', s.url], { env });

beforeAll(async () => {
  assertBuilt();
  s = await serve(['--port', '0', '--log-level', 'warn', '--store', `sqlite:${join(tempRoot(), 'o8.db')}`], {
    env: { ORCHESTR8_API_KEYS: KEY },
  });
  // Far-future schedules: nothing fires on its own while the test runs.
  await put(
    workflow('nightly', [
      { name: 'berlin', schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin', overlap: 'allowAll' } },
      { name: 'hourly', schedule: { every: '1h', overlap: 'skip' } },
    ]),
  );
  await put(workflow('hooked', [{ name: 'push', event: { name: 'repo.push' } }]));
  const orders = {
    ...workflow('orders', [
      { name: 'big', event: { name: 'order.created' }, inputs: { orderId: '${trigger.event.data.id}' } },
    ]),
    inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
  };
  await put(orders);
  await until('the triggers to be active', async () => {
    const r = await run(['list', '--json']);
    const items = r.code === 0 ? (JSON.parse(r.stdout) as { items: unknown[] }).items : [];
    return items.length >= 4 ? true : undefined;
  });
});

afterAll(async () => {
  await s?.stop();
});

describe('orchestr8 send-event and the event triggers it fires', () => {
  it('prints what each trigger did, and exits 1 when a firing failed to start its workflow', async () => {
    const send = (payload: unknown) =>
      cli(['send-event', 'order.created', '--payload', JSON.stringify(payload), '--server', s.url], {
        env: auth,
      });
    const ok = await send({ id: 'o-1' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/trigger orders\/big: started \S+/);
    // No data.id: the trigger's inputs do not render, and nothing starts.
    const bad = await send({ amount: 5 });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('delivered');
    expect(bad.stderr).toContain(
      'trigger orders/big: failed: template ${trigger.event.data.id} has no value',
    );
  });
});

describe('orchestr8 send-event --idempotency-key', () => {
  it('says when the answer is the replay of the first one for that key', async () => {
    const send = () =>
      cli(['send-event', 'ping.replay', '--idempotency-key', 'k-replay-1', '--server', s.url], { env: auth });
    const first = await send();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('event ping.replay k-replay-1 delivered: woke 0 waits\n');
    const again = await send();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(
      'event ping.replay k-replay-1 delivered: woke 0 waits\n' +
        '(replayed: the server already handled key "k-replay-1"; this is its first answer)\n',
    );
    // --json keeps stdout the server's answer; the note goes to stderr.
    const json = await cli(
      ['send-event', 'ping.replay', '--idempotency-key', 'k-replay-1', '--json', '--server', s.url],
      { env: auth },
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: 'k-replay-1', accepted: true, woken: 0 });
    expect(json.stderr).toContain('(replayed: the server already handled key "k-replay-1"');
  }, 60_000);
});

describe('a webhook trigger whose signing secret the operator has not granted', () => {
  it('is refused when the workflow is registered: 403 CAPABILITY_DENIED, nothing registered', async () => {
    const doc = {
      ...workflow('unsigned-secret', [{ name: 'gh', webhook: { signature: { secret: 'hook' } } }]),
      context: { secretRefs: { hook: { env: 'O8_TEST_NOT_GRANTED_SECRET' } } },
    };
    const r = await fetch(`${s.url}/workflows/unsigned-secret`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify(doc),
    });
    expect(r.status).toBe(403);
    const body = (await r.json()) as { code: string; detail: string };
    expect(body.code).toBe('CAPABILITY_DENIED');
    expect(body.detail).toContain('O8_TEST_NOT_GRANTED_SECRET');
    const listed = await run(['list', '--json', '--workflow', 'unsigned-secret']);
    expect((JSON.parse(listed.stdout) as { items: unknown[] }).items).toEqual([]);
  });
});

describe('orchestr8 triggers', () => {
  it('list prints each trigger with its kind, schedule and next fire time in its timezone and in UTC', async () => {
    const r = await run(['list']);
    expect(r.code).toBe(0);
    const berlin = r.stdout.split('\n').find((l) => /\bberlin\b/.test(l))!;
    expect(berlin).toContain('nightly@1.0.0');
    expect(berlin).toContain('schedule');
    expect(berlin).toContain('cron "0 3 * * *"');
    // 03:00 Berlin is 01:00 or 02:00 UTC, depending on DST.
    expect(berlin).toMatch(/\d{4}-\d\d-\d\d 03:00:00 Europe\/Berlin \(\d{4}-\d\d-\d\dT0[12]:00:00Z\)/);
    const hourly = r.stdout.split('\n').find((l) => /\bhourly\b/.test(l))!;
    expect(hourly).toContain('every 1h');
    expect(hourly).toMatch(/T\d\d:00:00Z/);
    expect(r.stdout.split('\n').find((l) => /\bpush\b/.test(l))).toContain('event repo.push');
  });

  it('list shows how many firings failed and were dropped, as --json counts them', async () => {
    const counted = {
      ...workflow('counted', [
        { name: 'broken', event: { name: 'tick.broken' }, inputs: { orderId: '${trigger.event.data.id}' } },
        { name: 'limited', event: { name: 'tick.limited' }, flow: { rateLimit: { limit: 1, per: '1h' } } },
      ]),
      inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
    };
    await put(counted);
    await until('the counted triggers to be active', async () => {
      const r = await run(['list', '--json', '--workflow', 'counted']);
      return r.code === 0 && (JSON.parse(r.stdout) as { items: unknown[] }).items.length === 2
        ? true
        : undefined;
    });
    const send = (name: string) => cli(['send-event', name, '--server', s.url], { env: auth });
    expect((await send('tick.broken')).stderr).toContain('trigger counted/broken: failed');
    expect((await send('tick.limited')).code).toBe(0);
    expect((await send('tick.limited')).stderr).toContain('trigger counted/limited: dropped (rate_limited)');

    const r = await run(['list', '--workflow', 'counted']);
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    const cells = (line: string) => line.trim().split(/\s{2,}/);
    expect(cells(header!).slice(-4)).toEqual(['RUNNING', 'QUEUED', 'FAILED', 'DROPPED']);
    const row = (name: string) => cells(rows.find((l) => cells(l)[1] === name)!);
    // FAILED and DROPPED, the last two columns.
    expect(row('broken').slice(-2)).toEqual(['1', '0']);
    expect(row('limited').slice(-2)).toEqual(['0', '1']);
    const { items } = JSON.parse((await run(['list', '--json', '--workflow', 'counted'])).stdout) as {
      items: { name: string; failed: number; dropped: number }[];
    };
    expect(items.map((i) => [i.name, i.failed, i.dropped])).toEqual([
      ['broken', 1, 0],
      ['limited', 0, 1],
    ]);
  }, 60_000);

  it('list --json gives the server items, and --workflow narrows them', async () => {
    const r = await run(['list', '--json', '--workflow', 'nightly']);
    expect(r.code).toBe(0);
    const { items } = JSON.parse(r.stdout) as { items: Record<string, unknown>[] };
    expect(items.map((i) => i.name)).toEqual(['berlin', 'hourly']);
    expect(items[0]).toMatchObject({
      workflowId: 'nightly',
      kind: 'schedule',
      paused: false,
      schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin', overlap: 'allowAll' },
    });
    expect(typeof items[0]!.nextFireAt).toBe('number');
  });

  it('pause marks the trigger paused (no next fire time) and resume brings it back', async () => {
    const p = await run(['pause', 'nightly', 'hourly']);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('trigger nightly/hourly paused');
    let item = (
      JSON.parse((await run(['list', '--json', '--workflow', 'nightly'])).stdout) as {
        items: { name: string; paused: boolean; nextFireAt?: number }[];
      }
    ).items.find((i) => i.name === 'hourly')!;
    expect(item.paused).toBe(true);
    expect(item.nextFireAt).toBeUndefined();
    expect((await run(['resume', 'nightly', 'hourly'])).code).toBe(0);
    item = (
      JSON.parse((await run(['list', '--json', '--workflow', 'nightly'])).stdout) as {
        items: { name: string; paused: boolean; nextFireAt?: number }[];
      }
    ).items.find((i) => i.name === 'hourly')!;
    expect(item.paused).toBe(false);
    expect(typeof item.nextFireAt).toBe('number');
  });

  it('run fires the trigger now: an execution starts, with the trigger in its correlation id', async () => {
    const r = await run(['run', 'hooked', 'push', '--json']);
    expect(r.code).toBe(0);
    const outcome = JSON.parse(r.stdout) as { status: string; executionId: string };
    expect(outcome.status).toBe('started');
    const e = await until('the execution', async () =>
      (await executions('hooked')).find((x) => x.executionId === outcome.executionId),
    );
    expect(e.correlationId).toMatch(/^trigger:push@\d{4}-/);
  });

  it('backfill fires each occurrence in the range, oldest first, as the schedule would have', async () => {
    const r = await run([
      'backfill',
      'nightly',
      'berlin',
      '--from',
      '2024-03-29T00:00:00Z',
      '--to',
      '2024-04-01T00:00:00Z',
    ]);
    expect(r.code).toBe(0);
    // 03:00 Berlin: CET (+1) before 31 March 2024, CEST (+2) from then.
    expect(r.stdout).toMatch(/^2024-03-29T02:00:00\.000Z {2}started execution /m);
    expect(r.stdout).toMatch(/^2024-03-30T02:00:00\.000Z {2}started execution /m);
    expect(r.stdout).toMatch(/^2024-03-31T01:00:00\.000Z {2}started execution /m);
    expect(r.stdout).toContain('3 occurrences of nightly/berlin in the range');
    const ids = (await executions('nightly')).map((e) => e.correlationId);
    expect(ids).toEqual(
      expect.arrayContaining([
        'trigger:berlin@2024-03-29T02:00:00.000Z',
        'trigger:berlin@2024-03-30T02:00:00.000Z',
        'trigger:berlin@2024-03-31T01:00:00.000Z',
      ]),
    );
  });

  it('exit codes: 1 for an unknown trigger or an unreachable server, 2 for a bad range or a refused key', async () => {
    const missing = await run(['pause', 'nightly', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error NOT_FOUND');
    const badRange = await run(['backfill', 'nightly', 'berlin', '--from', 'yesterday', '--to', 'now']);
    expect(badRange.code).toBe(2);
    expect(badRange.stderr).toContain('--from must be an ISO-8601 time');
    const noKey = await run(['list'], { ORCHESTR8_API_KEY: 'wrong' });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/error \w+/);
    const down = await cli(['triggers', 'list', '--server', 'http://127.0.0.1:9'], { env: auth });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('error NETWORK: cannot reach http://127.0.0.1:9');
  });
});
