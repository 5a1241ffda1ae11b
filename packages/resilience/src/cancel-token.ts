import { setMaxListeners } from 'node:events';
import { CancelledError, isOrchestr8Error, Orchestr8Error } from '@orchestr8/common';

/**
 * Handed to attempts when the caller gave no signal and no timeout layer made one: sharing it
 * keeps the policy-free path allocation-free. It never aborts, so listeners added to it are
 * never called; attempts must remove theirs (fetch and undici do) or they accumulate.
 */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;
// Many concurrent attempts may listen to it at once: that is not a leak worth a warning.
setMaxListeners(0, NEVER_ABORTED);

/**
 * The error an execution ends with when its signal aborts. Always a fresh error (the reason may
 * be shared by every step of a cancelled execution, and the final error's `attempts` is set per
 * execution): an orchestr8 reason keeps its code (a deadline stays `TIMEOUT`), anything else
 * becomes `CANCELLED`; the reason is the cause.
 */
export function abortError(reason: unknown): Orchestr8Error {
  if (isOrchestr8Error(reason)) {
    const copy = new Orchestr8Error(reason.code, reason.message, {
      retryable: reason.retryable,
      cause: reason,
      ...(reason.retryAfterMs !== undefined ? { retryAfterMs: reason.retryAfterMs } : {}),
      ...(reason.details !== undefined ? { details: reason.details } : {}),
    });
    copy.name = reason.name;
    return copy;
  }
  const message =
    reason instanceof Error && reason.message
      ? reason.message
      : typeof reason === 'string'
        ? reason
        : 'cancelled';
  return new CancelledError(message, { cause: reason });
}

/** Told once when a token aborts; linked into the token's list (no allocation per listener). */
export interface AbortListener {
  onAbort(reason: unknown): void;
  prevListener: AbortListener | undefined;
  nextListener: AbortListener | undefined;
}

/**
 * Cancellation between layers. An AbortSignal costs about 2 µs to create in Node 20, so the
 * layers pass tokens and a token makes its AbortSignal only when someone reads `signal`
 * (an attempt reading `ctx.signal`, or a backoff sleep). The root token of a caller's signal
 * is shared by every execution using that signal: one 'abort' listener per signal, not per call.
 * Callers may make their own (`new CancelToken()`, `abort(reason)`) and pass it as `cancel`.
 */
export class CancelToken {
  aborted = false;
  reason: unknown = undefined;
  private controller: AbortController | undefined = undefined;
  private first: AbortListener | undefined = undefined;

  /** `external`: a root token's signal, handed out as is. None for a token the caller aborts. */
  constructor(readonly external: AbortSignal | undefined = undefined) {}

  get signal(): AbortSignal {
    if (this.external !== undefined) return this.external;
    let controller = this.controller;
    if (controller === undefined) {
      controller = this.controller = new AbortController();
      if (this.aborted) controller.abort(this.reason);
    }
    return controller.signal;
  }

  /** The signal if one exists or the token can abort, else undefined (nothing to listen to). */
  get listenableSignal(): AbortSignal | undefined {
    return this === NEVER ? undefined : this.signal;
  }

  subscribe(listener: AbortListener): void {
    if (this === NEVER) return;
    const first = this.first;
    listener.prevListener = undefined;
    listener.nextListener = first;
    if (first !== undefined) first.prevListener = listener;
    this.first = listener;
  }

  unsubscribe(listener: AbortListener): void {
    if (this === NEVER) return;
    const { prevListener: prev, nextListener: next } = listener;
    if (prev !== undefined) prev.nextListener = next;
    else if (this.first === listener) this.first = next;
    else return; // not subscribed (already told)
    if (next !== undefined) next.prevListener = prev;
    listener.prevListener = listener.nextListener = undefined;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    let listener = this.first;
    this.first = undefined;
    while (listener !== undefined) {
      const next = listener.nextListener;
      listener.prevListener = listener.nextListener = undefined;
      listener.onAbort(reason);
      listener = next;
    }
  }
}

/** The root token when the caller gave no signal: never aborts. */
export const NEVER = new CancelToken(NEVER_ABORTED);

const roots = new WeakMap<AbortSignal, CancelToken>();

/** The shared root token of a caller's signal (NEVER when there is none). */
export function rootToken(signal: AbortSignal | undefined): CancelToken {
  if (signal === undefined || signal === NEVER_ABORTED) return NEVER;
  let token = roots.get(signal);
  if (token === undefined) {
    const root = new CancelToken(signal);
    if (signal.aborted) {
      root.aborted = true;
      root.reason = signal.reason;
    } else {
      signal.addEventListener('abort', () => root.abort(signal.reason), { once: true });
    }
    roots.set(signal, root);
    token = root;
  }
  return token;
}

/**
 * The context of an attempt under a timeout layer: its signal is made on first read. A class
 * with a prototype getter (an object literal getter costs ~300 ns); the getter is not an own
 * property, so `{ ...ctx }` drops `signal`: read it, don't spread the context.
 */
export class LazyAttemptContext {
  constructor(
    readonly attempt: number,
    private readonly token: CancelToken,
  ) {}

  get signal(): AbortSignal {
    return this.token.signal;
  }
}
