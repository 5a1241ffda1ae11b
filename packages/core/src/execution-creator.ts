import type { CreateExecutionResult, IdempotencyClaim, Store } from './store.js';
import type { ExecutionRecord } from './types.js';

/** Creates executions, durably, before they run. */
export type CreateExecution = (
  execution: ExecutionRecord,
  claim?: IdempotencyClaim,
) => Promise<CreateExecutionResult>;

interface Pending {
  execution: ExecutionRecord;
  claim?: IdempotencyClaim;
  resolve(r: CreateExecutionResult): void;
  reject(e: unknown): void;
}

/**
 * Group commit for new executions: those started in one turn of the event loop (a burst of
 * `POST /events`, webhooks or executes, each its own request) are created in one
 * transaction after the turn, when the store can (`Store.createExecutions`); each caller
 * still hears only once its execution is durable. Other stores create one by one.
 */
export function createExecutionCreator(store: Store): CreateExecution {
  if (store.createExecutions === undefined) return (e, claim) => store.createExecution(e, claim);
  let turn: Pending[] | undefined;
  const flush = () => {
    const items = turn!;
    turn = undefined;
    store.createExecutions!(items).then(
      (results) => {
        for (let i = 0; i < items.length; i++) {
          const r = results[i];
          if (r === undefined) items[i]!.reject(new Error('the store answered fewer creations than asked'));
          else if (r.status === 'fulfilled') items[i]!.resolve(r.value);
          else items[i]!.reject(r.reason);
        }
      },
      (e: unknown) => {
        for (const p of items) p.reject(e);
      },
    );
  };
  return (execution, claim) =>
    new Promise<CreateExecutionResult>((resolve, reject) => {
      if (turn === undefined) {
        turn = [];
        setImmediate(flush);
      }
      turn.push({ execution, ...(claim !== undefined ? { claim } : {}), resolve, reject });
    });
}
