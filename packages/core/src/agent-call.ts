/**
 * Calling a step's agent: directly for a first attempt that needs no policy layer, through
 * the resilience stack otherwise (and for retries), once per item for forEach steps.
 */
import type { Span } from '@opentelemetry/api';
import {
  ErrorCode,
  ensureError,
  type Orchestr8Error,
  serializeError,
  ValidationError,
} from '@orchestr8/common';
import type { AttemptContext, ResilienceHooks, ResilienceOptions } from '@orchestr8/resilience';
import { type CompiledStep, renderValue, type TemplateScope } from '@orchestr8/schema';
import type { Agent, AgentContext, AgentLogger, ChildExecutionResult } from './agent.js';
import { checkAgainstSchema } from './agent-schema.js';
import type { ResolvedCapabilities } from './capabilities.js';
import { EventType } from './events.js';
import type { RunHost, StepRun } from './run-host.js';
import { ATTR, endSpan, startChildSpan, withSpan } from './tracing.js';

/** A forEach step: the agent once per item, under the step's own bound; outputs in item order. */
export async function runForEach(call: StepCall, items: unknown): Promise<unknown[]> {
  const { run, sr, c, agent } = call;
  const fe = c.forEach!;
  if (!Array.isArray(items)) {
    throw new ValidationError(
      `forEach of step "${c.id}" expected an array, got ${items === null ? 'null' : typeof items}`,
    );
  }
  const results = new Array<unknown>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      const item = items[index];
      const scope: TemplateScope = { ...run.scope, item, index };
      const input = renderValue(c.input, scope);
      const itemCall = new StepCall(run, sr, agent, input, { item, index, scope });
      results[index] = await runAgent(itemCall);
      if (run.cancelToken.aborted) throw run.cancelToken.reason;
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(Math.max(1, fe.concurrency), items.length); i++) workers.push(worker());
  await Promise.all(workers);
  return results;
}

export interface ItemInfo {
  item: unknown;
  index: number;
  scope: TemplateScope;
}

/** Calls the agent through the resilience stack: retry(circuitBreaker(timeout(attempt))) by default. */
export function runAgent(call: StepCall): Promise<unknown> {
  const { run, agent, input } = call;
  if (agent.inputSchema !== undefined)
    checkAgainstSchema(agent.inputSchema, input, `input of agent "${agent.id}"`);
  const options = policyOptions(call);
  const hooks = options.hooks as StepHooks | undefined;
  const attempt = (actx: AttemptContext) => callAgent(call, actx);
  if (hooks === undefined || options.circuitBreaker === undefined) {
    return run.rt.resilience.execute(attempt, options);
  }
  return run.rt.resilience.execute(attempt, options).finally(() => hooks.noteCircuit());
}

/**
 * Whether the first attempt can call the agent directly, without the resilience stack: no
 * layer needs setting up before it (no timeout, no breaker), no trace span, not a forEach,
 * and no attempts used up before a restart. Retries, if any, go through the stack.
 */
export function canCallDirectly(call: StepCall): boolean {
  const p = call.c.policies;
  return (
    p.timeoutMs === undefined &&
    p.circuitBreaker === undefined &&
    call.sr.resumeFrom === 0 &&
    call.sr.span === undefined &&
    call.c.forEach === undefined
  );
}

/** After a direct first attempt failed: retries as the policy says, or rejects with the error. */
export function continueAfterFailure(call: StepCall, error: unknown): Promise<unknown> {
  return call.run.rt.resilience.continueAfterFailure(
    (actx) => callAgent(call, actx),
    policyOptions(call),
    error,
  );
}

function policyOptions(call: StepCall): ResilienceOptions {
  const { run, sr, c, agent, input, item } = call;
  const rt = run.rt;
  const p = c.policies;
  const options: ResilienceOptions = {
    cancel: run.cancelToken,
    clock: rt.clock,
    composition: p.composition,
  };
  if (p.retry.maxAttempts > 1) options.retry = p.retry;
  if (p.timeoutMs !== undefined) options.timeoutMs = p.timeoutMs;
  if (p.circuitBreaker !== undefined) {
    const target = agent.target?.(input, c.agentConfig);
    options.circuitBreaker = { key: target ? `${agent.id}|${target}` : agent.id, ...p.circuitBreaker };
  }
  if (item === undefined && sr.resumeFrom > 0) options.startAttempt = sr.resumeFrom;
  if (
    options.retry !== undefined ||
    options.timeoutMs !== undefined ||
    options.circuitBreaker !== undefined
  ) {
    options.hooks = new StepHooks(run, sr, options.circuitBreaker?.key);
  }
  return options;
}

/**
 * Journals what the resilience layers do for one step. A class (methods on the prototype)
 * rather than closures: one small allocation per step on the hot path.
 */
class StepHooks implements ResilienceHooks {
  private seen: number;

  constructor(
    private readonly run: RunHost,
    private readonly sr: StepRun,
    private readonly key: string | undefined,
  ) {
    this.seen = run.rt.circuitLog.n;
  }

  /** Journals the transitions of this step's circuit since it last looked. */
  noteCircuit(): void {
    const key = this.key;
    if (key === undefined) return;
    const changes = this.run.rt.circuitLog.since(this.seen, key);
    this.seen = this.run.rt.circuitLog.n;
    if (changes === undefined) return;
    for (const c of changes) {
      const type =
        c.to === 'open'
          ? EventType.circuitOpened
          : c.to === 'halfOpen'
            ? EventType.circuitHalfOpen
            : EventType.circuitClosed;
      this.run.log(type, this.sr.compiled.id, this.sr.record.attempts, { key, from: c.from, to: c.to });
    }
  }

  onAttempt(e: { attempt: number }): void {
    const { run, sr } = this;
    this.noteCircuit();
    if (e.attempt > sr.record.attempts) sr.record.attempts = e.attempt;
    if (e.attempt > 1) {
      sr.record.status = 'running';
      if (sr.record.nextAttemptAt !== undefined) sr.record.nextAttemptAt = undefined;
      run.log(EventType.stepAttempt, sr.compiled.id, e.attempt);
      run.saveStep(sr);
    }
  }

  onRetry(e: { nextAttempt: number; delayMs: number; error: Orchestr8Error }): void {
    const { run, sr } = this;
    this.noteCircuit();
    sr.record.status = 'retrying';
    sr.record.nextAttemptAt = run.rt.clock.now() + Math.round(e.delayMs);
    run.log(EventType.stepRetrying, sr.compiled.id, e.nextAttempt - 1, {
      nextAttempt: e.nextAttempt,
      delayMs: Math.round(e.delayMs),
      error: serializeError(e.error),
    });
    run.saveStep(sr);
  }

  onTimeout(e: { attempt: number; timeoutMs: number }): void {
    this.run.log(EventType.timeoutExceeded, this.sr.compiled.id, e.attempt, { timeoutMs: e.timeoutMs });
  }

  onCircuitRejected(e: { key: string; retryAfterMs: number }): void {
    this.noteCircuit();
    this.run.log(EventType.circuitRejected, this.sr.compiled.id, this.sr.record.attempts, {
      key: e.key,
      retryAfterMs: e.retryAfterMs,
    });
  }
}

export function idempotencyKeyFor(run: RunHost, sr: StepRun, item: ItemInfo | undefined): string {
  const c = sr.compiled;
  let key = sr.record.idempotencyKey;
  if (key === undefined) {
    if (c.policies.idempotencyKey !== undefined) {
      key = String(renderValue(c.policies.idempotencyKey, item?.scope ?? run.scope));
    } else key = run.stepKeyPrefix + c.id;
    if (item === undefined) sr.record.idempotencyKey = key;
  }
  return item === undefined ? key : `${key}:${item.index}`;
}

/** One call of a step's agent (or of one forEach item): what every attempt shares. */
export class StepCall {
  readonly c: CompiledStep;
  readonly idempotencyKey: string;

  constructor(
    readonly run: RunHost,
    readonly sr: StepRun,
    readonly agent: Agent,
    readonly input: unknown,
    readonly item: ItemInfo | undefined,
  ) {
    this.c = sr.compiled;
    // A forEach step's keys are per item (its own call never reaches the agent).
    this.idempotencyKey =
      this.c.forEach !== undefined && item === undefined ? '' : idempotencyKeyFor(run, sr, item);
  }
}

/**
 * The context an agent sees. `signal` is a getter: the AbortSignal is created only if the
 * agent reads it (an AbortSignal costs ~2 µs). Without `actx`, it is a direct first attempt.
 */
export class AgentCallContext implements AgentContext {
  constructor(
    private readonly b: StepCall,
    private readonly actx: AttemptContext | undefined,
  ) {}
  get signal(): AbortSignal {
    return this.actx !== undefined ? this.actx.signal : this.b.run.cancelToken.signal;
  }
  get attempt(): number {
    return this.actx !== undefined ? this.actx.attempt : 1;
  }
  get executionId(): string {
    return this.b.run.record.id;
  }
  get stepId(): string {
    return this.b.c.id;
  }
  get idempotencyKey(): string {
    return this.b.idempotencyKey;
  }
  get config(): Readonly<Record<string, unknown>> {
    return this.b.run.grants.configs.get(this.b.c.id) ?? this.b.c.agentConfig;
  }
  get capabilities(): ResolvedCapabilities {
    return this.b.run.rt.capabilities;
  }
  get logger(): AgentLogger {
    return this.b.run.rt.logger;
  }
  get item(): unknown {
    return this.b.item?.item;
  }
  get index(): number | undefined {
    return this.b.item?.index;
  }
  async runWorkflow(document: unknown, options: { inputs?: unknown } = {}): Promise<ChildExecutionResult> {
    const { run, c } = this.b;
    const child = await run.rt.runChild({
      document,
      inputs: options.inputs,
      parentExecutionId: run.record.id,
      parentStepId: c.id,
      // Stable across retries and crash re-runs: the same child execution is found again.
      idempotencyKey: `${this.idempotencyKey}:child`,
      attempt: this.attempt,
      signal: this.signal,
      depth: run.depth + 1,
    });
    run.log(EventType.stepChild, c.id, this.attempt, { childExecutionId: child.id });
    return child.result;
  }

  toJSON(): Record<string, unknown> {
    return {
      executionId: this.executionId,
      stepId: this.stepId,
      attempt: this.attempt,
      idempotencyKey: this.idempotencyKey,
    };
  }
}

async function callAgent(b: StepCall, actx: AttemptContext): Promise<unknown> {
  if (b.sr.span !== undefined) return callAgentTraced(b, actx, b.sr.span);
  const output = await b.agent.execute(b.input, new AgentCallContext(b, actx));
  if (b.agent.outputSchema !== undefined) {
    checkAgainstSchema(b.agent.outputSchema, output, `output of agent "${b.agent.id}"`);
  }
  return output;
}

/** One span per attempt, active while the agent runs so its outgoing calls carry the trace. */
async function callAgentTraced(b: StepCall, actx: AttemptContext, stepSpan: Span): Promise<unknown> {
  const span = startChildSpan(b.run.rt.tracer, stepSpan, `attempt ${b.c.id} #${actx.attempt}`, {
    [ATTR.stepId]: b.c.id,
    [ATTR.agentId]: b.agent.id,
    [ATTR.attempt]: actx.attempt,
  });
  try {
    const output = await withSpan(span, () => b.agent.execute(b.input, new AgentCallContext(b, actx)));
    if (b.agent.outputSchema !== undefined) {
      checkAgainstSchema(b.agent.outputSchema, output, `output of agent "${b.agent.id}"`);
    }
    endSpan(span, 'completed');
    return output;
  } catch (e) {
    const err = ensureError(e);
    // errorRecord: serialised with secrets redacted, as the step's record will hold it.
    endSpan(span, err.code === ErrorCode.CANCELLED ? 'cancelled' : 'failed', b.run.errorRecord(err));
    throw e;
  }
}
