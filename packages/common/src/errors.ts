/**
 * One error taxonomy for every orchestr8 package. Codes are stable strings: they are
 * stored in journals, returned by the HTTP API and matched by retry policies, so a code
 * is never renamed. Predicates look at `code`, never `instanceof`, because a package
 * installed twice breaks `instanceof`.
 */
export const ErrorCode = {
  VALIDATION: 'VALIDATION',
  TIMEOUT: 'TIMEOUT',
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  CANCELLED: 'CANCELLED',
  RETRYABLE: 'RETRYABLE',
  TERMINAL: 'TERMINAL',
  NETWORK: 'NETWORK',
  HTTP_5XX: 'HTTP_5XX',
  HTTP_429: 'HTTP_429',
  HTTP_4XX: 'HTTP_4XX',
  AGENT_NOT_FOUND: 'AGENT_NOT_FOUND',
  AGENT_FAILED: 'AGENT_FAILED',
  EXPRESSION: 'EXPRESSION',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  STORE: 'STORE',
  INTERNAL: 'INTERNAL',
  /** A document asked for more than the operator grants (a program, a path, an environment variable). */
  CAPABILITY_DENIED: 'CAPABILITY_DENIED',
  /** An agent tried to connect to a destination the egress policy does not allow. */
  EGRESS_DENIED: 'EGRESS_DENIED',
  /** A configured limit was reached (e.g. sub-workflow nesting depth). */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** A step needed more memory than its isolated worker process may use; the worker was stopped. Never retried. */
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  /** A person rejected an approval step (`wait.approval`): the step fails with this code; never retried. */
  REJECTED: 'REJECTED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode] | (string & {});

/** Codes retried by default: transient by nature. VALIDATION, CIRCUIT_OPEN and the rest never are. */
export const DEFAULT_RETRYABLE_CODES: readonly string[] = [
  ErrorCode.TIMEOUT,
  ErrorCode.RETRYABLE,
  ErrorCode.NETWORK,
  ErrorCode.HTTP_5XX,
  ErrorCode.HTTP_429,
];

export interface SerializedError {
  name: string;
  code: string;
  message: string;
  retryable: boolean;
  attempts?: number;
  retryAfterMs?: number;
  details?: unknown;
  cause?: SerializedError;
}

export interface Orchestr8ErrorOptions {
  retryable?: boolean;
  attempts?: number;
  retryAfterMs?: number;
  details?: unknown;
  cause?: unknown;
}

export class Orchestr8Error extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  attempts: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: Orchestr8ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'Orchestr8Error';
    this.code = code;
    this.retryable = options.retryable ?? DEFAULT_RETRYABLE_CODES.includes(code);
    this.attempts = options.attempts;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** A transient failure: retry policies retry it, after `retryAfterMs` when given. */
export class RetryableError extends Orchestr8Error {
  constructor(
    message: string,
    options: Omit<Orchestr8ErrorOptions, 'retryable'> & { code?: ErrorCode } = {},
  ) {
    super(options.code ?? ErrorCode.RETRYABLE, message, { ...options, retryable: true });
    this.name = 'RetryableError';
  }
}

/** A failure that no retry can fix. */
export class TerminalError extends Orchestr8Error {
  constructor(
    message: string,
    options: Omit<Orchestr8ErrorOptions, 'retryable'> & { code?: ErrorCode } = {},
  ) {
    super(options.code ?? ErrorCode.TERMINAL, message, { ...options, retryable: false });
    this.name = 'TerminalError';
  }
}

export class ValidationError extends Orchestr8Error {
  constructor(message: string, options: Omit<Orchestr8ErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.VALIDATION, message, { ...options, retryable: false });
    this.name = 'ValidationError';
  }
}

export class TimeoutError extends Orchestr8Error {
  constructor(message: string, options: Omit<Orchestr8ErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.TIMEOUT, message, { ...options, retryable: true });
    this.name = 'TimeoutError';
  }
}

export class CancelledError extends Orchestr8Error {
  constructor(message = 'cancelled', options: Omit<Orchestr8ErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.CANCELLED, message, { ...options, retryable: false });
    this.name = 'CancelledError';
  }
}

export class CircuitOpenError extends Orchestr8Error {
  constructor(message: string, options: Omit<Orchestr8ErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.CIRCUIT_OPEN, message, { ...options, retryable: false });
    this.name = 'CircuitOpenError';
  }
}

export function isOrchestr8Error(value: unknown): value is Orchestr8Error {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { retryable?: unknown }).retryable === 'boolean' &&
    value instanceof Error
  );
}

export function hasCode(value: unknown, code: string): boolean {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === code;
}

/** Normalises anything thrown (strings, plain objects, foreign errors) into an Orchestr8Error. */
export function ensureError(
  value: unknown,
  fallbackCode: ErrorCode = ErrorCode.AGENT_FAILED,
): Orchestr8Error {
  if (isOrchestr8Error(value)) return value;
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    const known = typeof code === 'string' && code in ErrorCode ? code : undefined;
    if (value.name === 'AbortError') {
      return new CancelledError(value.message || 'aborted', { cause: value });
    }
    const retryable = (value as { retryable?: unknown }).retryable;
    return new Orchestr8Error(known ?? fallbackCode, value.message, {
      cause: value,
      ...(typeof retryable === 'boolean' ? { retryable } : {}),
    });
  }
  if (typeof value === 'string') return new Orchestr8Error(fallbackCode, value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return new Orchestr8Error(fallbackCode, `non-error thrown: ${text}`);
}

/**
 * Bounds of a serialized error, in UTF-8 bytes. A serialized error is data: it is stored with
 * its step and execution, listed, logged and answered to API callers, and an agent's error
 * may carry anything (a parser quoting its whole input). A longer message is cut and ends in
 * `… [truncated]`; larger details are replaced by a `[truncated]` preview, as journal fields are.
 */
export const MAX_ERROR_MESSAGE_BYTES = 8 * 1024;
export const MAX_ERROR_DETAILS_BYTES = 16 * 1024;
const PREVIEW_BYTES = 1024;
const CUT_MARK = '… [truncated]';

let encoder: { encode(input: string): Uint8Array } | undefined;
/** `s` cut to at most `max` UTF-8 bytes, at a character boundary; `s` itself when it fits. */
function cutToBytes(s: string, max: number): string {
  // A UTF-16 code unit takes at most 3 bytes: most strings need no encoding to know they fit.
  if (s.length * 3 <= max) return s;
  encoder ??= new TextEncoder();
  const bytes = encoder.encode(s);
  if (bytes.length <= max) return s;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

function boundedMessage(message: string): string {
  const cut = cutToBytes(message, MAX_ERROR_MESSAGE_BYTES);
  return cut === message ? message : cutToBytes(message, MAX_ERROR_MESSAGE_BYTES - 16) + CUT_MARK;
}

function boundedDetails(details: unknown): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(details);
  } catch {
    return details;
  }
  if (json === undefined || cutToBytes(json, MAX_ERROR_DETAILS_BYTES) === json) return details;
  encoder ??= new TextEncoder();
  return {
    '[truncated]': true,
    originalBytes: encoder.encode(json).length,
    preview: cutToBytes(json, PREVIEW_BYTES),
  };
}

/** The error as data (see MAX_ERROR_MESSAGE_BYTES for its bounds); its causes to a depth of 5. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  const e = ensureError(error);
  const out: SerializedError = {
    name: e.name,
    code: e.code,
    message: boundedMessage(e.message),
    retryable: e.retryable,
  };
  if (e.attempts !== undefined) out.attempts = e.attempts;
  if (e.retryAfterMs !== undefined) out.retryAfterMs = e.retryAfterMs;
  if (e.details !== undefined) out.details = boundedDetails(e.details);
  if (e.cause !== undefined && depth < 5) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

/** Rebuilds an error read back from a journal or store. */
export function deserializeError(data: SerializedError): Orchestr8Error {
  const e = new Orchestr8Error(data.code, data.message, {
    retryable: data.retryable,
    ...(data.attempts !== undefined ? { attempts: data.attempts } : {}),
    ...(data.retryAfterMs !== undefined ? { retryAfterMs: data.retryAfterMs } : {}),
    ...(data.details !== undefined ? { details: data.details } : {}),
    ...(data.cause ? { cause: deserializeError(data.cause) } : {}),
  });
  e.name = data.name;
  return e;
}
