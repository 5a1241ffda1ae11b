import {
  type Clock,
  DEFAULT_RETRYABLE_CODES,
  type ErrorCode,
  Orchestr8Error,
  systemClock,
} from '@orchestr8/common';
import type { Agent, AgentContext } from '@orchestr8/core';

/** What one attempt of a mocked agent does. */
export interface MockOutcome {
  /** The output of the attempt (after `delayMs`, when given). */
  result?: unknown;
  /** Fail the attempt with this error code, e.g. `RETRYABLE`, `HTTP_5XX`, `TERMINAL`. */
  fail?: ErrorCode;
  /** The failure's message (default: "mocked failure (<code>)"). */
  message?: string;
  /** Overrides whether the failure is retryable (default: by code, as the engine decides). */
  retryable?: boolean;
  retryAfterMs?: number;
  /** Wait this long first, on the engine's clock (a fake clock skips it; a timeout may cut it short). */
  delayMs?: number;
}

export type MockFunction = (input: any, ctx: AgentContext) => unknown;

/**
 * Per attempt: an array of outcomes, one per attempt (`ctx.attempt`), the last repeated for
 * later attempts; a single outcome for every attempt; or a function.
 */
export type MockBehaviour = readonly MockOutcome[] | MockOutcome | MockFunction;

/** One call a mock received. */
export interface MockCall {
  input: unknown;
  stepId: string;
  executionId: string;
  attempt: number;
  idempotencyKey: string;
  config: Readonly<Record<string, unknown>>;
  item?: unknown;
  index?: number;
}

/** Hooks a test engine gives the mocks it runs, so a mock's delays are skipped in fake time. */
export interface MockRuntime {
  clock: Clock;
  /** Runs `wait` as time spent waiting on the clock, not as work in progress. */
  idle<T>(wait: () => Promise<T>): Promise<T>;
}

export interface MockAgent extends Agent {
  /** Every call so far, in order (shared by the copies test engines make). */
  readonly calls: MockCall[];
  /** A copy bound to a test engine's clock (the same `calls`). */
  bind(runtime: MockRuntime, version?: string): MockAgent;
}

export interface MockAgentOptions {
  version?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
}

const MOCK = Symbol.for('orchestr8.testing.mock');

export function isMockAgent(value: unknown): value is MockAgent {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MOCK] === true;
}

/**
 * An agent that does what the test says, attempt by attempt:
 *
 * ```ts
 * mockAgent('@acme/fetch', [{ fail: 'RETRYABLE' }, { result: { ok: true } }]); // fails once, then succeeds
 * mockAgent('@acme/slow', { delayMs: 30_000, result: 'late' });                // every attempt
 * mockAgent('@acme/upper', (input) => ({ text: input.text.toUpperCase() }));
 * ```
 *
 * Attempts are counted per step (and per forEach item), from `ctx.attempt`.
 */
export function mockAgent(id: string, behaviour: MockBehaviour, options: MockAgentOptions = {}): MockAgent {
  checkBehaviour(id, behaviour);
  const calls: MockCall[] = [];
  const make = (runtime: MockRuntime | undefined, version: string | undefined): MockAgent => {
    const agent: MockAgent & { [MOCK]: true } = {
      [MOCK]: true,
      id,
      ...(version !== undefined ? { version } : {}),
      description: options.description ?? `mock of ${id}`,
      ...(options.inputSchema !== undefined ? { inputSchema: options.inputSchema } : {}),
      ...(options.outputSchema !== undefined ? { outputSchema: options.outputSchema } : {}),
      calls,
      bind: (rt, v) => make(rt, v ?? version),
      execute: async (input, ctx) => {
        calls.push(callOf(input, ctx));
        if (typeof behaviour === 'function') return behaviour(input, ctx);
        const outcome = Array.isArray(behaviour)
          ? behaviour[Math.min(ctx.attempt, behaviour.length) - 1]!
          : (behaviour as MockOutcome);
        return play(outcome, ctx, runtime);
      },
    };
    return agent;
  };
  return make(undefined, options.version);
}

async function play(outcome: MockOutcome, ctx: AgentContext, runtime: MockRuntime | undefined) {
  if (outcome.delayMs !== undefined && outcome.delayMs > 0) {
    const clock = runtime?.clock ?? systemClock;
    const wait = () => clock.sleep(outcome.delayMs!, ctx.signal);
    await (runtime ? runtime.idle(wait) : wait());
  }
  if (outcome.fail !== undefined) {
    const code = outcome.fail;
    throw new Orchestr8Error(code, outcome.message ?? `mocked failure (${code})`, {
      retryable: outcome.retryable ?? DEFAULT_RETRYABLE_CODES.includes(code),
      ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
    });
  }
  return 'result' in outcome ? outcome.result : null;
}

function callOf(input: unknown, ctx: AgentContext): MockCall {
  const call: MockCall = {
    input,
    stepId: ctx.stepId,
    executionId: ctx.executionId,
    attempt: ctx.attempt,
    idempotencyKey: ctx.idempotencyKey,
    config: ctx.config,
  };
  if (ctx.index !== undefined) {
    call.item = ctx.item;
    call.index = ctx.index;
  }
  return call;
}

const OUTCOME_KEYS = new Set(['result', 'fail', 'message', 'retryable', 'retryAfterMs', 'delayMs']);

/** Problems with a mock outcome as written in a test file or by hand; empty when it is fine. */
export function outcomeProblems(outcome: unknown, where: string): string[] {
  if (typeof outcome !== 'object' || outcome === null || Array.isArray(outcome)) {
    return [`${where} must be an object like {result: ...}, {fail: CODE} or {delayMs: n}`];
  }
  const o = outcome as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(o)) {
    if (!OUTCOME_KEYS.has(k))
      problems.push(
        `${where}: unknown field "${k}" (use result, fail, message, retryable, retryAfterMs, delayMs)`,
      );
  }
  if (o.fail !== undefined && (typeof o.fail !== 'string' || o.fail === ''))
    problems.push(`${where}.fail must be an error code such as RETRYABLE, HTTP_5XX or TERMINAL`);
  if (o.fail !== undefined && 'result' in o) problems.push(`${where} has both fail and result`);
  if (o.message !== undefined && typeof o.message !== 'string')
    problems.push(`${where}.message must be a string`);
  if (o.retryable !== undefined && typeof o.retryable !== 'boolean')
    problems.push(`${where}.retryable must be true or false`);
  for (const k of ['delayMs', 'retryAfterMs'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0))
      problems.push(`${where}.${k} must be a number of milliseconds (0 or more)`);
  }
  return problems;
}

function checkBehaviour(id: string, behaviour: MockBehaviour): void {
  if (typeof behaviour === 'function') return;
  const list = Array.isArray(behaviour) ? behaviour : [behaviour];
  if (list.length === 0) throw new TypeError(`mockAgent("${id}"): give at least one outcome`);
  const problems = list.flatMap((o, i) =>
    outcomeProblems(o, Array.isArray(behaviour) ? `outcome [${i}]` : 'outcome'),
  );
  if (problems.length > 0) throw new TypeError(`mockAgent("${id}"): ${problems.join('; ')}`);
}
