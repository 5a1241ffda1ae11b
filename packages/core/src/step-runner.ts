import { ErrorCode, ensureError, Orchestr8Error, serializeError } from '@orchestr8/common';
import { type CompiledStep, lookupPath, renderValue, type TemplateScope } from '@orchestr8/schema';
import type { Agent } from './agent.js';
import {
  AgentCallContext,
  canCallDirectly,
  continueAfterFailure,
  runAgent,
  runForEach,
  StepCall,
} from './agent-call.js';
import { checkAgainstSchema } from './agent-schema.js';
import { EventType } from './events.js';
import { createRedactor, type Redactor } from './redaction.js';
import type { RunHost, StepRun } from './run-host.js';
import { ATTR, endSpan, startChildSpan } from './tracing.js';

/**
 * Runs one step to a terminal state and records it (status, output or error, journal), then
 * tells the run (`stepDone`). Never throws: failures become step state. The common case, a
 * first attempt that needs no policy layer, calls the agent directly: no promise of the
 * engine's own per step, none at all when the agent returns synchronously.
 */
export function runStep(run: RunHost, sr: StepRun): void {
  if (sr.compiled.wait !== undefined) {
    run.runWaitStep(sr);
    return;
  }
  let call: StepCall | undefined;
  try {
    call = beginStep(run, sr);
  } catch (e) {
    internalError(run, sr, e);
    return;
  }
  if (call === undefined) {
    run.stepDone(sr);
    return;
  }
  if (canCallDirectly(call)) {
    firstAttempt(call);
    return;
  }
  let pending: Promise<unknown>;
  try {
    const due = sr.record.nextAttemptAt;
    const wait = due === undefined ? 0 : due - run.rt.clock.now();
    pending =
      wait > 0
        ? afterBackoff(call, wait)
        : call.c.forEach === undefined
          ? runAgent(call)
          : runForEach(call, (call.input as { items: unknown }).items);
  } catch (e) {
    failed(call, e);
    return;
  }
  void awaitOutput(call, pending);
}

/**
 * A resumed step whose back-off was interrupted: waits out the rest of it on the injected
 * clock (cancellable with the run), then makes the attempt that was due.
 */
async function afterBackoff(call: StepCall, waitMs: number): Promise<unknown> {
  await call.run.rt.clock.sleep(waitMs, call.run.cancelToken.signal);
  call.sr.record.nextAttemptAt = undefined;
  return call.c.forEach === undefined
    ? runAgent(call)
    : runForEach(call, (call.input as { items: unknown }).items);
}

/** Up to calling the agent: condition, input, `running`, journal. Undefined when already terminal. */
function beginStep(run: RunHost, sr: StepRun): StepCall | undefined {
  const c = sr.compiled;
  const rec = sr.record;
  const clock = run.rt.clock;
  if (c.condition !== undefined) {
    const skip = evaluateCondition(c, run.scope);
    if (skip !== undefined) {
      run.skip(sr, skip);
      return undefined;
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
    fail(run, sr, asExpressionError(e, c.id));
    return undefined;
  }
  rec.status = 'running';
  // One clock reading for the record, the duration and the journal entry.
  const mono = clock.monotonic();
  rec.startedAt = run.journal.epochAt(mono);
  sr.startMono = mono;
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
  run.log(
    EventType.stepStarted,
    c.id,
    rec.attempts,
    { agent: c.agentId, input: redactSecretFields(agent, input) },
    mono,
  );
  run.saveStep(sr);
  if (agent === undefined) {
    fail(run, sr, agentNotFound(run, c, true));
    return undefined;
  }
  return new StepCall(run, sr, agent, input, undefined);
}

/** A first attempt without policy layers: the agent is called here, its failure goes to the retry policy. */
function firstAttempt(call: StepCall): void {
  const agent = call.agent;
  let out: unknown;
  try {
    if (agent.inputSchema !== undefined)
      checkAgainstSchema(agent.inputSchema, call.input, `input of agent "${agent.id}"`);
    out = agent.execute(call.input, new AgentCallContext(call, undefined));
    if (isThenable(out)) {
      void awaitFirstAttempt(call, out);
      return;
    }
    checkAgentOutput(agent, out);
  } catch (e) {
    attemptFailed(call, e);
    return;
  }
  finish(call, out);
}

async function awaitFirstAttempt(call: StepCall, pending: PromiseLike<unknown>): Promise<void> {
  let out: unknown;
  try {
    out = await pending;
    checkAgentOutput(call.agent, out);
  } catch (e) {
    attemptFailed(call, e);
    return;
  }
  finish(call, out);
}

function attemptFailed(call: StepCall, error: unknown): void {
  let pending: Promise<unknown>;
  try {
    pending = continueAfterFailure(call, error);
  } catch (e) {
    failed(call, e);
    return;
  }
  void awaitOutput(call, pending);
}

async function awaitOutput(call: StepCall, pending: Promise<unknown>): Promise<void> {
  let out: unknown;
  try {
    out = await pending;
  } catch (e) {
    failed(call, e);
    return;
  }
  finish(call, out);
}

function checkAgentOutput(agent: Agent, output: unknown): void {
  if (agent.outputSchema !== undefined) {
    checkAgainstSchema(agent.outputSchema, output, `output of agent "${agent.id}"`);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/** The agent's output, after every attempt it needed: capture, the step's schema, `completed`. */
function finish(call: StepCall, out: unknown): void {
  const { run, sr, c } = call;
  let output: unknown;
  try {
    output = applyCapture(c, out);
    if (c.outputSchema !== undefined) checkAgainstSchema(c.outputSchema, output, `output of step "${c.id}"`);
  } catch (e) {
    failed(call, e);
    return;
  }
  try {
    if (!run.isAbandoned(sr)) complete(run, sr, output);
  } catch (e) {
    internalError(run, sr, e);
    return;
  }
  run.stepDone(sr);
}

/** The step failed after every attempt it was allowed: cancelled, fallback, or `failed`. */
function failed(call: StepCall, e: unknown): void {
  const { run, sr, c } = call;
  try {
    if (!run.isAbandoned(sr)) {
      const error = ensureError(e);
      if (run.stop !== undefined && (error.code === ErrorCode.CANCELLED || run.cancelToken.aborted)) {
        run.recordCancelled(sr, run.stop.reason);
      } else if (c.onError === 'fallback' && c.fallbackStepId !== undefined) {
        void fallBack(call, error);
        return;
      } else fail(run, sr, error);
    }
  } catch (e2) {
    internalError(run, sr, e2);
    return;
  }
  run.stepDone(sr);
}

async function fallBack(call: StepCall, error: Orchestr8Error): Promise<void> {
  try {
    await runFallback(call.run, call.sr, call.input, error);
  } catch (e) {
    internalError(call.run, call.sr, e);
    return;
  }
  call.run.stepDone(call.sr);
}

/** Defensive: an engine bug must still leave the step in a terminal state. */
function internalError(run: RunHost, sr: StepRun, e: unknown): void {
  try {
    fail(
      run,
      sr,
      new Orchestr8Error(ErrorCode.INTERNAL, 'internal error while running the step', { cause: e }),
    );
  } catch (e2) {
    run.stepCrashed(e2);
    return;
  }
  run.stepDone(sr);
}

export function complete(run: RunHost, sr: StepRun, output: unknown, aliasFor?: string): StepRun {
  const rec = sr.record;
  const clock = run.rt.clock;
  rec.status = 'completed';
  rec.output = output;
  const mono = clock.monotonic();
  rec.finishedAt = run.journal.epochAt(mono);
  if (aliasFor !== undefined) rec.aliasFor = aliasFor;
  const durationMs = Math.round((mono - sr.startMono) * 1000) / 1000;
  run.log(
    EventType.stepCompleted,
    sr.compiled.id,
    rec.attempts,
    aliasFor === undefined ? { output, durationMs } : { output, durationMs, aliasFor },
    mono,
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

export function fail(run: RunHost, sr: StepRun, error: Orchestr8Error): StepRun {
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
  return sr;
}

/** `onError: fallback`: runs the fallback step with the same input; its output stands in. */
async function runFallback(
  run: RunHost,
  sr: StepRun,
  input: unknown,
  error: Orchestr8Error,
): Promise<StepRun> {
  const c = sr.compiled;
  const fb = run.stepRun(c.fallbackStepId!)!;
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
    if (fbAgent === undefined) throw agentNotFound(run, fb.compiled, false);
    let output = await runAgent(new StepCall(run, fb, fbAgent, input, undefined));
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

/**
 * AGENT_NOT_FOUND, saying which versions are registered when the id is but none satisfies
 * the step's range (not "no agent X is registered" beside a list that names X).
 */
function agentNotFound(run: RunHost, c: CompiledStep, listKnown: boolean): Orchestr8Error {
  const all = run.rt.registry.list();
  const versions = all.filter((a) => a.id === c.agentId).map((a) => a.version ?? '(no version)');
  const message =
    c.agentUrl === undefined && c.agentVersion !== undefined && versions.length > 0
      ? `agent "${c.agentId}" is registered at version ${versions.join(', ')}, which does not satisfy "${c.agentVersion}"`
      : `no agent "${c.agentId}" is registered${listKnown ? ` (known: ${all.map((a) => a.id).join(', ')})` : ''}`;
  return new Orchestr8Error(ErrorCode.AGENT_NOT_FOUND, message, { retryable: false });
}

function resolveAgent(run: RunHost, c: CompiledStep): Agent | undefined {
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

export function evaluateCondition(c: CompiledStep, scope: TemplateScope): string | undefined {
  const cond = c.condition!;
  if (cond.if !== undefined) {
    // Backticks, not quotes: the expression often holds quoted strings itself.
    if (!truthy(cond.if.evaluate(scope))) return `condition if \`${cond.if.source}\` was false`;
  }
  if (cond.unless !== undefined) {
    if (truthy(cond.unless.evaluate(scope))) return `condition unless \`${cond.unless.source}\` was true`;
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
