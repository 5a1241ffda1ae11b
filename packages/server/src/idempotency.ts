/**
 * `Idempotency-Key` (IETF httpapi idempotency-key draft). The key is stored durably by the
 * engine with a fingerprint of the request; the store's unique constraint decides which of
 * concurrent requests creates the execution.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { canonicalJson } from '@orchestr8/schema';
import { singleHeader } from './http.js';
import { HttpProblem, ProblemCode } from './problem.js';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** 1-255 printable ASCII characters (space to tilde). */
const PRINTABLE = /^[\x20-\x7e]{1,255}$/;

/**
 * The key of a request, or undefined when the header is absent. The draft sends the key as
 * a Structured Field string (`"abc"`); a bare token (`abc`) is accepted too.
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw invalid('the Idempotency-Key header must appear once');
  let key = header;
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) {
    key = unquote(key.slice(1, -1));
  }
  if (!PRINTABLE.test(key)) {
    throw invalid(
      key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH
        ? `the Idempotency-Key must be 1-${IDEMPOTENCY_KEY_MAX_LENGTH} characters long`
        : 'the Idempotency-Key may contain only printable ASCII characters',
    );
  }
  return key;
}

/**
 * The key of a request (see `parseIdempotencyKey`). Sent twice, it is a 400: Node would join
 * the two into one key (`a1, a2`) that a later single header of that text would replay.
 */
export function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  return parseIdempotencyKey(
    singleHeader(req, 'idempotency-key', 'Idempotency-Key', ProblemCode.IDEMPOTENCY_KEY_INVALID),
  );
}

/** The inside of an sf-string: only `\"` and `\\` are escapes; a lone backslash or quote is malformed. */
function unquote(inner: string): string {
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '"') throw invalid('the Idempotency-Key is not a valid quoted string');
    if (c === '\\') {
      const n = inner[++i];
      if (n !== '"' && n !== '\\') throw invalid('the Idempotency-Key is not a valid quoted string');
      out += n;
    } else out += c;
  }
  return out;
}

function invalid(detail: string): HttpProblem {
  return new HttpProblem(400, ProblemCode.IDEMPOTENCY_KEY_INVALID, detail);
}

/** sha256 of the canonical JSON (sorted keys) of method, path and body: equal requests, equal prints. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(canonicalJson({ method: method.toUpperCase(), path, body: body ?? null }))
    .digest('hex');
}

/**
 * Keys are scoped to the caller: with API keys on, a key is stored under the caller's
 * principal, so one client can neither replay nor probe another client's keys.
 */
export function scopedKey(key: string, principal: string | undefined): string {
  return principal === undefined ? key : `${principal}:${key}`;
}
