// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
/**
 * Waits end to end over real processes on SQLite, through the built CLI (`pnpm build` first):
 * a timer survives a SIGKILL of `serve` and fires once after the restart; 1,000 executions wait
 * for their correlated events sent over HTTP and each wakes exactly once; an approval with an
 * invalid form is refused (422) and a valid one continues. Bounded polls; no timing is asserted.
 *
 * The CLI runs asynchronously (never spawnSync): a test that blocks its event loop while a
 * CLI process runs keeps its idle keep-alive socket past the client's expiry (the server's
 * 5 s less 2 s), and its next request can cross the server's close of that socket ("other
 * side closed"). Every test has a timeout sized for a loaded 2-core machine.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until as poll } from './fixtures/harness.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm build)`);
  dir = mkdtempSync(join(tmpdir(), 'o8-waits-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function serve(store: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(
    process.execPath,
    [BIN, 'serve', '--port', '0', '--log-level', 'warn', '--store', store],
    {
      env: { ...process.env, NO_COLOR: '1', ORCHESTR8_API_KEYS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(proc);
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  // Only the tests SIGKILL it: any other end is a crash, and its stderr says why.
  proc.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL') console.error(`serve exited unexpectedly (${signal ?? code}): ${err}`);
  });
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /orchestr8 listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, proc });
    });
    proc.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
}

function kill(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/** Runs `fn` over `items`, at most `width` at a time (a loaded CI machine, one serve). */
async function inPool<T, R>(
  items: readonly T[],
  width: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (against `server` when given); resolves when it exits. */
function cli(args: readonly string[], server?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args, ...(server ? ['--server', server] : [])],
      { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) =>
        resolve({ status: error ? ((error.code as number | undefined) ?? null) : 0, stdout, stderr }),
    );
  });
}

/** Asserts a CLI exit status, showing its output when it differs. */
function exits(r: CliResult, status: number): CliResult {
  expect(r.status, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(status);
  return r;
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const getJson = async (url: string) => (await fetch(url)).json() as Promise<Record<string, any>>;

async function start(url: string, workflow: unknown, inputs: unknown = {}): Promise<string> {
  const res = await post(`${url}/workflows/execute`, { workflow, inputs });
  expect(res.status).toBe(202);
  return ((await res.json()) as { executionId: string }).executionId;
}

/** Waits of these tests: a served process on a loaded machine may take its time. */
const until = <T>(what: string, fn: () => Promise<T | undefined>) => poll(what, fn, 120_000);

const statusIs = (url: string, id: string, ...statuses: string[]) =>
  until(`${id} to be ${statuses.join('/')}`, async () => {
    const e = await getJson(`${url}/executions/${id}`);
    return statuses.includes(e.status) ? e : undefined;
  });

async function journal(url: string, id: string): Promise<{ type: string; data?: Record<string, any> }[]> {
  const text = await (await fetch(`${url}/executions/${id}/journal?limit=1000`)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const journalTypes = async (url: string, id: string) => (await journal(url, id)).map((e) => e.type);

describe('waits through orchestr8 serve on SQLite', { timeout: 240_000 }, () => {
  it('a timer survives a SIGKILL of serve and fires once after the restart', async () => {
    const store = `sqlite:${join(dir, 'timer.db')}`;
    const first = await serve(store);
    const id = await start(first.url, {
      version: '1.0.0',
      metadata: { id: 'timer' },
      steps: [
        { id: 'nap', wait: { timer: '1s' } },
        { id: 'after', agent: '@orchestr8/echo', dependencies: ['nap'], input: { ok: true } },
      ],
    });
    await statusIs(first.url, id, 'waiting');
    const waiting = (await journal(first.url, id)).find((e) => e.type === 'step.waiting');
    const dueAt = Date.parse(waiting!.data!.dueAt);
    await kill(first.proc);
    // The timer falls due while nothing runs.
    await until('the timer to fall due', async () => (Date.now() > dueAt ? true : undefined));
    const second = await serve(store);
    const done = await statusIs(second.url, id, 'completed', 'failed');
    expect(done.status).toBe('completed');
    const types = await journalTypes(second.url, id);
    expect(types.filter((t) => t === 'step.woken')).toHaveLength(1);
    expect(types.filter((t) => t === 'step.completed')).toHaveLength(2);
    await kill(second.proc);
  });

  it('1,000 executions wait for their correlated events over HTTP; each wakes exactly once', async () => {
    const { url, proc } = await serve(`sqlite:${join(dir, 'events.db')}`);
    const doc = {
      version: '1.0.0',
      metadata: { id: 'orders' },
      inputs: { type: 'object', properties: { orderId: { type: 'string' } } },
      steps: [
        { id: 'paid', wait: { event: { name: 'paid', match: 'event.payload.orderId == inputs.orderId' } } },
        {
          id: 'after',
          agent: '@orchestr8/echo',
          dependencies: ['paid'],
          input: { order: '${inputs.orderId}' },
        },
      ],
    };
    const n = 1000;
    const orders = Array.from({ length: n }, (_, i) => `o${i}`);
    const ids = await inPool(orders, 16, (orderId) => start(url, doc, { orderId }));
    await inPool(ids, 16, (id) => statusIs(url, id, 'waiting'));
    // Sent in shuffled order, many at once: each event finds its own execution.
    const order = orders.map((_, i) => i).sort((a, b) => ((a * 7919) % n) - ((b * 7919) % n));
    const deliveries = await inPool(
      order,
      32,
      async (i) =>
        [
          i,
          (await (
            await post(`${url}/events`, { name: 'paid', id: `pay-${i}`, payload: { orderId: `o${i}` } })
          ).json()) as { accepted: boolean; woken: number },
        ] as const,
    );
    expect(deliveries.filter(([, d]) => d.accepted !== true || d.woken !== 1)).toEqual([]);
    // Sent again: nothing more happens.
    expect(
      await (await post(`${url}/events`, { name: 'paid', id: 'pay-7', payload: { orderId: 'o7' } })).json(),
    ).toMatchObject({ accepted: false, woken: 0 });
    const done = await inPool(ids, 16, (id) => statusIs(url, id, 'completed', 'failed'));
    done.forEach((e, i) => {
      expect(e.status).toBe('completed');
      expect(e.steps.paid.output).toMatchObject({ id: `pay-${i}`, payload: { orderId: `o${i}` } });
      expect(e.steps.after.output).toEqual({ order: `o${i}` });
    });
    const woken = await inPool(
      ids,
      16,
      async (id) => (await journalTypes(url, id)).filter((t) => t === 'step.woken').length,
    );
    expect(woken.filter((c) => c !== 1)).toEqual([]);
    await kill(proc);
  });

  it('an approval with an invalid form is refused (422) and a valid one continues; the CLI lists and approves', async () => {
    const { url, proc } = await serve(`sqlite:${join(dir, 'approval.db')}`);
    const id = await start(url, {
      version: '1.0.0',
      metadata: { id: 'refund' },
      steps: [
        {
          id: 'ok',
          wait: {
            approval: {
              title: 'Refund?',
              form: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
            },
          },
        },
      ],
    });
    await statusIs(url, id, 'waiting');
    const list = exits(await cli(['approvals'], url), 0);
    expect(list.stdout).toContain(`${id} ok  Refund?`);
    const bad = await post(`${url}/executions/${id}/steps/ok/approve`, {
      by: 'ann',
      data: { amount: 'lots' },
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { detail: string }).detail).toContain('/amount');
    const refused = exits(await cli(['approve', id, 'ok', '--by', 'ann', '--data', '{}'], url), 2);
    expect(refused.stderr).toContain("'amount'");
    const good = exits(await cli(['approve', id, 'ok', '--by', 'ann', '--data', '{"amount": 5}'], url), 0);
    expect(good.stderr).toBe('');
    const done = await statusIs(url, id, 'completed', 'failed');
    expect(done.steps.ok.output).toEqual({ approved: true, by: 'ann', data: { amount: 5 } });
    await kill(proc);
  });

  it('--idempotency-key: approve, send-event and signal repeated with their key get the first answer and wake nothing more', async () => {
    const { url, proc } = await serve(`sqlite:${join(dir, 'keys.db')}`);
    const id = await start(url, {
      version: '1.0.0',
      metadata: { id: 'keyed' },
      steps: [
        { id: 'ok', wait: { approval: { title: 'Go?' } } },
        { id: 'paid', wait: { event: { name: 'paid' } } },
        { id: 'poked', wait: { event: { name: 'poke' } } },
      ],
    });
    await statusIs(url, id, 'waiting');
    const approve = () =>
      cli(['approve', id, 'ok', '--by', 'ann', '--idempotency-key', 'a-1', '--json'], url);
    const first = exits(await approve(), 0);
    expect(first.stderr).toBe('');
    // A retry with the key: the first answer (without it, 409 already decided).
    const again = exits(await approve(), 0);
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(first.stdout));
    const other = exits(await cli(['reject', id, 'ok', '--by', 'ann', '--idempotency-key', 'a-1'], url), 2);
    expect(other.stderr).toContain('Idempotency-Key was already used');
    const empty = exits(await cli(['approve', id, 'ok', '--idempotency-key', ' '], url), 2);
    expect(empty.stderr).toContain('--idempotency-key must not be empty');

    const send = async () => exits(await cli(['send-event', 'paid', '--idempotency-key', 'e-1'], url), 0);
    expect((await send()).stdout).toBe('event paid e-1 delivered: woke 1 wait\n');
    // A retry with the key gets the first answer, as signals and decisions do (it wakes nothing more: see the journal
    // below), and says it is a replay.
    expect((await send()).stdout).toBe(
      'event paid e-1 delivered: woke 1 wait\n' +
        '(replayed: the server already handled key "e-1"; this is its first answer)\n',
    );
    const signal = async () =>
      exits(await cli(['signal', id, 'poke', '--idempotency-key', 's-1', '--json'], url), 0);
    const s1 = await signal();
    expect(JSON.parse(s1.stdout)).toMatchObject({ accepted: true, woken: 1 });
    expect(JSON.parse((await signal()).stdout)).toEqual(JSON.parse(s1.stdout));

    await statusIs(url, id, 'completed');
    const types = await journalTypes(url, id);
    expect(types.filter((t) => t === 'step.woken')).toHaveLength(2);
    expect(types.filter((t) => t === 'approval.decided')).toHaveLength(1);
    await kill(proc);
  });

  it('orchestr8 run of a workflow that waits keeps waiting until its timer fires', async () => {
    const file = join(dir, 'nap.yaml');
    writeFileSync(
      file,
      ['version: 1.0.0', 'metadata: { id: nap }', 'steps:', '  - id: nap', '    wait: { timer: 300ms }'].join(
        '\n',
      ),
    );
    const r = exits(await cli(['run', file, '--store', `sqlite:${join(dir, 'run.db')}`, '--json']), 0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: 'completed',
      steps: { nap: { status: 'completed' } },
    });
  });

  it('orchestr8 run keeps waiting for an event; serve on the same store wakes it and run prints the result', async () => {
    const store = `sqlite:${join(dir, 'run-event.db')}`;
    const file = join(dir, 'go.yaml');
    writeFileSync(
      file,
      [
        'version: 1.0.0',
        'metadata: { id: go }',
        'steps:',
        '  - id: go',
        '    wait: { event: { name: go } }',
      ].join('\n'),
    );
    const run = spawn(process.execPath, [BIN, 'run', file, '--store', store, '--json'], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(run);
    let stdout = '';
    let stderr = '';
    run.stdout!.on('data', (d) => {
      stdout += d;
    });
    run.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => run.once('exit', (code) => r(code)));
    const { url, proc } = await serve(store);
    await until('the execution to wait', async () => {
      const page = await getJson(`${url}/executions?status=waiting`);
      return page.items.length === 1 ? page.items[0] : undefined;
    });
    expect(await (await post(`${url}/events`, { name: 'go', payload: { n: 1 } })).json()).toMatchObject({
      woken: 1,
    });
    expect(await exited, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      status: 'completed',
      steps: { go: { output: { payload: { n: 1 } } } },
    });
    await kill(proc);
  });

  it('Ctrl-C while orchestr8 run waits leaves the execution waiting in the store, and says so', async () => {
    const store = `sqlite:${join(dir, 'run-sigint.db')}`;
    const file = join(dir, 'hold.yaml');
    writeFileSync(
      file,
      [
        'version: 1.0.0',
        'metadata: { id: hold }',
        'steps:',
        '  - id: hold',
        '    wait: { event: { name: never } }',
      ].join('\n'),
    );
    const run = spawn(process.execPath, [BIN, 'run', file, '--store', store, '--json'], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(run);
    let stderr = '';
    run.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => run.once('exit', (code) => r(code)));
    const waiting = async () =>
      JSON.parse(exits(await cli(['list', '--status', 'waiting', '--json', '--store', store]), 0).stdout) as {
        id: string;
      }[];
    const [record] = await until('the execution to wait', async () => {
      const items = await waiting();
      return items.length === 1 ? items : undefined;
    });
    run.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(stderr).toContain(`execution ${record!.id} is waiting and stays durable`);
    expect((await waiting()).map((e) => e.id)).toEqual([record!.id]);
  });
});
