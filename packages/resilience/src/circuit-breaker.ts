import { EventEmitter } from 'node:events';
import {
  CircuitOpenError,
  type Clock,
  ErrorCode,
  ensureError,
  hasCode,
  isOrchestr8Error,
  systemClock,
  ValidationError,
} from '@orchestr8/common';
import CircuitBreaker from 'opossum';
import { type CancelToken, rootToken } from './cancel-token.js';
import type { Invoker } from './timeout.js';

export type CircuitState = 'closed' | 'open' | 'halfOpen';

export interface CircuitBreakerOptions {
  /** Which dependency this circuit guards, e.g. `@orchestr8/http|api.example.com`. */
  key: string;
  /** Consecutive counted failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe is let through. */
  resetTimeoutMs: number;
}

export const DEFAULT_CIRCUIT_BREAKER_OPTIONS: Readonly<Omit<CircuitBreakerOptions, 'key'>> = Object.freeze({
  failureThreshold: 5,
  resetTimeoutMs: 60_000,
});

/** What the durable store keeps so that a restart does not forget an open circuit. */
export interface CircuitSnapshot {
  key: string;
  state: CircuitState;
  failures: number;
  /** Epoch ms (clock.now()) from which an open circuit lets a probe through; set when open. */
  openUntil?: number;
}

export interface CircuitTransition {
  key: string;
  from: CircuitState;
  to: CircuitState;
  /** clock.now() when the transition happened (open -> halfOpen is observed on the next use). */
  at: number;
}

/**
 * Whether an error is a health signal against the dependency. Only transient failures count:
 * timeouts, network errors, 5xx, 429 and anything else marked `retryable`. A VALIDATION error,
 * a 4xx or any other non-retryable answer means the dependency answered (a bad input is not an
 * unhealthy dependency); a cancellation tells nothing. When the attempt's signal has aborted,
 * its reason decides: a timeout counts, a cancellation does not.
 */
export function countsAsFailure(
  error: unknown,
  signal: { readonly aborted: boolean; readonly reason?: unknown } | undefined,
): boolean {
  if (signal?.aborted) return hasCode(signal.reason, ErrorCode.TIMEOUT);
  const e = isOrchestr8Error(error) ? error : ensureError(error);
  const code = e.code;
  if (code === ErrorCode.CANCELLED || code === ErrorCode.VALIDATION || code === ErrorCode.CIRCUIT_OPEN)
    return false;
  return e.retryable === true;
}

type Action = (
  token: CancelToken,
  invoke: Invoker<any, any, unknown>,
  a: unknown,
  b: unknown,
) => Promise<unknown>;
type Breaker = CircuitBreaker<Parameters<Action>, unknown>;
/** `state` is opossum's documented way to restore a breaker (see its toJSON), missing from @types/opossum. */
type OpossumOptions = CircuitBreaker.Options<Parameters<Action>> & {
  state?: { closed: boolean; halfOpen: boolean };
};

const action: Action = (token, invoke, a, b) => invoke(a, b, token);
const callUser = (fn: () => unknown) => Promise.resolve(fn());

/** Opossum's own reset timer is parked here (unref'd): our clock decides when to half-open. */
const PARKED_RESET_MS = 2_147_483_647;
/** Given to opossum so that its rolling statistics (unused) do not run interval timers. */
const noBucketRotation = new EventEmitter().setMaxListeners(0);

/**
 * One circuit. Opossum holds the state machine: `open()`, the single half-open probe (the
 * first call admitted, concurrent ones refused), closing on the probe's success and re-opening
 * on its failure, with the 'open'/'close' events we report as transitions. Around it:
 * - opossum's percentage rule is unused (`volumeThreshold` = MAX_SAFE_INTEGER): this class
 *   counts consecutive counted failures (see `countsAsFailure`) and calls `open()` at
 *   `failureThreshold`; a success resets the count; an error that does not count neither
 *   counts nor resets, and a probe ending with one leaves the circuit half-open;
 * - closed, calls go straight to the work and only their outcome is observed: opossum's
 *   per-call bookkeeping (promise wrapping, semaphore, rolling stats we do not use) costs
 *   ~600 ns on the hot path; the probe goes through `breaker.fire`;
 * - opossum's reset timer uses real time, so it is parked and `openUntil` is checked against
 *   the injected clock on each use; when due, opossum is restored half-open (its `state`
 *   option), so a fake clock drives the reset window without timers;
 * - a probe in flight for longer than `resetTimeoutMs` is presumed lost, and another is let through.
 */
export class Circuit {
  readonly key: string;
  failureThreshold: number;
  resetTimeoutMs: number;
  private current: CircuitState = 'closed';
  private failureCount = 0;
  private openedUntil: number | undefined;
  private probeStartedAt = 0;
  private breaker: Breaker;

  constructor(
    options: CircuitBreakerOptions,
    private readonly clock: Clock,
    private readonly emit: (t: CircuitTransition) => void,
  ) {
    this.key = options.key;
    this.failureThreshold = options.failureThreshold;
    this.resetTimeoutMs = options.resetTimeoutMs;
    this.breaker = this.create('closed');
  }

  /** The current state; an open circuit whose window has passed becomes half-open here. */
  get state(): CircuitState {
    if (this.current === 'open' && this.clock.now() >= this.openedUntil!) this.toHalfOpen(this.clock.now());
    return this.current;
  }

  get failures(): number {
    return this.failureCount;
  }

  get openUntil(): number | undefined {
    return this.current === 'open' ? this.openedUntil : undefined;
  }

  /**
   * Whether a call may go through now: -1 if it may (half-open, it becomes the probe), else
   * the ms until one may. Call `fire` right after, synchronously.
   */
  admit(): number {
    if (this.current === 'closed') return -1;
    const now = this.clock.now();
    if (this.current === 'open') {
      if (now < this.openedUntil!) return this.openedUntil! - now;
      this.toHalfOpen(now);
    }
    if (!this.breaker.pendingClose) {
      const staleAt = this.probeStartedAt + this.resetTimeoutMs;
      if (now < staleAt) return staleAt - now;
      this.replace('halfOpen'); // the probe in flight is presumed lost
    }
    this.probeStartedAt = now;
    return -1;
  }

  /** Runs `invoke(a, b, token)` through the circuit; only after `admit()` returned -1. */
  fire<A, B, T>(token: CancelToken, invoke: Invoker<A, B, T>, a: A, b: B): Promise<T> {
    const breaker = this.breaker;
    if (this.current !== 'closed')
      return breaker.fire(token, invoke as Invoker<any, any, unknown>, a, b) as Promise<T>;
    let work: Promise<T>;
    try {
      work = invoke(a, b, token);
    } catch (e) {
      work = Promise.reject(e);
    }
    return work.then(
      (value) => {
        if (breaker === this.breaker) this.failureCount = 0;
        return value;
      },
      (error: unknown) => {
        this.closedFailure(breaker, error, token);
        throw error;
      },
    );
  }

  openError(retryAfterMs: number): CircuitOpenError {
    return new CircuitOpenError(`circuit "${this.key}" is open`, {
      retryAfterMs,
      details: { key: this.key },
    });
  }

  /** Runs `fn` through the circuit; rejects with a CircuitOpenError (carrying `retryAfterMs`) when open. */
  execute<T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    const wait = this.admit();
    if (wait >= 0) return Promise.reject(this.openError(wait));
    return this.fire(rootToken(signal), callUser, fn, undefined) as Promise<T>;
  }

  snapshot(): CircuitSnapshot {
    const state = this.state;
    const snap: CircuitSnapshot = { key: this.key, state, failures: this.failureCount };
    if (state === 'open') snap.openUntil = this.openedUntil!;
    return snap;
  }

  /** Sets the state from a snapshot, without emitting a transition (nothing changed, we only remember). */
  restore(snap: CircuitSnapshot): void {
    this.failureCount = snap.failures;
    this.openedUntil =
      snap.state === 'open' ? (snap.openUntil ?? this.clock.now() + this.resetTimeoutMs) : undefined;
    this.current = snap.state;
    this.probeStartedAt = 0;
    this.replace(snap.state);
  }

  /** Releases opossum's listeners; calls in flight finish, uncounted. */
  dispose(): void {
    this.replace('closed');
    this.breaker.shutdown();
  }

  private closedFailure(breaker: Breaker, error: unknown, token: CancelToken): void {
    // Outcomes of calls started before a half-open swap belong to an old breaker: ignored.
    if (breaker !== this.breaker || !countsAsFailure(error, token)) return;
    this.failureCount++;
    if (this.current === 'closed' && this.failureCount >= this.failureThreshold) breaker.open();
  }

  private toHalfOpen(now: number): void {
    this.replace('halfOpen');
    this.openedUntil = undefined;
    this.current = 'halfOpen';
    this.safeEmit('open', 'halfOpen', now);
  }

  private replace(state: CircuitState): void {
    const old = this.breaker;
    this.breaker = this.create(state);
    // Clears its parked timer and listeners: late outcomes of calls still on it are ignored.
    old.shutdown();
  }

  private create(state: CircuitState): Breaker {
    const options: OpossumOptions = {
      name: this.key,
      timeout: false, // the timeout layer does this, on the injected clock
      resetTimeout: PARKED_RESET_MS,
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: noBucketRotation,
      // Opossum calls it with (error, ...fire arguments): the first argument is the attempt's token.
      errorFilter: ((error: unknown, token: CancelToken) =>
        this.probeErrorIgnored(breaker, error, token)) as (err: unknown) => boolean,
    };
    if (state !== 'closed') options.state = { closed: false, halfOpen: state === 'halfOpen' };
    const breaker: Breaker = new CircuitBreaker(action, options);
    breaker.on('failure', () => {
      if (breaker === this.breaker) this.failureCount++;
    });
    breaker.on('open', () => this.onOpen(breaker));
    breaker.on('close', () => this.onClose(breaker));
    return breaker;
  }

  /** Opossum's errorFilter, called for a failed probe: true when the error is not a health signal. */
  private probeErrorIgnored(breaker: Breaker, error: unknown, token: CancelToken): boolean {
    if (breaker !== this.breaker) return true;
    if (countsAsFailure(error, token)) return false; // opossum re-opens
    // Opossum would close on a filtered error; the probe proved nothing, so let another one go.
    this.replace('halfOpen');
    return true;
  }

  private onOpen(breaker: Breaker): void {
    if (breaker !== this.breaker) return;
    const from = this.current;
    const now = this.clock.now();
    this.current = 'open';
    this.openedUntil = now + this.resetTimeoutMs;
    this.safeEmit(from, 'open', now);
  }

  private onClose(breaker: Breaker): void {
    if (breaker !== this.breaker) return;
    const from = this.current;
    this.current = 'closed';
    this.failureCount = 0;
    this.openedUntil = undefined;
    this.safeEmit(from, 'closed', this.clock.now());
  }

  private safeEmit(from: CircuitState, to: CircuitState, at: number): void {
    if (from === to) return;
    try {
      this.emit({ key: this.key, from, to, at });
    } catch {
      // A listener's bug must not leave opossum half-way through a transition.
    }
  }
}

const STATES: ReadonlySet<string> = new Set(['closed', 'open', 'halfOpen']);

function checkOptions(key: string, failureThreshold: number, resetTimeoutMs: number): void {
  if (!(Number.isInteger(failureThreshold) && failureThreshold >= 1)) {
    throw new ValidationError(
      `circuit "${key}": failureThreshold must be an integer >= 1, got ${failureThreshold}`,
    );
  }
  if (!(resetTimeoutMs >= 0 && resetTimeoutMs <= PARKED_RESET_MS)) {
    throw new ValidationError(
      `circuit "${key}": resetTimeoutMs must be in [0, ${PARKED_RESET_MS}], got ${resetTimeoutMs}`,
    );
  }
}

/**
 * Circuits by key, shared by every execution of an engine, so that all steps calling one
 * dependency trip and recover together. Time comes from the injected clock.
 */
export class CircuitBreakerRegistry {
  readonly clock: Clock;
  private readonly circuits = new Map<string, Circuit>();
  private readonly listeners = new Set<(t: CircuitTransition) => void>();
  private readonly emit = (t: CircuitTransition): void => {
    for (const fn of this.listeners) {
      try {
        fn(t);
      } catch {
        // One listener's bug must not hide the transition from the others.
      }
    }
  };

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  /** The circuit for `options.key`, created on first use; later calls update its thresholds. */
  get(options: CircuitBreakerOptions): Circuit {
    const failureThreshold = options.failureThreshold ?? DEFAULT_CIRCUIT_BREAKER_OPTIONS.failureThreshold;
    const resetTimeoutMs = options.resetTimeoutMs ?? DEFAULT_CIRCUIT_BREAKER_OPTIONS.resetTimeoutMs;
    let circuit = this.circuits.get(options.key);
    if (circuit === undefined) {
      checkOptions(options.key, failureThreshold, resetTimeoutMs);
      circuit = new Circuit({ key: options.key, failureThreshold, resetTimeoutMs }, this.clock, this.emit);
      this.circuits.set(options.key, circuit);
    } else if (circuit.failureThreshold !== failureThreshold || circuit.resetTimeoutMs !== resetTimeoutMs) {
      checkOptions(options.key, failureThreshold, resetTimeoutMs);
      circuit.failureThreshold = failureThreshold;
      circuit.resetTimeoutMs = resetTimeoutMs;
    }
    return circuit;
  }

  /** The state of a known circuit, undefined if none was used or restored under `key`. */
  state(key: string): CircuitState | undefined {
    return this.circuits.get(key)?.state;
  }

  snapshot(): CircuitSnapshot[] {
    const out: CircuitSnapshot[] = [];
    for (const circuit of this.circuits.values()) out.push(circuit.snapshot());
    return out;
  }

  /**
   * Restores circuits from snapshots (extra fields, such as a store's `updatedAt`, are ignored;
   * a null `openUntil` counts as absent). Circuits not yet configured get the default thresholds
   * until an execution passes its own. An open circuit whose `openUntil` has passed half-opens
   * on its next use; an open one without `openUntil` stays open a full `resetTimeoutMs`. No
   * transitions are emitted. Malformed entries are skipped, not thrown (a corrupt record must
   * not stop an engine from starting), and passed to `onSkipped` for the caller to log.
   */
  restore(
    snapshots: Iterable<CircuitSnapshot>,
    options: { onSkipped?: (entry: unknown) => void } = {},
  ): void {
    for (const s of snapshots) {
      const openUntil = (s as { openUntil?: number | null } | undefined)?.openUntil ?? undefined;
      if (
        typeof s?.key !== 'string' ||
        !STATES.has(s.state) ||
        !(Number.isInteger(s.failures) && s.failures >= 0) ||
        (openUntil !== undefined && !Number.isFinite(openUntil))
      ) {
        options.onSkipped?.(s);
        continue;
      }
      const circuit = this.get({ key: s.key, ...DEFAULT_CIRCUIT_BREAKER_OPTIONS, ...this.known(s.key) });
      circuit.restore({
        key: s.key,
        state: s.state,
        failures: s.failures,
        ...(openUntil !== undefined ? { openUntil } : {}),
      });
    }
  }

  /** Forgets a circuit (e.g. a dependency that is gone); true if there was one. */
  delete(key: string): boolean {
    const circuit = this.circuits.get(key);
    if (circuit === undefined) return false;
    circuit.dispose();
    return this.circuits.delete(key);
  }

  /** Calls `fn` on every state change of any circuit; returns the unsubscribe function. */
  onTransition(fn: (t: CircuitTransition) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  private known(key: string): Partial<CircuitBreakerOptions> {
    const c = this.circuits.get(key);
    return c ? { failureThreshold: c.failureThreshold, resetTimeoutMs: c.resetTimeoutMs } : {};
  }
}
