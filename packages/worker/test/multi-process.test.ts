/**
 * Distribution end to end, in real processes: 3 workers and 2 API instances on one
 * PostgreSQL, started together on a fresh schema (they race to migrate it).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore, type PostgresStore } from '@orchestr8/store-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgServer, startPostgres } from '../../store-postgres/test/pg-server.js';
import { listWorkers } from '../src/index.js';
import { diamond, until } from './helpers.js';
import { type Proc, spawnFixture } from './processes.js';

const WORKER = 'packages/worker/test/fixtures/worker-process.ts';
const API = 'packages/worker/test/fixtures/api-process.ts';
// A heartbeat every third of it. At load 15-20 on a 2-core CI machine a heartbeat can come
// seconds late: with 4 s (2.7 s of slack) a live worker once lost a step it was running to
// another worker, which ran it again. 15 s leaves 10 s of slack, and only the SIGKILL test
// waits for a lease to run out.
const LEASE_MS = 15_000;

let server: PgServer;
let store: PostgresStore;
let dir: string;
let log: string;
const workers: Proc[] = [];
const apis: Proc[] = [];

beforeAll(async () => {
  server = await startPostgres();
  const url = server.freshSchemaUrl();
  dir = mkdtempSync(join(tmpdir(), 'orchestr8-mp-'));
  log = join(dir, 'calls.log');
  const env = { ORCHESTR8_STORE: url, ORCHESTR8_TEST_LOG: log };
  const started = await Promise.all([
    ...[1, 2, 3].map((n) =>
      spawnFixture(WORKER, {
        ...env,
        WORKER_ID: `w${n}`,
        WORKER_CONCURRENCY: '8',
        WORKER_LEASE_MS: String(LEASE_MS),
      }),
    ),
    spawnFixture(API, env),
    spawnFixture(API, env),
  ]);
  workers.push(...started.slice(0, 3));
  apis.push(...started.slice(3));
  store = await openPostgresStore({ url });
}, 90_000);

afterAll(async () => {
  await Promise.all([...workers, ...apis].map((p) => p.stop().catch(() => {})));
  await store?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function post(api: Proc, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${api.info}/workflows/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** Runs `n` calls of `fn`, `width` at a time. */
async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

async function completed(ids: readonly string[]): Promise<number> {
  const r = await store.query<{ n: number }>(
    'count',
    "SELECT count(*)::int AS n FROM executions WHERE id = ANY($1) AND status = 'completed'",
    [ids],
  );
  return r.rows[0]!.n;
}

interface Call {
  executionId: string;
  stepId: string;
  pid: number;
  key: string;
}
function calls(): Call[] {
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [executionId, stepId, pid, key] = l.split(' ');
      return { executionId: executionId!, stepId: stepId!, pid: Number(pid), key: key! };
    });
}

async function stepCompletions(ids: readonly string[]): Promise<Map<string, number>> {
  const r = await store.query(
    'journal',
    "SELECT execution_id, step_id, count(*)::int AS n FROM journal WHERE execution_id = ANY($1) AND type = 'step.completed' GROUP BY 1, 2",
    [ids],
  );
  return new Map(r.rows.map((row) => [`${row.execution_id} ${row.step_id}`, row.n as number]));
}

describe('3 workers and 2 API instances', () => {
  it('complete 200 executions of a 10-step workflow, every step exactly once', async () => {
    const doc = diamond('@test/work', 'mp-diamond');
    const ids = await pool(200, 20, async (i) => {
      const res = await post(apis[i % 2]!, { workflow: doc, inputs: { n: i } });
      if (res.status !== 202) throw new Error(`${res.status}: ${await res.text()}`);
      return ((await res.json()) as { executionId: string }).executionId;
    });
    expect(new Set(ids).size).toBe(200);
    await until(async () => (await completed(ids)) === 200, 60_000);

    const mine = new Set(ids);
    const ran = calls().filter((c) => mine.has(c.executionId));
    const perStep = new Map<string, number>();
    for (const c of ran)
      perStep.set(`${c.executionId} ${c.stepId}`, (perStep.get(`${c.executionId} ${c.stepId}`) ?? 0) + 1);
    expect(perStep.size).toBe(2000);
    const twice = [...perStep.entries()].filter(([, n]) => n !== 1);
    expect(
      twice,
      `ran more than once: ${JSON.stringify(ran.filter((c) => twice.some(([k]) => k === `${c.executionId} ${c.stepId}`)))}`,
    ).toEqual([]);
    const done = await stepCompletions(ids);
    expect(done.size).toBe(2000);
    expect([...done.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    // The work was shared: every worker ran steps.
    const pids = new Set(ran.map((c) => c.pid));
    expect(pids).toEqual(new Set(workers.map((w) => w.child.pid)));
    const outputs = await Promise.all(ids.slice(0, 5).map((id) => store.getExecution(id)));
    expect(outputs.map((e) => e!.result)).toEqual([0, 1, 2, 3, 4].map((n) => ({ v: n })));
    // As long as its own wait for completion, on a loaded CI machine.
  }, 90_000);

  it('start one execution for one Idempotency-Key sent to both instances at once', async () => {
    const doc = diamond('@test/work', 'mp-idem');
    for (let k = 0; k < 10; k++) {
      const headers = { 'Idempotency-Key': `both-${k}` };
      const [a, b] = await Promise.all([
        post(apis[0]!, { workflow: doc, inputs: { n: k } }, headers),
        post(apis[1]!, { workflow: doc, inputs: { n: k } }, headers),
      ]);
      expect([a.status, b.status]).toEqual([202, 202]);
      const [ja, jb] = (await Promise.all([a.json(), b.json()])) as { executionId: string }[];
      expect(ja!.executionId).toBe(jb!.executionId);
      const replayed = [a, b].map((r) => r.headers.get('idempotent-replayed') === 'true');
      expect(replayed.sort()).toEqual([false, true]);
    }
    const r = await store.query<{ n: number }>(
      'count',
      "SELECT count(*)::int AS n FROM executions WHERE workflow_id = 'mp-idem'",
    );
    expect(r.rows[0]!.n).toBe(10);
  });

  it('stream the events of an execution started on one instance to a client of the other', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'mp-sse', name: 'sse' },
      steps: [
        { id: 'a', agent: '@test/work', input: { v: 1, ms: 300 } },
        { id: 'b', agent: '@test/work', input: { v: 2 }, dependencies: ['a'] },
      ],
    };
    const res = await post(apis[0]!, { workflow: doc });
    const { executionId } = (await res.json()) as { executionId: string };
    const stream = await fetch(`${apis[1]!.info}/executions/${executionId}/events`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(200);
    const text = await stream.text(); // the stream ends after the execution's terminal event
    const events = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(events).toEqual([
      'execution.started',
      'step.started',
      'step.completed',
      'step.started',
      'step.completed',
      'execution.completed',
    ]);
  });

  it('reclaim the steps of a SIGKILLed worker after its lease, and finish its executions', async () => {
    const doc = {
      version: '1.0.0',
      metadata: { id: 'mp-slow', name: 'slow' },
      steps: [
        { id: 'a', agent: '@test/work', input: { v: 1 } },
        // Long enough to be seen running under a lease on a loaded machine.
        { id: 'slow', agent: '@test/work', input: { v: 2, ms: 3000 }, dependencies: ['a'] },
        { id: 'z', agent: '@test/work', input: { v: '${steps.slow.output.v}' }, dependencies: ['slow'] },
      ],
    };
    const ids = await pool(12, 12, async () => {
      const res = await post(apis[0]!, { workflow: doc });
      return ((await res.json()) as { executionId: string }).executionId;
    });
    // Whichever worker holds a lease on a `slow` step it has started running becomes the
    // victim (which worker claims what is a race; the test must not depend on it).
    const found = await until(async () => {
      const r = await store.query(
        'leases',
        "SELECT execution_id, step_id, lease_owner FROM tasks WHERE status = 'leased' AND step_id = 'slow'",
      );
      for (const owner of new Set(r.rows.map((row) => String(row.lease_owner)))) {
        const proc = workers[Number(owner.slice(1)) - 1];
        if (!proc) continue;
        const started = new Set(
          calls()
            .filter((c) => c.pid === proc.child.pid)
            .map((c) => `${c.executionId} ${c.stepId}`),
        );
        const both = r.rows
          .filter((row) => row.lease_owner === owner)
          .map((row) => `${row.execution_id} slow`)
          .filter((k) => started.has(k));
        if (both.length > 0) return { owner, victim: proc, held: both };
      }
      return undefined;
    }, 30_000);
    const { owner, victim, held } = found;
    // `orchestr8 workers` / GET /workers show the lease.
    const view = await listWorkers(store);
    expect(view.workers.map((w) => w.id).sort()).toEqual(['w1', 'w2', 'w3']);
    expect(view.workers.find((w) => w.id === owner)!.running.some((r) => r.stepId === 'slow')).toBe(true);

    await victim.kill();
    const killedAt = Date.now();
    // Its leases run out at least two thirds of a lease after its last heartbeat.
    await until(async () => (await completed(ids)) === ids.length, LEASE_MS + 45_000);
    expect(Date.now() - killedAt).toBeGreaterThan(LEASE_MS / 2);

    const ran = calls();
    for (const step of held) {
      const runs = ran.filter((c) => `${c.executionId} ${c.stepId}` === step);
      // Ran on the victim, then again elsewhere, with the same idempotency key.
      expect(runs.length).toBeGreaterThanOrEqual(2);
      expect(runs[0]!.pid).toBe(victim.child.pid);
      expect(runs.some((c) => c.pid !== victim.child.pid)).toBe(true);
      expect(new Set(runs.map((c) => c.key)).size).toBe(1);
    }
    const done = await stepCompletions(ids);
    expect([...done.values()].every((n) => n === 1)).toBe(true);
    expect(done.size).toBe(ids.length * 3);
    workers.shift();
  }, 120_000);

  it('lose no accepted execution when an API instance is SIGKILLed mid-request', async () => {
    const doc = diamond('@test/work', 'mp-crash');
    const victim = apis[1]!;
    const accepted: string[] = [];
    let answered = 0;
    const killed = new Promise<void>((resolve) => {
      void pool(80, 10, async (i) => {
        try {
          const res = await post(victim, { workflow: doc, inputs: { n: i } });
          if (res.status === 202) accepted.push(((await res.json()) as { executionId: string }).executionId);
        } catch {
          // the connection died with the instance
        }
        if (++answered === 25) void victim.kill().then(resolve);
      });
    });
    await killed;
    expect(accepted.length).toBeGreaterThanOrEqual(20);
    await until(async () => (await completed(accepted)) === accepted.length, 30_000);
    apis.pop();
  });
});
