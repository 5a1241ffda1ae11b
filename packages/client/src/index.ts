/**
 * @module @orchestr8/client
 * A small typed client of the orchestr8 HTTP API (`orchestr8 serve`), on the global fetch,
 * with no dependencies. Failed calls throw an `Orchestr8ClientError` carrying the server's
 * problem details; event streams are async iterators.
 *
 * @example
 * import { createClient } from '@orchestr8/client';
 * const client = createClient({ baseUrl: 'http://127.0.0.1:8088', apiKey: process.env.ORCHESTR8_API_KEY });
 * const { execution } = await client.execute({ workflowId: 'hello-world' }, { idempotencyKey: 'order-42' });
 * for await (const e of client.events(execution.executionId)) console.log(e.event);
 * console.log(await client.getExecution(execution.executionId));
 */
export {
  type ClientOptions,
  createClient,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  type EventsOptions,
  type ExecuteOptions,
  type ExecuteResponse,
  type Orchestr8Client,
  Orchestr8ClientError,
} from './client.js';
export { networkReason } from './network-reason.js';
export { parseSse, type SseMessage } from './sse.js';
export type * from './types.js';
