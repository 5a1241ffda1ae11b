/**
 * A round of commits (`TaskQueue.commitMany`) writes the results of many executions in one
 * statement, each planned on the state its worker remembers. An execution that changed
 * meanwhile (another writer moved its journal) must get nothing written: its result comes
 * back uncommitted for the worker to commit on its own, while the others still commit.
 */
import type { CommitPlan, ExecutionRecord } from '@orchestr8/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore, TaskQueue } from '../src/index.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

let store: PostgresStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

const now = Date.now();
const execution = (id: string): ExecutionRecord => ({
  id,
  workflowId: 'wf',
  workflowVersion: '1.0.0',
  definitionHash: 'hash',
  status: 'running',
  inputs: {},
  createdAt: now,
  startedAt: now,
  updatedAt: now,
});

async function startOne(q: TaskQueue, id: string): Promise<void> {
  const plan: CommitPlan = {
    steps: [],
    journal: [{ seq: 0, ts: now, elapsedMs: 0, type: 'execution.started' }],
    tasks: [{ stepId: 'a', queue: 'default', self: false }],
    dropTasks: [],
  };
  await q.start(execution(id), undefined, plan, undefined);
}

describe('a round of commits', () => {
  it('commits nothing for an execution whose journal moved since it was read, and still commits the others', async () => {
    const s = await openPostgresStore({ url: server.freshSchemaUrl() });
    store = s;
    const q = new TaskQueue(s);
    await startOne(q, 'e1');
    await startOne(q, 'e2');
    const claimed = await q.claim('w1', ['default'], 10, 60_000);
    expect(claimed.map((t) => t.executionId).sort()).toEqual(['e1', 'e2']);
    // Another writer appends to e1's journal after the worker read it.
    await q.appendJournal('e1', [{ seq: 0, ts: now, elapsedMs: 1, type: 'step.retrying', stepId: 'a' }]);

    const results = await q.commitMany(
      claimed.map((t) => ({
        known: t.state,
        stepIds: ['a'],
        decide: (): CommitPlan => ({
          steps: [{ ...t.steps[0]!, status: 'completed', output: { ok: t.executionId }, finishedAt: now }],
          journal: [{ seq: 0, ts: now, elapsedMs: 2, type: 'step.completed', stepId: 'a' }],
          tasks: [],
          dropTasks: [],
        }),
      })),
      'w1',
      60_000,
    );
    const byId = new Map(claimed.map((t, i) => [t.executionId, results[i]]));
    // Contended: nothing written, and the worker is told why.
    expect(byId.get('e1')).toEqual({ status: 'contended' });
    expect(byId.get('e2')?.status).toBe('committed');

    const types = async (id: string) => (await s.readJournal(id)).map((e) => `${e.seq}:${e.type}`);
    expect(await types('e1')).toEqual(['1:execution.started', '2:step.retrying']);
    expect(await types('e2')).toEqual(['1:execution.started', '2:step.completed']);
    expect((await s.getSteps('e1')).find((x) => x.stepId === 'a')?.status).toBe('running');
    expect((await s.getSteps('e2')).find((x) => x.stepId === 'a')).toMatchObject({
      status: 'completed',
      output: { ok: 'e2' },
    });
    // e1's task is still the worker's, to commit on its own; e2's is done.
    const tasks = await s.query('tasks', 'SELECT execution_id, status, lease_owner FROM tasks ORDER BY 1');
    expect(tasks.rows).toEqual([{ execution_id: 'e1', status: 'leased', lease_owner: 'w1' }]);

    // Committed on its own as contended: under the execution's lock at once, with no
    // optimistic read first (which another worker's commit would likely beat again).
    const t1 = claimed.find((t) => t.executionId === 'e1')!;
    const before = { ...q.stats };
    const alone = await q.commit(
      'e1',
      { stepIds: ['a'], owner: 'w1' },
      (): CommitPlan => ({
        steps: [{ ...t1.steps[0]!, status: 'completed', output: { ok: 'e1' }, finishedAt: now }],
        journal: [{ seq: 0, ts: now, elapsedMs: 3, type: 'step.completed', stepId: 'a' }],
        tasks: [],
        dropTasks: [],
      }),
      { known: t1.state, contended: true },
    );
    expect(alone.status).toBe('committed');
    expect(q.stats).toEqual({ ...before, locked: before.locked + 1 });
    expect(await types('e1')).toEqual(['1:execution.started', '2:step.retrying', '3:step.completed']);
  });
});
