import { createHash } from 'node:crypto';
import { DEFAULTS, type PolicyName, parseComposition } from './defaults.js';
import type {
  CircuitBreakerPolicyDocument,
  RetryPolicyDocument,
  StepDocument,
  WorkflowDocument,
} from './document-schema.js';
import { parseDuration } from './duration.js';
import type { CompiledExpression } from './expression.js';
import type { PathSegment } from './path.js';
import type { CompiledValue } from './template.js';

/** The compiled form the engine runs: defaults applied, templates and conditions parsed. */

export type { PolicyName };

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  jitter: 'full' | 'none';
  retryOn: readonly string[];
}

export interface CircuitBreakerPolicy {
  failureThreshold: number;
  resetTimeoutMs: number;
}

export interface ResolvedStepPolicies {
  retry: RetryPolicy;
  /** Per attempt; undefined means no limit. */
  timeoutMs?: number;
  /** Only set when circuit breaking is enabled (in the workflow or step policies). */
  circuitBreaker?: CircuitBreakerPolicy;
  idempotencyKey?: CompiledValue;
  /** Outermost first, e.g. ['retry', 'circuitBreaker', 'timeout']; absent policies are skipped. */
  composition: readonly PolicyName[];
}

export interface CompiledStep {
  id: string;
  /** Position in document.steps. */
  index: number;
  name?: string;
  document: StepDocument;
  agentId: string;
  agentVersion?: string;
  agentConfig: Record<string, unknown>;
  /** `agent.url`: the step calls a remote agent service instead of the local registry. */
  agentUrl?: string;
  input: CompiledValue;
  /** As written, without duplicates. */
  dependencies: readonly string[];
  /** Steps that list this one in their dependencies, in document order. */
  dependents: readonly string[];
  condition?: { if?: CompiledExpression; unless?: CompiledExpression };
  forEach?: { items: CompiledValue; concurrency: number };
  onError: 'fail' | 'continue' | 'fallback';
  /** "all_done": runs even when a dependency was skipped (joins after conditional branches). */
  trigger: 'all_succeeded' | 'all_done';
  fallbackStepId?: string;
  /** True when another step names this one as its fallbackStepId: it never runs on its own. */
  fallbackOnly: boolean;
  policies: ResolvedStepPolicies;
  /** `output.capture`: currently always a path into the agent's output (the CompiledValue form is reserved). */
  capture?: CompiledValue | readonly PathSegment[];
  outputSchema?: object;
  queue?: string;
  /** Set for a step that waits instead of calling an agent (its agentId is WAIT_AGENT_ID). */
  wait?: CompiledWait;
}

/** The agent id a compiled wait step carries: no agent is looked up or called for it. */
export const WAIT_AGENT_ID = '@orchestr8/wait';

/** One event a wait listens for, with its correlation condition (reads event.* and the execution's data). */
export interface CompiledWaitEvent {
  name: string;
  match?: CompiledExpression;
}

/** A step's `wait`, checked and with its templates and conditions parsed. */
export interface CompiledWait {
  kind: 'timer' | 'until' | 'event' | 'any' | 'all' | 'approval';
  /** kind timer: the delay in ms from when the wait starts. */
  delayMs?: number;
  /** kind until: renders to an ISO-8601 date-time (or epoch ms). */
  until?: CompiledValue;
  /** kinds event (one), any and all (several). */
  events?: readonly CompiledWaitEvent[];
  approval?: {
    title: CompiledValue;
    description?: CompiledValue;
    form?: object;
    approvers?: readonly string[];
  };
  timeoutMs?: number;
  /** Absent: a timeout fails the step with TIMEOUT. */
  onTimeoutOutput?: CompiledValue;
}

/** Flow control of a trigger, durations in milliseconds. */
export interface CompiledFlowControl {
  concurrency?: { limit: number; key?: CompiledValue; maxQueue: number };
  debounceMs?: number;
  batch?: { maxMs: number; maxEvents: number };
  rateLimit?: { limit: number; perMs: number; key?: CompiledValue };
}

export type OverlapPolicy = 'skip' | 'bufferOne' | 'allowAll' | 'cancelRunning';
export type CatchUpPolicy = 'none' | 'last' | 'all';

export interface CompiledSchedule {
  /** 5 or 6 fields (seconds first); exactly one of cron and everyMs. */
  cron?: string;
  everyMs?: number;
  /** IANA name; default UTC. */
  timezone: string;
  overlap: OverlapPolicy;
  catchUp: { policy: CatchUpPolicy; windowMs: number; max: number };
}

/** One entry of a document's `triggers`, checked and with its templates parsed. */
export interface CompiledTrigger {
  name: string;
  kind: 'schedule' | 'webhook' | 'event';
  schedule?: CompiledSchedule;
  webhook?: {
    /** `secret` names the context.secretRefs entry; `env` the variable holding it. */
    signature?: {
      secret: string;
      env: string;
      header: string;
      scheme: 'github' | 'stripe';
      /** "stripe": largest distance of the signed timestamp from now, ms. */
      toleranceMs: number;
    };
    dedupeHeader?: string;
  };
  event?: { name: string; condition?: CompiledExpression };
  /** Rendered with `{trigger, variables}`; absent: the body, the event data, or {}. */
  inputs?: CompiledValue;
  flow?: CompiledFlowControl;
}

export interface CompiledWorkflow {
  document: WorkflowDocument;
  id: string;
  version: string;
  /**
   * sha256 (hex) of the canonical JSON (sorted keys) of the document, without `$schema`.
   * Computed on first read and memoised: do not mutate `document`.
   */
  readonly hash: string;
  /** In document order. */
  steps: readonly CompiledStep[];
  stepById: ReadonlyMap<string, CompiledStep>;
  /** Step ids in a topological order (dependencies first, ties in document order). */
  topologicalOrder: readonly string[];
  outputs?: CompiledValue;
  variables: Record<string, unknown>;
  environmentAllowlist: readonly string[];
  /** Secret name -> the environment variable holding its value (values are redacted by the engine). */
  secretRefs: Readonly<Record<string, string>>;
  maxConcurrentSteps: number;
  globalTimeoutMs?: number;
  gracePeriodMs: number;
  /** The document's `triggers`, in document order (empty when it has none). */
  triggers: readonly CompiledTrigger[];
  /** `policies.flow`: flow control of POST /workflows/execute (concurrency and rate limit only). */
  executeFlow?: CompiledFlowControl;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  ...DEFAULTS.retry,
  retryOn: Object.freeze([...DEFAULTS.retry.retryOn]),
});

export const DEFAULT_CIRCUIT_BREAKER_POLICY: CircuitBreakerPolicy = Object.freeze({
  ...DEFAULTS.circuitBreaker,
});

export function mergeRetry(base: RetryPolicy, over: RetryPolicyDocument | undefined): RetryPolicy {
  if (!over) return base;
  return Object.freeze({
    maxAttempts: over.maxAttempts ?? base.maxAttempts,
    baseDelayMs: over.baseDelayMs === undefined ? base.baseDelayMs : parseDuration(over.baseDelayMs),
    maxDelayMs: over.maxDelayMs === undefined ? base.maxDelayMs : parseDuration(over.maxDelayMs),
    multiplier: over.multiplier ?? base.multiplier,
    jitter: over.jitter ?? base.jitter,
    retryOn: over.retryOn === undefined ? base.retryOn : Object.freeze([...over.retryOn]),
  });
}

export function mergeCircuitBreaker(
  base: CircuitBreakerPolicy,
  over: CircuitBreakerPolicyDocument | undefined,
): CircuitBreakerPolicy {
  if (!over) return base;
  return Object.freeze({
    failureThreshold: over.failureThreshold ?? base.failureThreshold,
    resetTimeoutMs:
      over.resetTimeoutMs === undefined ? base.resetTimeoutMs : parseDuration(over.resetTimeoutMs),
  });
}

/** The workflow-level policy values every step starts from. */
export interface WorkflowPolicyBase {
  retry: RetryPolicy;
  circuitBreaker?: CircuitBreakerPolicy;
  perStepTimeoutMs?: number;
  composition: readonly PolicyName[];
}

export function workflowPolicyBase(doc: WorkflowDocument): WorkflowPolicyBase {
  const p = doc.policies;
  const base: WorkflowPolicyBase = {
    retry: mergeRetry(DEFAULT_RETRY_POLICY, p?.resilience?.retry),
    composition: Object.freeze(parseComposition(p?.resilience?.composition ?? DEFAULTS.composition)),
  };
  if (p?.resilience?.circuitBreaker)
    base.circuitBreaker = mergeCircuitBreaker(DEFAULT_CIRCUIT_BREAKER_POLICY, p.resilience.circuitBreaker);
  if (p?.timeout?.perStep !== undefined) base.perStepTimeoutMs = parseDuration(p.timeout.perStep);
  return base;
}

export function resolveStepPolicies(
  base: WorkflowPolicyBase,
  step: StepDocument,
  idempotencyKey: CompiledValue | undefined,
): ResolvedStepPolicies {
  const sp = step.policies;
  const out: ResolvedStepPolicies = {
    retry: mergeRetry(base.retry, sp?.retry),
    composition: base.composition,
  };
  const timeout = sp?.timeout === undefined ? base.perStepTimeoutMs : parseDuration(sp.timeout);
  if (timeout !== undefined) out.timeoutMs = timeout;
  if (sp?.circuitBreaker)
    out.circuitBreaker = mergeCircuitBreaker(
      base.circuitBreaker ?? DEFAULT_CIRCUIT_BREAKER_POLICY,
      sp.circuitBreaker,
    );
  else if (base.circuitBreaker) out.circuitBreaker = base.circuitBreaker;
  if (idempotencyKey) out.idempotencyKey = idempotencyKey;
  return out;
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/**
 * The value with every object's keys in sorted order: objects (and arrays) whose keys
 * are already sorted, all the way down, are reused as they are, so only the unsorted
 * parts are copied.
 */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = sortedCopy(value[i]);
      if (v !== value[i] && !out) out = value.slice(0, i);
      out?.push(v);
    }
    return out ?? value;
  }
  const keys = Object.keys(value);
  const sorted = isSorted(keys);
  if (!sorted) keys.sort();
  const copies: unknown[] = new Array(keys.length);
  let changed = !sorted;
  for (let i = 0; i < keys.length; i++) {
    const orig = (value as Record<string, unknown>)[keys[i]!];
    const v = sortedCopy(orig);
    copies[i] = v;
    if (v !== orig) changed = true;
  }
  if (!changed) return value;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === '__proto__')
      Object.defineProperty(out, k, {
        value: copies[i],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[k] = copies[i];
  }
  return out;
}

/**
 * JSON with object keys sorted at every level, so equal documents give equal text. Keys
 * follow JavaScript's property order for a sorted insertion: integer-like keys first, in
 * numeric order, then the others sorted by UTF-16 code units. (Copying with sorted keys and
 * calling JSON.stringify is 2-4x faster than building the text by hand.)
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedCopy(value)) ?? 'null';
}

/** The document hash: `$schema` is an editor hint, not part of the workflow's meaning. */
export function hashDocument(doc: WorkflowDocument): string {
  const { $schema: _ignored, ...rest } = doc;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}
