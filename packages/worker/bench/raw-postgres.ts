/**
 * What PostgreSQL itself allows for the rows a distributed W3 execution leaves, written as
 * cheaply as we know how: the store's schema (its tables, indexes and foreign keys), one
 * connection, 100 executions a round moving in lockstep, one statement per transaction, each
 * statement covering the whole round. Per round: the start (100 executions, their first
 * journal entry, task `a`), then for each wave (`a`, `b1`–`b8`, `z`) a claim (tasks leased,
 * step rows written `running`) and a commit (step rows completed with their output, two
 * journal entries a step, the tasks deleted, the next wave's tasks, the executions' journal
 * counters; the last commit also completes the executions). 22 journal entries an execution,
 * as the engine writes. No engine, no worker, no notifications, no reads: a floor, not a
 * design (the engine commits each execution when its step finishes, not in lockstep).
 */
import type { PostgresStore } from '@orchestr8/store-postgres';

const WAVES: string[][] = [['a'], ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8'], ['z']];
const OUTPUT = JSON.stringify({ ok: true, n: 1 });

export interface RawPostgresResult {
  steps: number;
  ms: number;
}

/** Writes `executions` W3 executions (a multiple of `round`) through `store`'s connections. */
export async function rawPostgresW3(
  store: PostgresStore,
  executions: number,
  round = 100,
): Promise<RawPostgresResult> {
  const q = (name: string, text: string, values: unknown[]) => store.query('raw bench', text, values, name);
  if (executions % round !== 0)
    throw new Error(`raw bench: ${executions} executions is not a multiple of ${round}`);
  const owner = 'raw-bench';
  const t0 = performance.now();
  for (let r = 0; r < executions / round; r++) {
    const now = Date.now();
    const ids = Array.from({ length: round }, (_, i) => `raw-${r}-${i}-${now}`);
    await q(
      'raw_start',
      `WITH e AS (
         INSERT INTO executions (id, workflow_id, workflow_version, definition_hash, status, inputs, created_at, started_at, updated_at, journal_seq, distributed)
         SELECT id, 'w3', '1', 'h', 'running', '{}', $2::int8, $2, $2, 1, true FROM unnest($1::text[]) AS x(id)
       ), j AS (
         INSERT INTO journal (execution_id, seq, ts, elapsed_ms, type, data)
         SELECT id, 1, $2, 0, 'execution.started', '{}' FROM unnest($1::text[]) AS x(id)
       )
       INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at, rank)
       SELECT id, 'a', 'default', 'ready', $2, $2, $2 FROM unnest($1::text[]) AS x(id)`,
      [ids, now],
    );
    let seq = 1;
    for (let w = 0; w < WAVES.length; w++) {
      const wave = WAVES[w]!;
      const e = ids.flatMap((id) => wave.map(() => id));
      const s = ids.flatMap(() => wave);
      await q(
        'raw_claim',
        `WITH c AS (
           UPDATE tasks t SET status = 'leased', lease_owner = $3, lease_expires_at = $4::int8 + 30000, claims = t.claims + 1
           FROM unnest($1::text[], $2::text[]) AS x(e, s)
           WHERE t.execution_id = x.e AND t.step_id = x.s
           RETURNING t.execution_id, t.step_id
         )
         INSERT INTO steps (execution_id, step_id, status, attempts, started_at)
         SELECT execution_id, step_id, 'running', 0, $4::int8 FROM c`,
        [e, s, owner, Date.now()],
      );
      const next = WAVES[w + 1];
      const last = next === undefined;
      const done = Date.now();
      const je: string[] = [];
      const js: number[] = [];
      const jt: string[] = [];
      const jstep: (string | null)[] = [];
      for (const id of ids) {
        let n = seq;
        for (const step of wave) {
          je.push(id, id);
          js.push(++n, ++n);
          jt.push('step.started', 'step.completed');
          jstep.push(step, step);
        }
        if (last) {
          je.push(id);
          js.push(++n);
          jt.push('execution.completed');
          jstep.push(null);
        }
      }
      const newSeq = seq + wave.length * 2 + (last ? 1 : 0);
      const ne = next ? ids.flatMap((id) => next.map(() => id)) : [];
      const ns = next ? ids.flatMap(() => next) : [];
      await q(
        'raw_commit',
        `WITH s AS (
           UPDATE steps st SET status = 'completed', attempts = 1, output = $5::text, finished_at = $6::int8
           FROM unnest($1::text[], $2::text[]) AS x(e, s)
           WHERE st.execution_id = x.e AND st.step_id = x.s
         ), j AS (
           INSERT INTO journal (execution_id, seq, ts, elapsed_ms, type, step_id, attempt, data)
           SELECT e, q, $6, 1, t, s, 1, $5 FROM unnest($7::text[], $8::int8[], $9::text[], $10::text[]) AS x(e, q, t, s)
         ), d AS (
           DELETE FROM tasks t USING unnest($1::text[], $2::text[]) AS x(e, s)
           WHERE t.execution_id = x.e AND t.step_id = x.s
         ), n AS (
           INSERT INTO tasks (execution_id, step_id, queue, status, available_at, created_at, rank)
           SELECT e, s, 'default', 'ready', $6, $6, $6 FROM unnest($11::text[], $12::text[]) AS x(e, s)
         )
         UPDATE executions SET journal_seq = $4, updated_at = $6,
           status = CASE WHEN $13::boolean THEN 'completed' ELSE status END,
           result = CASE WHEN $13 THEN $5 ELSE result END,
           finished_at = CASE WHEN $13 THEN $6 ELSE finished_at END
         WHERE id = ANY($3::text[])`,
        [e, s, ids, newSeq, OUTPUT, done, je, js, jt, jstep, ne, ns, last],
      );
      seq = newSeq;
    }
  }
  const steps = executions * WAVES.flat().length;
  return { steps, ms: performance.now() - t0 };
}
