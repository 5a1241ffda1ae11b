import type { Span } from '@opentelemetry/api';
import { ErrorCode, ensureError, Orchestr8Error, serializeError, ValidationError } from '@orchestr8/common';
import type { AttemptContext, ResilienceHooks, ResilienceOptions } from '@orchestr8/resilience';
import { type CompiledStep, lookupPath, renderValue, type TemplateScope } from '@orchestr8/schema';
import type { Agent, AgentContext, AgentLogger, ChildExecutionResult } from './agent.js';
import { checkAgainstSchema } from './agent-schema.js';
import { EventType } from './events.js';
import type { ExecutionRun, StepRun } from './execution-run.js';
import { createRedactor, type Redactor } from './redaction.js';
import { ATTR, endSpan, startChildSpan, withSpan } from './tracing.js';

/**
 * Runs one step to a terminal state and records it (status, output or error, journal).
 * Never throws: every failure becomes step state. Returns the step so the run can settle it.
 */
export async function runStep(run: ExecutionRun, sr: StepRun): Promise<StepRun> {
  const c = sr.compiled;
  const rec = sr.record;
  const clock = run.rt.clock;
  try {
    if (c.condition !== undefined) {
      const skip = evaluateCondition(c, run.scope);
      if (skip !== undefined) {
        run.skip(sr, skip);
        return sr;
      }
    }
    // forEach steps render their input per item (it may read ${item} / ${index}); the
    // journal records the items instead.
    let input: unknown;
    try {
      input =
        c.forEach === undefined
          ? renderValue(c.input, run.scope)
          : { items: renderValue(c.forEach.items, run.scope) };
    } catch (e) {
      rec.startedAt = clock.now();
      return fail(run, sr, asExpressionError(e, c.id), input);
    }
    rec.status = 'running';
    rec.startedAt = clock.now();
    sr.startMono = clock.monotonic();
    if (sr.resumeFrom > 0) rec.attempts = sr.resumeFrom + 1;
    else if (rec.attempts === 0) rec.attempts = 1;
    const agent = resolveAgent(run, c);
    if (run.span !== undefined) {
      sr.span = startChildSpan(run.rt.tracer, run.span, `step ${c.id}`, {
        [ATTR.stepId]: c.id,
        [ATTR.agentId]: c.agentId,
        [ATTR.executionId]: run.record.id,
      });
    }
    run.log(EventType.stepStarted, c.id, rec.attempts, {
      agent: c.agentId,
      input: redactSecretFields(agent, input),
    });
    run.saveStep(sr);

    if (agent === undefined) {
      const known = run.rt.registry
        .list()
        .map((a) => a.id)
        .join(', ');
      return fail(
        run,
        sr,
        new Orchestr8Error(
          ErrorCode.AGENT_NOT_FOUND,
          `no agent "${c.agentId}" is registered (known: ${known})`,
          {
            retryable: false,
          },
        ),
        input,
      );
    }
    let output: unknown;
    try {
      output =
        c.forEach === undefined
          ? await runAgent(run, sr, c, agent, input, undefined)
          : await runForEach(run, sr, c, agent, (input as { items: unknown }).items);
      output = applyCapture(c, output);
      if (c.outputSchema !== undefined)
        checkAgainstSchema(c.outputSchema, output, `output of step "${c.id}"`);
    } catch (e) {
      if (run.isAbandoned(sr)) return sr;
      const error = ensureError(e);
      if (run.stop !== undefined && (error.code === ErrorCode.CANCELLED || run.controller.signal.aborted)) {
        run.recordCancelled(sr, run.stop.reason);
        return sr;
      }
      return handleFailure(run, sr, agent, input, error);
    }
    if (run.isAbandoned(sr)) return sr;
    return complete(run, sr, output);
  } catch (e) {
    // Defensive: an engine bug must still leave the step in a terminal state.
    return fail(
      run,
      sr,
      new Orchestr8Error(ErrorCode.INTERNAL, 'internal error while running the step', { cause: e }),
      undefined,
    );
  }
}

function complete(run: ExecutionRun, sr: StepRun, output: unknown, aliasFor?: string): StepRun {
  const rec = sr.record;
  const clock = run.rt.clock;
  rec.status = 'completed';
  rec.output = output;
  rec.finishedAt = clock.now();
  if (aliasFor !== undefined) rec.aliasFor = aliasFor;
  const durationMs = Math.round((clock.monotonic() - sr.startMono) * 1000) / 1000;
  run.log(
    EventType.stepCompleted,
    sr.compiled.id,
    rec.attempts,
    aliasFor === undefined ? { output, durationMs } : { output, durationMs, aliasFor },
  );
  run.saveStep(sr);
  finishStepSpan(sr);
  return sr;
}

function finishStepSpan(sr: StepRun): void {
  if (sr.span === undefined) return;
  endSpan(sr.span, sr.record.status, sr.record.status === 'failed' ? sr.record.error : undefined);
  sr.span = undefined;
}

function fail(run: ExecutionRun, sr: StepRun, error: Orchestr8Error, input: unknown): StepRun {
  const c = sr.compiled;
  const rec = sr.record;
  if (error.attempts === undefined) error.attempts = rec.attempts;
  rec.status = 'failed';
  rec.error = run.errorRecord(error);
  rec.finishedAt = run.rt.clock.now();
  run.log(EventType.stepFailed, c.id, rec.attempts || undefined, { error: rec.error, onError: c.onError });
  run.saveStep(sr);
  finishStepSpan(sr);
  if (c.onError === 'fail') {
    run.halt('failed', error, `step "${c.id}" failed: ${error.message}`);
  }
  void input;
  return sr;
}

async function handleFailure(
  run: ExecutionRun,
  sr: StepRun,
  _agent: Agent,
  input: unknown,
  error: Orchestr8Error,
): Promise<StepRun> {
  const c = sr.compiled;
  if (c.onError !== 'fallback' || c.fallbackStepId === undefined) return fail(run, sr, error, input);
  const fb = run.byId.get(c.fallbackStepId)!;
  run.log(EventType.stepFallback, c.id, sr.record.attempts, {
    fallbackStepId: fb.compiled.id,
    error: serializeError(error),
  });
  const fbAgent = resolveAgent(run, fb.compiled);
  const fbRec = fb.record;
  fbRec.status = 'running';
  fbRec.startedAt = run.rt.clock.now();
  fbRec.attempts = Math.max(fbRec.attempts, 1);
  fb.startMono = run.rt.clock.monotonic();
  run.log(EventType.stepStarted, fb.compiled.id, fbRec.attempts, {
    agent: fb.compiled.agentId,
    input: redactSecretFields(fbAgent, input),
    fallbackFor: c.id,
  });
  run.saveStep(fb);
  try {
    if (fbAgent === undefined) {
      throw new Orchestr8Error(ErrorCode.AGENT_NOT_FOUND, `no agent "${fb.compiled.agentId}" is registered`, {
        retryable: false,
      });
    }
    let output = await runAgent(run, fb, fb.compiled, fbAgent, input, undefined);
    output = applyCapture(fb.compiled, output);
    if (fb.compiled.outputSchema !== undefined)
      checkAgainstSchema(fb.compiled.outputSchema, output, `output of step "${fb.compiled.id}"`);
    if (run.isAbandoned(sr)) return sr;
    complete(run, fb, output);
    fb.terminal = true;
    // The original step completes with the fallback's output standing in for its own.
    sr.record.error = run.errorRecord(error);
    return complete(run, sr, output, fb.compiled.id);
  } catch (e) {
    if (run.isAbandoned(sr)) return sr;
    const fbError = ensureError(e);
    fbRec.status = 'failed';
    fbRec.error = run.errorRecord(fbError);
    fbRec.finishedAt = run.rt.clock.now();
    fb.terminal = true;
    run.log(EventType.stepFailed, fb.compiled.id, fbRec.attempts, { error: fbRec.error, fallbackFor: c.id });
    run.saveStep(fb);
    const combined = new Orchestr8Error(
      error.code,
      `${error.message}; fallback "${fb.compiled.id}" also failed: ${fbError.message}`,
      { cause: fbError, retryable: false, attempts: sr.record.attempts },
    );
    const rec = sr.record;
    rec.status = 'failed';
    rec.error = run.errorRecord(combined);
    rec.finishedAt = run.rt.clock.now();
    run.log(EventType.stepFailed, c.id, rec.attempts, { error: rec.error, onError: c.onError });
    run.saveStep(sr);
    run.halt('failed', combined, `step "${c.id}" and its fallback "${fb.compiled.id}" failed`);
    return sr;
  }
}

function resolveAgent(run: ExecutionRun, c: CompiledStep): Agent | undefined {
  if (c.agentUrl !== undefined) return run.rt.remoteAgent?.(c.agentUrl, c.agentId);
  return run.rt.registry.get(c.agentId, c.agentVersion);
}

const fieldRedactors = new WeakMap<Agent, Redactor>();

/** Input fields an agent declares secret (e.g. `apiKey`) are journalled as `[redacted]`. */
function redactSecretFields(agent: Agent | undefined, input: unknown): unknown {
  const fields = agent?.secretFields;
  if (fields === undefined || fields.length === 0) return input;
  let r = fieldRedactors.get(agent!);
  if (r === undefined) {
    r = createRedactor([], fields);
    fieldRedactors.set(agent!, r);
  }
  return r.redact(input);
}

function evaluateCondition(c: CompiledStep, scope: TemplateScope): string | undefined {
  const cond = c.condition!;
  if (cond.if !== undefined) {
    if (!truthy(cond.if.evaluate(scope))) return `condition if "${cond.if.source}" was false`;
  }
  if (cond.unless !== undefined) {
    if (truthy(cond.unless.evaluate(scope))) return `condition unless "${cond.unless.source}" was true`;
  }
  return undefined;
}

function truthy(v: unknown): boolean {
  return Array.isArray(v) ? v.length > 0 : Boolean(v);
}

function asExpressionError(e: unknown, stepId: string): Orchestr8Error {
  const err = ensureError(e, ErrorCode.EXPRESSION);
  if (err.code === ErrorCode.EXPRESSION) return err;
  return new Orchestr8Error(ErrorCode.EXPRESSION, `step "${stepId}": ${err.message}`, {
    cause: err,
    retryable: false,
  });
}

function applyCapture(c: CompiledStep, output: unknown): unknown {
  const cap = c.capture;
  if (cap === undefined) return output;
  if (Array.isArray(cap)) return lookupPath(output, cap);
  return renderValue(
    cap as Exclude<CompiledStep['capture'], readonly unknown[] | undefined>,
    {
      steps: {},
      inputs: undefined,
      variables: undefined,
      env: {},
      item: output,
    } as TemplateScope,
  );
}

async function runForEach(
  run: ExecutionRun,
  sr: StepRun,
  c: CompiledStep,
  agent: Agent,
  items: unknown,
): Promise<unknown[]> {
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
      results[index] = await runAgent(run, sr, c, agent, input, { item, index, scope });
      if (run.controller.signal.aborted) throw run.controller.signal.reason;
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(Math.max(1, fe.concurrency), items.length); i++) workers.push(worker());
  await Promise.all(workers);
  return results;
}

interface ItemInfo {
  item: unknown;
  index: number;
  scope: TemplateScope;
}

/** Calls the agent through the resilience stack: retry(circuitBreaker(timeout(attempt))) by default. */
function runAgent(
  run: ExecutionRun,
  sr: StepRun,
  c: CompiledStep,
  agent: Agent,
  input: unknown,
  item: ItemInfo | undefined,
): Promise<unknown> {
  const rt = run.rt;
  if (agent.inputSchema !== undefined)
    checkAgainstSchema(agent.inputSchema, input, `input of agent "${agent.id}"`);
  const p = c.policies;
  const idempotencyKey = idempotencyKeyFor(run, sr, item);
  const ctxBase = { run, sr, c, agent, input, item, idempotencyKey };
  const options: ResilienceOptions = {
    signal: run.controller.signal,
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
  const hooks = options.hooks as StepHooks | undefined;
  if (hooks === undefined || options.circuitBreaker === undefined) {
    return rt.resilience.execute((actx) => callAgent(ctxBase, actx), options);
  }
  return rt.resilience
    .execute((actx) => callAgent(ctxBase, actx), options)
    .finally(() => hooks.noteCircuit());
}

/**
 * Journals what the resilience layers do for one step. A class (methods on the prototype)
 * rather than closures: one small allocation per step on the hot path.
 */
class StepHooks implements ResilienceHooks {
  private seen: number;

  constructor(
    private readonly run: ExecutionRun,
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
      run.log(EventType.stepAttempt, sr.compiled.id, e.attempt);
      run.saveStep(sr);
    }
  }

  onRetry(e: { nextAttempt: number; delayMs: number; error: Orchestr8Error }): void {
    const { run, sr } = this;
    this.noteCircuit();
    sr.record.status = 'retrying';
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

function idempotencyKeyFor(run: ExecutionRun, sr: StepRun, item: ItemInfo | undefined): string {
  const c = sr.compiled;
  let key = sr.record.idempotencyKey;
  if (key === undefined) {
    if (c.policies.idempotencyKey !== undefined) {
      key = String(renderValue(c.policies.idempotencyKey, item?.scope ?? run.scope));
    } else key = `${run.record.id}:${c.id}`;
    if (item === undefined) sr.record.idempotencyKey = key;
  }
  return item === undefined ? key : `${key}:${item.index}`;
}

interface CallBase {
  run: ExecutionRun;
  sr: StepRun;
  c: CompiledStep;
  agent: Agent;
  input: unknown;
  item: ItemInfo | undefined;
  idempotencyKey: string;
}

/**
 * The context an agent sees. `signal` is a getter: under a timeout policy the attempt's
 * AbortSignal is created only if the agent reads it (an AbortSignal costs ~2 µs).
 */
class AgentCallContext implements AgentContext {
  constructor(
    private readonly b: CallBase,
    private readonly actx: AttemptContext,
  ) {}
  get signal(): AbortSignal {
    return this.actx.signal;
  }
  get attempt(): number {
    return this.actx.attempt;
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
    return this.b.c.agentConfig;
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

async function callAgent(b: CallBase, actx: AttemptContext): Promise<unknown> {
  if (b.sr.span !== undefined) return callAgentTraced(b, actx, b.sr.span);
  const output = await b.agent.execute(b.input, new AgentCallContext(b, actx));
  if (b.agent.outputSchema !== undefined) {
    checkAgainstSchema(b.agent.outputSchema, output, `output of agent "${b.agent.id}"`);
  }
  return output;
}

/** One span per attempt, active while the agent runs so its outgoing calls carry the trace. */
async function callAgentTraced(b: CallBase, actx: AttemptContext, stepSpan: Span): Promise<unknown> {
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
    endSpan(span, err.code === ErrorCode.CANCELLED ? 'cancelled' : 'failed', serializeError(err));
    throw e;
  }
}
