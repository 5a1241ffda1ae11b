/**
 * @module @orchestr8/server
 * The orchestr8 HTTP API (express 5): start executions (asynchronously, or waiting with
 * `Prefer: wait`), idempotently with `Idempotency-Key`; register workflows; list, read,
 * cancel and follow executions (NDJSON journals, Server-Sent Events). Errors are RFC 9457
 * problems with stable codes. `orchestr8 serve` runs it; `GET /openapi.json` describes it.
 *
 * @example
 * import { createEngine } from '@orchestr8/core';
 * import { builtinAgents, createAgentRegistry } from '@orchestr8/agent-base';
 * import { openSqliteStore } from '@orchestr8/store-sqlite';
 * import { createServer } from '@orchestr8/server';
 *
 * const store = await openSqliteStore({ path: './.orchestr8/orchestr8.db' });
 * const registry = createAgentRegistry(builtinAgents);
 * const engine = createEngine({ registry, store });
 * await engine.resumeAll();
 * const listener = await createServer({ engine, registry }).listen(8088, '127.0.0.1');
 * process.once('SIGTERM', async () => {
 *   await Promise.all([listener.close({ graceMs: 5000 }), engine.shutdown({ graceMs: 5000 })]);
 *   await store.close();
 * });
 */
export { parseAllowedHosts } from './allowed-hosts.js';
export { isLoopbackHost, parseApiKeys } from './auth.js';
export { parseByteSize } from './body.js';
export type { MetricsSource } from './context.js';
// Route contracts: how a router of another package declares, validates and documents its routes.
export {
  type BodySpec,
  component,
  defineRoute,
  documented,
  empty,
  type HeaderSpec,
  header,
  json,
  problem,
  queryInt,
  queryList,
  queryString,
  type RequestInput,
  type ResponseSpec,
  type RouteContract,
  shared,
} from './contracts/contract.js';
export { type ContractHandler, validated } from './contracts/route.js';
export { parseRequest } from './contracts/validate.js';
export { IDEMPOTENCY_KEY_MAX_LENGTH, parseIdempotencyKey, requestFingerprint } from './idempotency.js';
export { openApiDocument } from './openapi.js';
export { type Problem, ProblemCode, type ServerLogger } from './problem.js';
export type { RateLimitOptions } from './rate-limit.js';
export type { EventHook } from './routes/waits.js';
export {
  createServer,
  type ExtraRouter,
  type Listener,
  type Orchestr8Server,
  type ServerOptions,
} from './server.js';
