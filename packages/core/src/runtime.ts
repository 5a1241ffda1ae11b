import type { Tracer } from '@opentelemetry/api';
import type { Clock } from '@orchestr8/common';
import type { Resilience } from '@orchestr8/resilience';
import type { Agent, AgentLogger, AgentRegistry } from './agent.js';
import type { ResolvedCapabilities } from './capabilities.js';
import type { CircuitLog } from './circuit-log.js';
import type { EngineObserver, EventBus } from './events.js';
import type { ExecutionResult } from './execution-result.js';
import type { JournalLimits } from './journal.js';
import type { Store } from './store.js';
import type { WaitRecord } from './waits.js';
import type { WriteBatcher } from './write-batcher.js';

/** What every execution run shares with its engine. */
export interface EngineRuntime {
  readonly store: Store;
  readonly batcher: WriteBatcher;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly registry: AgentRegistry;
  readonly resilience: Resilience;
  readonly journalLimits: JournalLimits;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly capabilities: ResolvedCapabilities;
  readonly tracer: Tracer;
  /** An explicit tracer was given: trace even when no global SDK is registered. */
  readonly tracingExplicit: boolean;
  readonly logger: AgentLogger;
  readonly circuitLog: CircuitLog;
  readonly observers: readonly EngineObserver[];
  /** Resolves `agent.url` steps to a proxy for the remote agent service. */
  readonly remoteAgent: ((url: string, agentId: string) => Agent | undefined) | undefined;
  /** Starts a child execution for `ctx.runWorkflow` (set by the engine). */
  runChild: (request: ChildRequest) => Promise<{ id: string; result: Promise<ExecutionResult> }>;
  /** How far back the event inbox is searched when a wait registers (ms). */
  eventLookBackMs?: number;
  /** Told when a wait step registered a wait (the wait service schedules its timer). */
  waitRegistered?: (wait: WaitRecord) => void;
}

export interface ChildRequest {
  document: unknown;
  inputs: unknown;
  parentExecutionId: string;
  parentStepId: string;
  idempotencyKey: string;
  attempt: number;
  signal: AbortSignal;
  /** The child's nesting depth (the parent's + 1). */
  depth: number;
}

export const silentLogger: AgentLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
