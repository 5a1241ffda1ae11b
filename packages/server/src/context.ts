import type { AgentRegistry, Engine, ExecutionHandle, Store } from '@orchestr8/core';
import type { CompiledWorkflow } from '@orchestr8/schema';
import type { RequestHandler } from 'express';
import type { RouteContract } from './contracts/contract.js';
import type { EventFeed } from './event-feed.js';
import type { ServerLogger } from './problem.js';
import type { WorkflowResolver } from './workflow-resolver.js';

export type HttpMethod = 'get' | 'post' | 'put';

/** One route. The table of them drives routing, the 405 answers and the OpenAPI agreement test. */
export interface RouteDef {
  method: HttpMethod;
  /** Express syntax (`/executions/:id`). */
  path: string;
  handler: RequestHandler;
  /** What the route takes and answers: validates its requests and documents it in the OpenAPI document. */
  contract?: RouteContract;
}

/** What is open and must be let go on shutdown. */
export class Lifecycle {
  closing = false;
  /** Requests waiting for an execution's result (`Prefer: wait`): answered at once on shutdown. */
  readonly waiters = new Set<() => void>();
  /** Open event streams: ended on shutdown. */
  readonly streams = new Set<() => void>();

  releaseAll(): void {
    for (const release of [...this.waiters]) release();
    for (const end of [...this.streams]) end();
  }
}

/**
 * Flow control of `POST /workflows/execute` (`createExecuteGate()` of @orchestr8/triggers
 * honours a document's `policies.flow`): calls `start` now or later, or refuses (429).
 */
export type ExecuteGate = (
  request: { workflow: CompiledWorkflow; inputs: unknown; signal?: AbortSignal },
  start: () => Promise<ExecutionHandle>,
) => Promise<ExecutionHandle | { refused: string; detail: string; retryAfterMs?: number }>;

/** What `GET /metrics` serves: a prom-client `Registry`, or `createMetrics()` of @orchestr8/observability. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string> | string;
}

export interface ServerContext {
  engine: Engine;
  store: Store;
  registry: AgentRegistry;
  resolver: WorkflowResolver;
  feed: EventFeed;
  lifecycle: Lifecycle;
  logger: ServerLogger;
  idempotencyTtlMs: number;
  /** Upper bound of `Prefer: wait` / `?wait=`, in seconds. */
  maxWaitSeconds: number;
  keepAliveMs: number;
  ready: () => Promise<void>;
  metrics: MetricsSource | undefined;
  workers: (() => Promise<unknown>) | undefined;
  /** Resolves at the next start turn: see `startTurns`. */
  startTurn: () => Promise<void>;
  executeGate: ExecuteGate | undefined;
  /** Contracts of the routers mounted beside the built-in routes: in the served OpenAPI document. */
  routerContracts?: readonly RouteContract[];
}

/**
 * Coalesces execution starts per event-loop turn. HTTP requests arrive one per I/O
 * callback, and each callback drains its own microtasks, so every execution would reach the
 * engine's group commit alone (four SQLite transactions each). Released together from one
 * callback, the starts of a turn advance in step and share their commits.
 */
export function startTurns(): () => Promise<void> {
  let waiting: (() => void)[] = [];
  const release = () => {
    const now = waiting;
    waiting = [];
    for (const r of now) r();
  };
  return () =>
    new Promise<void>((resolve) => {
      if (waiting.push(resolve) === 1) setImmediate(release);
    });
}
