/**
 * What the http agent, the LLM providers and the remote-agent proxy share: a deadline
 * linked to the step's signal, a body reader with a byte cap, Retry-After parsing and the
 * mapping of fetch failures to error codes.
 */
import {
  CancelledError,
  ErrorCode,
  hasCode,
  isOrchestr8Error,
  type Orchestr8Error,
  RetryableError,
  TerminalError,
  TimeoutError,
} from '@orchestr8/common';

/** A signal that aborts when `parent` does or after `timeoutMs`, whichever comes first. */
export interface Deadline {
  readonly signal: AbortSignal;
  dispose(): void;
}

export function linkDeadline(parent: AbortSignal, timeoutMs: number | undefined, what: string): Deadline {
  const controller = new AbortController();
  if (parent.aborted) controller.abort(parent.reason);
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
    timer = setTimeout(
      () => controller.abort(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  }
  return {
    signal: controller.signal,
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** The error to throw once a signal has aborted: its reason when it is ours, else CANCELLED. */
export function abortError(signal: AbortSignal): Orchestr8Error {
  const reason = signal.reason as unknown;
  if (isOrchestr8Error(reason)) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TimeoutError(reason.message || 'timed out', { cause: reason });
  }
  const message = reason instanceof Error && reason.message ? reason.message : 'aborted';
  return new CancelledError(message, reason === undefined ? {} : { cause: reason });
}

/**
 * Maps what `fetch` threw: an aborted signal gives its reason; a connection the egress
 * policy refused is EGRESS_DENIED (fetch wraps it as `TypeError: fetch failed`, so it is
 * looked for among the causes), never retried; anything else is a network failure
 * (refused, reset, DNS, TLS), which is worth retrying.
 */
export function fetchFailure(error: unknown, signal: AbortSignal, what: string): Orchestr8Error {
  if (signal.aborted) return abortError(signal);
  const denied = egressRefusal(error);
  if (denied) {
    return new TerminalError(`${what}: ${denied.message}`, {
      code: ErrorCode.EGRESS_DENIED,
      details: denied.details,
    });
  }
  if (isOrchestr8Error(error)) return error;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const errno = typeof cause?.code === 'string' ? cause.code : undefined;
  const reason =
    typeof cause?.message === 'string' && cause.message
      ? cause.message
      : error instanceof Error
        ? error.message
        : String(error);
  return new RetryableError(`${what} failed: ${reason}`, {
    code: ErrorCode.NETWORK,
    cause: error,
    ...(errno ? { details: { errno } } : {}),
  });
}

function egressRefusal(error: unknown): Orchestr8Error | undefined {
  let e = error;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    if (hasCode(e, ErrorCode.EGRESS_DENIED) && isOrchestr8Error(e)) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * `Retry-After` as milliseconds: delta-seconds ("120") or an HTTP date. Undefined when
 * absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Retry-After in ms from a response: `retry-after-ms` (OpenAI and others) first, then `retry-after`. */
export function retryAfterOf(headers: Headers): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  return parseRetryAfter(headers.get('retry-after'));
}

export interface CappedBody {
  text: string;
  /** Bytes read (at most the cap). */
  bytes: number;
  /** True when the body was longer than the cap and reading stopped there. */
  truncated: boolean;
}

/**
 * Reads a response body as UTF-8 text, stopping at `maxBytes`: the rest is not downloaded
 * (the stream is cancelled), so a huge or endless body cannot exhaust memory.
 */
export async function readCapped(res: Response, maxBytes: number): Promise<CappedBody> {
  const body = res.body;
  if (body === null) return { text: '', bytes: 0, truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > maxBytes) {
        chunks.push(value.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks, size));
  return { text, bytes: size, truncated };
}

/** Discards a body we will not read, so the connection can be reused or closed. */
export async function discardBody(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}

/** The URL without query, fragment or credentials: safe for messages and the journal. */
export function safeUrl(url: URL | string): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

/** At most `max` characters of a text, with an ellipsis when cut. */
export function excerpt(text: string, max = 1000): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

export function isJsonContentType(contentType: string | null): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
