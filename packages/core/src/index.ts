/**
 * @module @orchestr8/core
 * The orchestr8 engine: runs a compiled workflow document as a DAG with bounded
 * concurrency, resilience policies per step, a capped and redacted journal, events, and
 * durable state in a pluggable `Store`.
 *
 * @example
 * import { createEngine } from '@orchestr8/core';
 * import { createAgentRegistry, builtinAgents } from '@orchestr8/agent-base';
 * import { loadWorkflowFile } from '@orchestr8/schema';
 * const { workflow } = await loadWorkflowFile('workflows/hello-world.yaml');
 * const engine = createEngine({ registry: createAgentRegistry(builtinAgents) });
 * const result = await engine.execute(workflow!, { inputs: { name: 'Ada' } });
 */

/** The rule every agent id follows, in documents and in `defineAgent` alike. */
export { AGENT_ID_PATTERN } from '@orchestr8/schema';
export type { Agent, AgentContext, AgentLogger, AgentRegistry, ChildExecutionResult } from './agent.js';
export { checkAgainstSchema } from './agent-schema.js';
export { type ApprovalView, approvalPage, approvalView } from './approval-page.js';
export {
  type Capabilities,
  CapabilityError,
  type CapabilityProblem,
  DEFAULT_MAX_WORKFLOW_DEPTH,
  type EgressPolicy,
  envReadable,
  GrantDenied,
  type ResolvedCapabilities,
  resolveCapabilities,
} from './capabilities.js';
export {
  createEngine,
  type Engine,
  type EngineOptions,
  type ExecutionHandle,
  type OperationKey,
  type RerunOptions,
  type RetryHandle,
  type RetryOptions,
  type StartOptions,
} from './engine.js';
export {
  type EngineEvent,
  type EngineObserver,
  EventBus,
  type EventHandler,
  EventType,
  type SubscribeOptions,
  type Subscription,
} from './events.js';
export {
  assertSameRequest,
  checkedInputs,
  type ExecutionRequest,
  newExecution,
  storeDefinition,
} from './execution-request.js';
export { buildResult, type ExecutionResult, type StepResultView } from './execution-run.js';
export { grantWorkflow, type WorkflowGrants } from './grants.js';
export {
  DEFAULT_JOURNAL_LIMITS,
  type JournalLimits,
  TRUNCATED,
  type TruncatedField,
  UNSERIALIZABLE,
} from './journal.js';
export {
  createMemoryStore,
  DEFAULT_MAX_FINISHED_EXECUTIONS,
  DEFAULT_MAX_FINISHED_JOURNAL_ENTRIES,
  definitionConflict,
  latestDefinition,
  type MemoryStoreOptions,
} from './memory-store.js';
export { rerunOf, rerunPrefix } from './operations.js';
/** Record <-> row mapping for SQL store implementations. */
export * as paging from './paging.js';
export { decideStep, type Readiness } from './readiness.js';
export {
  createRedactor,
  MIN_SUBSTRING_SECRET,
  noRedaction,
  REDACTED,
  REDACTED_TOO_DEEP,
  type Redactor,
  secretValuesOf,
} from './redaction.js';
export type { RerunPlan } from './rerun-plan.js';
export * as sqlRows from './sql-rows.js';
export * from './step-task.js';
export type {
  CancelRequest,
  CreateExecutionResult,
  ExecutionQuery,
  IdempotencyClaim,
  Page,
  ReopenResult,
  Store,
  StoreWrite,
} from './store.js';
export * from './types.js';
export {
  createViewRedaction,
  redactorForDefinition,
  secretRefsOfDocument,
  type ViewRedaction,
} from './view-redaction.js';
export { correlationOf, eventKeyValue, waitIndexKeys } from './wait-correlation.js';
export {
  type ApprovalsQuery,
  createWaitService,
  type Decision,
  type DecisionResult,
  type EventDelivery,
  type EventInput,
  type SignalOptions,
  type WaitService,
  type WaitServiceOptions,
} from './wait-service.js';
export {
  compareWaits,
  DEFAULT_EVENT_LOOK_BACK_MS,
  eventView,
  offerRecentEvents,
  receiveEvent,
  type StoredAnswer,
  type WaitApproval,
  type WaitCorrelation,
  type WaitCursor,
  type WaitEvent,
  type WaitIndexKey,
  type WaitKind,
  type WaitOutcome,
  type WaitQuery,
  type WaitRecord,
  type WaitStore,
  waitId,
} from './waits.js';
export {
  type CompileOptions,
  compiledOrThrow,
  createWorkflowCompiler,
  type WorkflowCompiler,
} from './workflow-compiler.js';
