/**
 * Committing a step's result on a distributed execution: the result, its journal, the
 * deletion of its task and the tasks of the steps it releases in one transaction, planned
 * by the caller (`decide`) against the execution's state.
 *
 * Three ways, cheapest first. With a state the caller remembers from its last commit of the
 * execution, one guarded statement (one round trip). Else one statement reads the state and
 * one guarded statement writes (two). The guard checks that the execution's journal counter
 * (which every commit moves) and the committed tasks' leases are as planned on, and writes
 * nothing otherwise. When a guard fails (another commit of the execution came first), or
 * the execution stops, the commit runs under the execution's row lock.
 *
 * Locks: a commit takes its execution's row (NO KEY UPDATE), then task rows, then step
 * rows. Statements that lock several task rows take them in (execution_id, step_id) order,
 * so a worker's heartbeat and its own commits never deadlock; reclaiming and claiming skip
 * locked rows instead of waiting.
 */
import type { CommitPlan, ExecutionRecord, TaskState } from '@orchestr8/core';
import { heldWaits, notifyPlan, writePlan } from './plan-write.js';
import type { PostgresStore } from './postgres-store.js';
import { EXECUTION_SELECT, STEP_SELECT, toExecution, toStep } from './rows.js';
import { adoptExecution } from './task-adopt.js';
import { type BatchItem, commitBatch } from './task-commit-batch.js';
import { commitGuarded, commitOptimistically } from './task-commit-optimistic.js';
import {
  type BatchCommitResult,
  type CommitOptions,
  type CommitResult,
  type CommitStats,
  LIGHT_STEP_SELECT,
  type LockedExecution,
  parseStop,
  TERMINAL_EXECUTION,
} from './task-types.js';

export class Committer {
  readonly stats: CommitStats = { remembered: 0, read: 0, locked: 0, conflicts: 0 };

  constructor(private readonly store: PostgresStore) {}

  /**
   * Locks the execution, reads its state, asks `decide` for the plan and writes it: step
   * records, journal entries (numbered after the execution's last seq), the committed
   * task's deletion, new tasks (some leased at once by `finishing.owner`), the stop, the
   * finished execution record, and the notifications. `finishing` is the task whose result
   * this commits; the commit is refused ('lost') unless its lease is still the owner's.
   */
  async commit(
    executionId: string,
    finishing: { stepIds: readonly string[]; owner: string } | undefined,
    decide: (locked: LockedExecution) => CommitPlan | undefined,
    options: CommitOptions = {},
  ): Promise<CommitResult> {
    const leaseMs = options.leaseMs ?? 30_000;
    const waits = options.waits;
    if (!options.withTasks && finishing && !options.contended) {
      // Cheapest first: the state the caller remembers (one round trip), then a fresh read
      // (two), then under locks. Contended: another worker commits the execution now, and
      // a read made without its lock would likely be stale again by the write.
      const remembered =
        options.known &&
        (await commitGuarded(this.store, this.stats, options.known, finishing, decide, leaseMs, waits));
      if (remembered) {
        this.stats.remembered++;
        return remembered;
      }
      const read = await commitOptimistically(
        this.store,
        this.stats,
        executionId,
        finishing,
        decide,
        leaseMs,
        waits,
      );
      if (read) {
        this.stats.read++;
        return read;
      }
    }
    this.stats.locked++;
    const result = await this.store.transaction('commit a step', async (tx): Promise<CommitResult> => {
      // NO KEY UPDATE, not UPDATE: it serialises commits of one execution but not the
      // foreign-key checks (KEY SHARE) of a concurrent claim inserting that execution's step
      // rows; with FOR UPDATE the two would deadlock over the task rows the claim holds.
      const ex = await tx.query(
        `SELECT ${EXECUTION_SELECT}, distributed, journal_seq, stop FROM executions WHERE id = $1 FOR NO KEY UPDATE`,
        [executionId],
        'o8_lock_execution',
      );
      const row = ex.rows[0];
      const held: string[] = [];
      if (finishing) {
        const mine = await tx.query(
          `SELECT step_id, status, lease_owner FROM tasks WHERE execution_id = $1 AND step_id = ANY($2::text[])
           ORDER BY step_id FOR UPDATE`,
          [executionId, finishing.stepIds],
          'o8_lock_my_tasks',
        );
        for (const t of mine.rows) {
          if (t.status === 'leased' && t.lease_owner === finishing.owner) held.push(t.step_id as string);
        }
        if (held.length === 0) return { status: 'lost' as const };
      }
      const execution = row && toExecution(row);
      if (!row || !execution || !row.distributed || TERMINAL_EXECUTION.has(execution.status)) {
        if (held.length > 0) {
          await tx.query('DELETE FROM tasks WHERE execution_id = $1 AND step_id = ANY($2::text[])', [
            executionId,
            held,
          ]);
        }
        return { status: 'gone' as const };
      }
      const stop = parseStop(row.stop);
      const tasks = new Map<string, TaskState>();
      if (options.withTasks || stop) {
        const taskRows = await tx.query(
          'SELECT step_id, status FROM tasks WHERE execution_id = $1 ORDER BY step_id FOR UPDATE',
          [executionId],
          'o8_lock_tasks',
        );
        // Tasks of this worker whose leases it lost are someone else's now: they count as running.
        const committing = new Set(held);
        for (const t of taskRows.rows) {
          if (!committing.has(t.step_id as string)) tasks.set(t.step_id as string, t.status as TaskState);
        }
      }
      const readSteps = async (full: boolean) =>
        (
          await tx.query(
            full
              ? `SELECT ${STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`
              : `SELECT ${LIGHT_STEP_SELECT} FROM steps WHERE execution_id = $1 ORDER BY ord`,
            [executionId],
            full ? 'o8_get_steps' : 'o8_get_light_steps',
          )
        ).rows.map(toStep);
      const locked: LockedExecution = {
        execution,
        finishing: held,
        stop,
        journalSeq: row.journal_seq as number,
        steps: await readSteps(false),
        full: false,
        tasks,
      };
      let plan = decide(locked);
      if (plan?.finished) {
        // Finishing renders the outputs: plan again with the steps' outputs.
        locked.steps = await readSteps(true);
        locked.full = true;
        plan = decide(locked);
      }
      if (!plan) return { status: 'gone' as const };
      const dropped = [...plan.dropTasks, ...held];
      const lastSeq = locked.journalSeq + plan.journal.length;
      const r = await writePlan(
        tx,
        execution,
        locked.journalSeq,
        plan,
        dropped,
        finishing?.owner,
        leaseMs,
        undefined,
        waits && heldWaits(waits, held, plan),
      );
      return {
        status: 'committed' as const,
        locked,
        plan,
        lastSeq,
        leaseExpiresAt: (r.rows[0]?.lease_expires_at as number | undefined) ?? 0,
      };
    });
    if (result.status === 'committed')
      notifyPlan(this.store, result.locked.execution, result.locked.journalSeq, result.plan);
    return result;
  }

  /**
   * Commits the step results of many executions in one guarded statement (see
   * task-commit-batch.ts). Per item: its result; 'contended' when its execution changed since
   * it was planned on (another worker's commit, a lease taken back: commit it with `commit`
   * and `contended`); undefined when the batch did not take it (commit it with `commit`).
   */
  commitMany(items: readonly BatchItem[], owner: string, leaseMs: number): Promise<BatchCommitResult[]> {
    return commitBatch(this.store, this.stats, items, owner, leaseMs, (locked, plan) =>
      notifyPlan(this.store, locked.execution, locked.journalSeq, plan),
    );
  }

  /**
   * Hands an execution an in-process engine ran (and died with) to the workers: marks it
   * distributed, then writes the plan `decide` makes from its full state (its journal goes
   * on after its last seq). 'gone' when it is distributed already or finished.
   */
  adopt(
    executionId: string,
    decide: (locked: LockedExecution) => CommitPlan | undefined,
    deadlineFor: (execution: ExecutionRecord) => number | undefined,
  ): Promise<CommitResult> {
    return adoptExecution(this.store, executionId, decide, deadlineFor);
  }
}
