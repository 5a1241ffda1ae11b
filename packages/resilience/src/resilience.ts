import {
  type Clock,
  DEFAULT_RETRYABLE_CODES,
  ensureError,
  type Orchestr8Error,
  systemClock,
  ValidationError,
} from '@orchestr8/common';
import {
  abortError,
  type CancelToken,
  LazyAttemptContext,
  NEVER_ABORTED,
  rootToken,
} from './cancel-token.js';
import { type Circuit, type CircuitBreakerOptions, CircuitBreakerRegistry } from './circuit-breaker.js';
import { computeRetryDelay, isRetryable, type RetryOptions } from './retry-policy.js';
import { checkTimeoutMs, raceTimeout } from './timeout.js';

export type PolicyName = 'retry' | 'circuitBreaker' | 'timeout';

/** Outermost first: retry(circuitBreaker(timeout(attempt))). */
export const DEFAULT_COMPOSITION: readonly PolicyName[] = Object.freeze([
  'retry',
  'circuitBreaker',
  'timeout',
]);

export interface AttemptContext {
  /** 1 for the first attempt; continues from `startAttempt` on a resumed execution. */
  readonly attempt: number;
  /**
   * Aborts when the execution is cancelled or a timeout layer's deadline passes; the reason
   * says which. Under a timeout layer it is created on first read (an AbortSignal costs ~2 µs
   * in Node 20): read it only if the work can use it, and don't spread the context.
   */
  readonly signal: AbortSignal;
}

/** Observers, called synchronously; an exception thrown by a hook is swallowed. */
export interface ResilienceHooks {
  /** Before the function is called for an attempt. */
  onAttempt?(e: { attempt: number }): void;
  /** Before sleeping `delayMs` ahead of the next attempt. */
  onRetry?(e: { attempt: number; nextAttempt: number; delayMs: number; error: Orchestr8Error }): void;
  /** When a timeout layer's deadline passes; `attempt` is the last attempt started. */
  onTimeout?(e: { attempt: number; timeoutMs: number }): void;
  /** When the circuit breaker rejects a call without running it. */
  onCircuitRejected?(e: { key: string; retryAfterMs: number }): void;
}

/** Read while the execution runs: build a new object per call rather than mutating a shared one. */
export interface ResilienceOptions {
  /** Absent or `maxAttempts: 1`: no retry. */
  retry?: RetryOptions;
  /** Absent: no timeout. Per attempt by default; one overall deadline when `timeout` is outside `retry`. */
  timeoutMs?: number;
  /** Absent: no breaker. */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * Layer order, outermost first (default DEFAULT_COMPOSITION). Every configured policy must
   * appear in it; names of policies not configured are skipped.
   */
  composition?: readonly PolicyName[];
  /** Outer cancellation: aborts the attempt's signal and any backoff sleep. */
  signal?: AbortSignal;
  /**
   * Outer cancellation without an AbortSignal up front (instead of `signal`): the attempt's
   * `ctx.signal` is made from it only when read. For callers that start many executions.
   */
  cancel?: CancelToken;
  clock?: Clock;
  random?: () => number;
  hooks?: ResilienceHooks;
  /** Attempts already made before a crash; the retry budget continues from here (durable resume). */
  startAttempt?: number;
}

export interface Resilience {
  readonly breakers: CircuitBreakerRegistry;
  /**
   * Runs `fn` through the configured policies. Resolves with its value; rejects with an
   * Orchestr8Error whose `attempts` is the number of the last attempt `fn` was called for
   * (`startAttempt` included; equal to `startAttempt` if `fn` never ran).
   */
  execute<T>(fn: (ctx: AttemptContext) => Promise<T> | T, options: ResilienceOptions): Promise<T>;
  /**
   * For callers that make the first attempt themselves when no layer needs setting up (no
   * timeout, no circuit breaker): attempt `startAttempt + 1` failed with `error`; go on as
   * `execute` would have (retry after the backoff, or reject with the error).
   */
  continueAfterFailure<T>(
    fn: (ctx: AttemptContext) => Promise<T> | T,
    options: ResilienceOptions,
    error: unknown,
  ): Promise<T>;
}

type AttemptFn<T> = (ctx: AttemptContext) => Promise<T> | T;

const RETRY = 1;
const BREAKER = 2;
const TIMEOUT = 4;
const LAYER_OF: Readonly<Record<string, number>> = {
  retry: RETRY,
  circuitBreaker: BREAKER,
  timeout: TIMEOUT,
};

type Layers = readonly number[];

/** The active layers of `composition` for the configured policies (`mask`), outermost first. */
function buildLayers(composition: readonly PolicyName[], mask: number): Layers {
  const layers: number[] = [];
  let seen = 0;
  for (const name of composition) {
    const layer = LAYER_OF[name];
    if (layer === undefined || (seen & layer) !== 0) {
      throw new ValidationError(
        'composition must list distinct policies among retry, circuitBreaker, timeout',
        {
          details: { composition },
        },
      );
    }
    seen |= layer;
    if ((mask & layer) !== 0) layers.push(layer);
  }
  if ((mask & ~seen) !== 0) {
    throw new ValidationError('composition must list every configured policy', { details: { composition } });
  }
  return Object.freeze(layers);
}

const DEFAULT_LAYERS: Layers[] = Array.from({ length: 8 }, (_, mask) =>
  buildLayers(DEFAULT_COMPOSITION, mask),
);
const RETRY_ONLY = DEFAULT_LAYERS[RETRY]!;
const layerCache = new WeakMap<readonly PolicyName[], (Layers | undefined)[]>();

function layersFor(composition: readonly PolicyName[] | undefined, mask: number): Layers {
  if (composition === undefined) return DEFAULT_LAYERS[mask]!;
  let byMask = layerCache.get(composition);
  if (byMask === undefined) {
    byMask = [];
    layerCache.set(composition, byMask);
  }
  let layers = byMask[mask];
  if (layers === undefined) {
    layers = buildLayers(composition, mask);
    // One configured policy has one order: share the default array so fast paths recognise it.
    if (layers.length <= 1) layers = DEFAULT_LAYERS[mask]!;
    byMask[mask] = layers;
  }
  return layers;
}

function checkOptions(options: ResilienceOptions, start: number): void {
  const retry = options.retry;
  if (retry !== undefined && !(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    throw new ValidationError(`retry.maxAttempts must be an integer >= 1, got ${retry.maxAttempts}`);
  }
  if (options.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs);
  if (!(Number.isInteger(start) && start >= 0)) {
    throw new ValidationError(`startAttempt must be an integer >= 0, got ${start}`);
  }
}

function withAttempts(error: Orchestr8Error, attempts: number): Orchestr8Error {
  error.attempts = attempts;
  return error;
}

function failFirstAttempt(error: unknown): never {
  throw withAttempts(ensureError(error), 1);
}

function callHook<E>(hook: ((e: E) => void) | undefined, hooks: ResilienceHooks, event: E): void {
  try {
    hook!.call(hooks, event);
  } catch {
    // Hooks observe; a failing observer must not change the outcome.
  }
}

function outerToken(options: ResilienceOptions): CancelToken {
  return options.cancel ?? rootToken(options.signal);
}

/** The state of one `execute` call that goes through layers. */
class Execution<T> {
  /** The attempt running now, or about to run. */
  attempt: number;
  /** The last attempt `fn` was called for. */
  invoked: number;

  constructor(
    private readonly fn: AttemptFn<T>,
    private readonly layers: Layers,
    private readonly options: ResilienceOptions,
    private readonly circuit: Circuit | undefined,
    private readonly clock: Clock,
    private readonly random: () => number,
    attempt: number,
    invoked: number,
  ) {
    this.attempt = attempt;
    this.invoked = invoked;
  }

  fail(error: unknown): never {
    throw withAttempts(ensureError(error), this.invoked);
  }

  /** Runs layer `i`; past the last layer, the attempt itself. */
  call(i: number, token: CancelToken): Promise<T> {
    switch (this.layers[i]) {
      case RETRY:
        return this.retryLayer(i, token);
      case BREAKER:
        return this.breakerLayer(i, token);
      case TIMEOUT:
        return raceTimeout(callLayer<T>, this, i + 1, this.options.timeoutMs!, this.clock, token, timedOut);
      default:
        return this.invoke(token);
    }
  }

  private invoke(token: CancelToken): Promise<T> {
    const attempt = this.attempt;
    if (token.aborted) return Promise.reject(abortError(token.reason));
    this.invoked = attempt;
    const hooks = this.options.hooks;
    if (hooks?.onAttempt !== undefined) callHook(hooks.onAttempt, hooks, { attempt });
    const external = token.external;
    const ctx: AttemptContext =
      external !== undefined ? { attempt, signal: external } : new LazyAttemptContext(attempt, token);
    try {
      return Promise.resolve(this.fn(ctx));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private breakerLayer(i: number, token: CancelToken): Promise<T> {
    const circuit = this.circuit!;
    const wait = circuit.admit();
    if (wait >= 0) {
      const hooks = this.options.hooks;
      if (hooks?.onCircuitRejected !== undefined) {
        callHook(hooks.onCircuitRejected, hooks, { key: circuit.key, retryAfterMs: wait });
      }
      return Promise.reject(circuit.openError(wait));
    }
    return circuit.fire(token, callLayer<T>, this, i + 1);
  }

  retryLayer(i: number, token: CancelToken): Promise<T> {
    return this.call(i + 1, token).then(undefined, (error: unknown) => this.retryFailed(i, token, error));
  }

  /** After attempt `this.attempt` failed: retry after the backoff, or give up with the error. */
  retryFailed(i: number, token: CancelToken, raw: unknown): Promise<T> {
    const error = ensureError(raw);
    const retry = this.options.retry!;
    const attempt = this.attempt;
    if (attempt >= retry.maxAttempts || !isRetryable(error, retry.retryOn ?? DEFAULT_RETRYABLE_CODES)) {
      return Promise.reject(error);
    }
    if (token.aborted) return Promise.reject(abortError(token.reason));
    const delayMs = computeRetryDelay(attempt, retry, this.random, error);
    this.attempt = attempt + 1;
    const hooks = this.options.hooks;
    if (hooks?.onRetry !== undefined) {
      callHook(hooks.onRetry, hooks, { attempt, nextAttempt: attempt + 1, delayMs, error });
    }
    if (!(delayMs > 0)) return this.retryLayer(i, token);
    return this.clock
      .sleep(delayMs, token.listenableSignal)
      .then(() => this.retryLayer(i, token), sleepAborted);
  }

  onTimedOut(timeoutMs: number): void {
    const hooks = this.options.hooks;
    if (hooks?.onTimeout !== undefined)
      callHook(hooks.onTimeout, hooks, { attempt: this.invoked, timeoutMs });
  }
}

function callLayer<T>(execution: Execution<T>, i: number, token: CancelToken): Promise<T> {
  return execution.call(i, token);
}

function timedOut(execution: Execution<unknown>, timeoutMs: number): void {
  execution.onTimedOut(timeoutMs);
}

function sleepAborted(reason: unknown): never {
  throw abortError(reason);
}

class ResilienceImpl implements Resilience {
  constructor(
    readonly breakers: CircuitBreakerRegistry,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {}

  execute<T>(fn: AttemptFn<T>, options: ResilienceOptions): Promise<T> {
    const retry = options.retry;
    const breaker = options.circuitBreaker;
    const start = options.startAttempt ?? 0;
    const mask =
      (retry !== undefined && retry.maxAttempts > 1 ? RETRY : 0) |
      (breaker !== undefined ? BREAKER : 0) |
      (options.timeoutMs !== undefined ? TIMEOUT : 0);
    let layers: Layers;
    let circuit: Circuit | undefined;
    try {
      checkOptions(options, start);
      layers = layersFor(options.composition, mask);
      if (breaker !== undefined) circuit = this.breakers.get(breaker);
    } catch (e) {
      return Promise.reject(e);
    }
    const attempt = start + 1;
    if (mask === 0 || layers === RETRY_ONLY) return this.direct(fn, options, mask, attempt);
    const execution = this.execution(fn, options, layers, circuit, attempt, start);
    return execution.call(0, outerToken(options)).then(undefined, (e: unknown) => execution.fail(e));
  }

  /** No layer needs setting up before the first attempt: call `fn` directly. */
  private direct<T>(fn: AttemptFn<T>, options: ResilienceOptions, mask: number, attempt: number): Promise<T> {
    const cancel = options.cancel;
    const signal = options.signal;
    if (cancel !== undefined ? cancel.aborted : signal?.aborted) {
      const reason = cancel !== undefined ? cancel.reason : signal!.reason;
      return Promise.reject(withAttempts(abortError(reason), attempt - 1));
    }
    const hooks = options.hooks;
    if (hooks?.onAttempt !== undefined) callHook(hooks.onAttempt, hooks, { attempt });
    let result: Promise<T>;
    try {
      const ctx: AttemptContext =
        cancel !== undefined
          ? new LazyAttemptContext(attempt, cancel)
          : { attempt, signal: signal ?? NEVER_ABORTED };
      result = Promise.resolve(fn(ctx));
    } catch (e) {
      result = Promise.reject(e);
    }
    if (mask === 0) {
      return result.then(
        undefined,
        attempt === 1
          ? failFirstAttempt
          : (e: unknown) => {
              throw withAttempts(ensureError(e), attempt);
            },
      );
    }
    // Retry only: the execution state is built on the first failure.
    return result.then(undefined, (e: unknown) => this.continueAfterFailure(fn, options, e));
  }

  continueAfterFailure<T>(fn: AttemptFn<T>, options: ResilienceOptions, error: unknown): Promise<T> {
    const attempt = (options.startAttempt ?? 0) + 1;
    if (options.timeoutMs !== undefined || options.circuitBreaker !== undefined) {
      return Promise.reject(
        new ValidationError('continueAfterFailure is for options without a timeout or circuit breaker'),
      );
    }
    const retry = options.retry;
    if (retry === undefined || retry.maxAttempts <= 1) {
      return Promise.reject(withAttempts(ensureError(error), attempt));
    }
    const execution = this.execution(fn, options, RETRY_ONLY, undefined, attempt, attempt);
    return execution
      .retryFailed(0, outerToken(options), error)
      .then(undefined, (e2: unknown) => execution.fail(e2));
  }

  private execution<T>(
    fn: AttemptFn<T>,
    options: ResilienceOptions,
    layers: Layers,
    circuit: Circuit | undefined,
    attempt: number,
    invoked: number,
  ): Execution<T> {
    return new Execution(
      fn,
      layers,
      options,
      circuit,
      options.clock ?? this.clock,
      options.random ?? this.random,
      attempt,
      invoked,
    );
  }
}

/**
 * Creates the resilience runner of an engine. `breakers` is shared when given (e.g. one
 * registry for several engines in a process); otherwise a registry on `clock` is created.
 */
export function createResilience(
  deps: { clock?: Clock; random?: () => number; breakers?: CircuitBreakerRegistry } = {},
): Resilience {
  const clock = deps.clock ?? systemClock;
  return new ResilienceImpl(
    deps.breakers ?? new CircuitBreakerRegistry({ clock }),
    clock,
    deps.random ?? Math.random,
  );
}
