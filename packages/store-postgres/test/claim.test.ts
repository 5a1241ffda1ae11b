/**
 * A claim (`TaskQueue.claim`) leases ready tasks and hands each the state of its execution
 * (record, journal counter, every step's status), which the worker plans its commit on.
 * Tasks of one execution share what is read of it; each must still get all of it.
 */
import type { CommitPlan, ExecutionRecord } from '@orchestr8/core';
import { describe, expect, it } from 'vitest';
import { Channel, openPostgresStore, TaskQueue } from '../src/index.js';
import { usePostgres } from './use-postgres.js';

const server = usePostgres();

const now = Date.now();

async function until(done: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
const execution = (id: string, inputs: unknown): ExecutionRecord => ({
  id,
  workflowId: 'wf',
  workflowVersion: '1.0.0',
  definitionHash: 'hash',
  status: 'running',
  inputs,
  createdAt: now,
  startedAt: now,
  updatedAt: now,
});

/** An execution created at `createdAt`. */
const at = (id: string, createdAt: number): ExecutionRecord => ({ ...execution(id, {}), createdAt });
/** The start of an execution: its first step's task on the default queue. */
const root = (stepId: string): CommitPlan => ({
  steps: [],
  journal: [{ seq: 0, ts: now, elapsedMs: 0, type: 'execution.started' }],
  tasks: [{ stepId, queue: 'default', self: false }],
  dropTasks: [],
});

describe('a claim', () => {
  it('gives every task of an execution the execution, its journal counter and the status of each of its steps', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      const fan = (id: string, width: number): CommitPlan => ({
        steps: [
          {
            executionId: id,
            stepId: 'root',
            status: 'completed',
            attempts: 1,
            output: { v: 1 },
            finishedAt: now,
          },
        ],
        journal: [
          { seq: 0, ts: now, elapsedMs: 0, type: 'execution.started' },
          { seq: 0, ts: now, elapsedMs: 1, type: 'step.completed', stepId: 'root' },
        ],
        tasks: Array.from({ length: width }, (_, i) => ({ stepId: `p${i}`, queue: 'default', self: false })),
        dropTasks: [],
      });
      await q.start(execution('e1', { n: 1 }), undefined, fan('e1', 4), undefined);
      await q.start(execution('e2', { n: 2 }), undefined, fan('e2', 2), undefined);

      const claimed = await q.claim('w1', ['default'], 10, 60_000);
      expect(claimed.map((t) => `${t.executionId}/${t.stepId}`).sort()).toEqual([
        'e1/p0',
        'e1/p1',
        'e1/p2',
        'e1/p3',
        'e2/p0',
        'e2/p1',
      ]);
      for (const t of claimed) {
        const n = t.executionId === 'e1' ? 1 : 2;
        expect(t.execution).toMatchObject({ id: t.executionId, status: 'running', inputs: { n } });
        expect(t.state.execution.id).toBe(t.executionId);
        expect(t.state.journalSeq).toBe(2);
        // As before the claim: the claimed steps have no record yet, the root finished.
        expect(t.state.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual(['root:completed']);
        // Its own step as the claim left it.
        expect(t.steps).toEqual([expect.objectContaining({ stepId: t.stepId, status: 'running' })]);
        expect(t.claims).toBe(1);
      }
      // A later claim of the execution sees the steps the first one started.
      await q.start(execution('e3', {}), undefined, fan('e3', 1), undefined);
      const rows = await store.query(
        'tasks',
        `UPDATE tasks SET status = 'ready' WHERE step_id = 'p0' AND execution_id = 'e1' RETURNING 1`,
      );
      expect(rows.rowCount).toBe(1);
      const again = await q.claim('w2', ['default'], 10, 60_000);
      const e1 = again.find((t) => t.executionId === 'e1');
      expect(e1?.claims).toBe(2);
      expect(e1?.state.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual([
        'root:completed',
        'p0:running',
        'p1:running',
        'p2:running',
        'p3:running',
      ]);
      expect(again.find((t) => t.executionId === 'e3')?.state.steps.map((s) => s.stepId)).toEqual(['root']);
    } finally {
      await store.close();
    }
  });

  it('takes the ready tasks of older executions first: the next steps of executions under way go before new ones', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      // Queued in this order; created in another.
      await q.start(at('middle', now - 2000), undefined, root('a'), undefined);
      await q.start(at('old', now - 3000), undefined, root('a'), undefined);
      await q.start(at('new', now - 1000), undefined, root('a'), undefined);
      const [first] = await q.claim('w1', ['default'], 1, 60_000);
      expect(first?.executionId).toBe('old');

      // The oldest execution's next step, released by its commit after the others were
      // queued, goes before them.
      const [committed] = await q.commitMany(
        [
          {
            known: first!.state,
            stepIds: ['a'],
            decide: (): CommitPlan => ({
              steps: [{ ...first!.steps[0]!, status: 'completed', output: {}, finishedAt: now }],
              journal: [{ seq: 0, ts: now, elapsedMs: 2, type: 'step.completed', stepId: 'a' }],
              tasks: [{ stepId: 'b', queue: 'default', self: false }],
              dropTasks: [],
            }),
          },
        ],
        'w1',
        60_000,
      );
      expect(committed?.status).toBe('committed');
      const order = [];
      for (let i = 0; i < 3; i++) {
        const [t] = await q.claim('w1', ['default'], 1, 60_000);
        order.push(`${t?.executionId}/${t?.stepId}`);
      }
      expect(order).toEqual(['old/b', 'middle/a', 'new/a']);
    } finally {
      await store.close();
    }
  });

  it('hands the tasks it takes in the order it picked them (oldest execution first), not by execution id', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      // Ids in the opposite order of creation.
      await q.start(at('a', now - 1000), undefined, root('s'), undefined);
      await q.start(at('b', now - 2000), undefined, root('s'), undefined);
      await q.start(at('c', now - 3000), undefined, root('s'), undefined);
      const claimed = await q.claim('w1', ['default'], 3, 60_000);
      expect(claimed.map((t) => t.executionId)).toEqual(['c', 'b', 'a']);
    } finally {
      await store.close();
    }
  });

  it('bounded by executions, takes those whose tasks were queued first among equals, not the lowest execution id', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      // Equal rank (as woken waits' tasks all are), queued in the opposite order of their ids.
      await q.start(at('z', now - 1000), undefined, root('s'), undefined);
      await q.start(at('m', now - 1000), undefined, root('s'), undefined);
      await q.start(at('a', now - 1000), undefined, root('s'), undefined);
      const order = [];
      for (let i = 0; i < 3; i++) {
        const claimed = await q.claim('w1', ['default'], 3, 60_000, { executions: 1 });
        expect(claimed).toHaveLength(1);
        order.push(claimed[0]!.executionId);
      }
      expect(order).toEqual(['z', 'm', 'a']);
    } finally {
      await store.close();
    }
  });

  it('hands the tasks of an execution after those of executions picked before it, though it has an older task', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      await q.start(at('a', now - 1000), undefined, root('s'), undefined);
      await q.start(at('b', now - 2000), undefined, root('s'), undefined);
      // A woken wait's task for a (rank 0, as all are), queued after b's; b's woken too.
      await store.query(
        'queue a woken task',
        `INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at, rank)
         VALUES ('a', 'w', 'default', 'ready', 0, 0, 0)`,
      );
      await store.query('rank b first', `UPDATE tasks SET rank = 0 WHERE execution_id = 'b'`);
      // Picked: b/s (rank 0), a/w (rank 0, queued later), a/s; b was picked first.
      const claimed = await q.claim('w1', ['default'], 3, 60_000);
      expect(claimed.map((t) => `${t.executionId}/${t.stepId}`)).toEqual(['b/s', 'a/w', 'a/s']);
    } finally {
      await store.close();
    }
  });

  it('takes only from the queues it serves, oldest execution first across them', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      const start = (id: string, createdAt: number, queue: string) =>
        q.start(
          { ...execution(id, {}), createdAt },
          undefined,
          {
            steps: [],
            journal: [{ seq: 0, ts: now, elapsedMs: 0, type: 'execution.started' }],
            tasks: [{ stepId: 'a', queue, self: false }],
            dropTasks: [],
          },
          undefined,
        );
      await start('g2', now - 2000, 'gpu');
      await start('d3', now - 3000, 'default');
      await start('c1', now - 4000, 'cpu');
      await start('g1', now - 1000, 'gpu');
      await start('d1', now - 500, 'default');
      const ids = (ts: { executionId: string }[]) => ts.map((t) => t.executionId).sort();
      expect(ids(await q.claim('w1', ['gpu', 'default'], 3, 60_000))).toEqual(['d3', 'g1', 'g2']);
      expect(ids(await q.claim('w2', ['default'], 10, 60_000))).toEqual(['d1']);
      expect(ids(await q.claim('w2', ['default', 'gpu'], 10, 60_000))).toEqual([]);
      expect(ids(await q.claim('w3', ['cpu'], 10, 60_000))).toEqual(['c1']);
    } finally {
      await store.close();
    }
  });

  it('takes many steps of few executions when bounded by executions: a fan at once, no more new executions', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      const start = (id: string, createdAt: number, width: number) =>
        q.start(
          { ...execution(id, {}), createdAt },
          undefined,
          {
            steps: [],
            journal: [{ seq: 0, ts: now, elapsedMs: 0, type: 'execution.started' }],
            tasks: Array.from({ length: width }, (_, i) => ({
              stepId: `p${i}`,
              queue: 'default',
              self: false,
            })),
            dropTasks: [],
          },
          undefined,
        );
      await start('fan', now - 3000, 5);
      await start('one', now - 2000, 1);
      await start('two', now - 1000, 1);
      const names = (ts: { executionId: string; stepId: string }[]) =>
        ts.map((t) => `${t.executionId}/${t.stepId}`).sort();
      expect(names(await q.claim('w1', ['default'], 4, 60_000, { executions: 1 }))).toEqual([
        'fan/p0',
        'fan/p1',
        'fan/p2',
        'fan/p3',
      ]);
      expect(names(await q.claim('w1', ['default'], 8, 60_000, { executions: 2 }))).toEqual([
        'fan/p4',
        'one/p0',
      ]);
      // The tasks it looked at and did not take are anyone's.
      expect(names(await q.claim('w2', ['default'], 8, 60_000))).toEqual(['two/p0']);
    } finally {
      await store.close();
    }
  });
  it('given back by its worker are ready for another worker at once (not counted as claimed), and that worker is woken; others are left alone', async () => {
    const store = await openPostgresStore({ url: server.freshSchemaUrl() });
    try {
      const q = new TaskQueue(store);
      await q.start(
        execution('e1', {}),
        undefined,
        {
          steps: [],
          journal: [{ seq: 0, ts: now, elapsedMs: 0, type: 'execution.started' }],
          tasks: Array.from({ length: 4 }, (_, i) => ({ stepId: `p${i}`, queue: 'default', self: false })),
          dropTasks: [],
        },
        undefined,
      );
      const names = (ts: { executionId: string; stepId: string }[]) =>
        ts.map((t) => `${t.executionId}/${t.stepId}`).sort();
      expect(names(await q.claim('w1', ['default'], 10, 60_000))).toHaveLength(4);
      expect(await q.claim('w2', ['default'], 10, 60_000)).toEqual([]);
      const woken: string[] = [];
      const unlisten = await store.listen(Channel.tasks, (queue) => woken.push(queue));
      try {
        // Not w2's to give back.
        expect(await q.release('w2', [{ executionId: 'e1', stepId: 'p0' }])).toBe(0);
        const back = [
          { executionId: 'e1', stepId: 'p0' },
          { executionId: 'e1', stepId: 'p1' },
          { executionId: 'e1', stepId: 'nope' },
        ];
        expect(await q.release('w1', back)).toBe(2);
        await until(() => woken.includes('default'));
      } finally {
        unlisten();
      }
      // Long before w1's 60 s leases would lapse.
      const again = await q.claim('w2', ['default'], 10, 60_000);
      expect(names(again)).toEqual(['e1/p0', 'e1/p1']);
      // A step given back never started: w2's is its first claim (`orchestr8 workers` shows
      // "claim 2" only for a step whose earlier holder lost it).
      expect(again.map((t) => t.claims)).toEqual([1, 1]);
      // w1 learns at its next heartbeat that it no longer holds them.
      const held = ['p0', 'p1', 'p2', 'p3'].map((stepId) => ({ executionId: 'e1', stepId }));
      const beat = await q.heartbeat('w1', held, [], 60_000);
      expect(names(beat.lost)).toEqual(['e1/p0', 'e1/p1']);
    } finally {
      await store.close();
    }
  });
});
