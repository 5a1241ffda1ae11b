import type { AgentLogger } from './agent.js';
import type { ExecutionResult } from './execution-run.js';
import type { Store } from './store.js';
import { TERMINAL_EXECUTION_STATUSES } from './types.js';

/**
 * The result promises of runs that left memory for their waits. The run that finishes the
 * execution later in this process resolves its own (`take`); one finished by another
 * process on the same store (a second `serve`, `orchestr8 resume`) is found by `sweep`,
 * which the wait service calls on each of its looks at the store: without it, the resolver
 * (and whoever awaits the result, e.g. a trigger's concurrency slot) would be held forever.
 */
export interface ParkedResults {
  park(executionId: string, resolve: (r: ExecutionResult) => void): void;
  /** The resolver of a parked execution, removed: its run is back in this process. */
  take(executionId: string): ((r: ExecutionResult) => void) | undefined;
  readonly size: number;
  /**
   * Looks at up to `limit` parked executions in the store, least recently looked at first:
   * a finished one has its result resolved, a vanished (pruned) one is dropped.
   */
  sweep(limit?: number): Promise<void>;
}

export function createParkedResults(o: {
  store: Store;
  getResult: (executionId: string) => Promise<ExecutionResult | undefined>;
  logger: AgentLogger;
}): ParkedResults {
  // Insertion order is look order: an entry looked at moves to the end.
  const parked = new Map<string, (r: ExecutionResult) => void>();
  return {
    park(id, resolve) {
      parked.delete(id);
      parked.set(id, resolve);
    },
    take(id) {
      const r = parked.get(id);
      parked.delete(id);
      return r;
    },
    get size() {
      return parked.size;
    },
    async sweep(limit = 200) {
      const batch: [string, (r: ExecutionResult) => void][] = [];
      for (const entry of parked) {
        if (batch.length >= limit) break;
        batch.push(entry);
      }
      for (const [id, resolve] of batch) {
        // Moved to the end first: a failing look does not pin the front of the queue.
        if (parked.get(id) !== resolve) continue;
        parked.delete(id);
        parked.set(id, resolve);
        try {
          const e = await o.store.getExecution(id);
          if (parked.get(id) !== resolve) continue; // taken back meanwhile
          if (e === undefined) {
            parked.delete(id);
            continue;
          }
          if (!TERMINAL_EXECUTION_STATUSES.has(e.status)) continue;
          const r = await o.getResult(id);
          if (parked.get(id) !== resolve || r === undefined) continue;
          parked.delete(id);
          resolve(r);
        } catch (err) {
          o.logger.warn(`could not look at parked execution ${id}: ${(err as Error).message}`);
        }
      }
    },
  };
}
