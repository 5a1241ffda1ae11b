/**
 * What the scheduler does with a webhook request before flow control: the signature check
 * (a refusal, or nothing) and the trigger context a document's templates see.
 */
import type { CompiledTrigger } from '@orchestr8/schema';
import type { TriggerContext } from './flow-control.js';
import type { WebhookRequest, WebhookResult } from './scheduler-api.js';
import { iso } from './trigger-correlation.js';
import { checkSignature, header, verifyStripeSignature } from './webhook-signature.js';

/**
 * Why a request is refused for its signature (503 when the operator has not granted and set
 * the secret, 401 when it does not match), or undefined when it passes or none is required.
 */
export function signatureRefusal(
  trigger: CompiledTrigger,
  request: WebhookRequest,
  secretOf: (env: string) => string | undefined,
  now: number,
): WebhookResult | undefined {
  const sig = trigger.webhook?.signature;
  if (!sig) return undefined;
  const secret = secretOf(sig.env);
  if (!secret)
    return {
      status: 503,
      reason: `the signing secret of webhook "${trigger.name}" is not available: the operator must grant and set ${sig.env}`,
    };
  const given = header(request.headers, sig.header);
  if (sig.scheme === 'stripe') {
    const v = verifyStripeSignature(secret, request.rawBody, given, now, sig.toleranceMs);
    if (!v.ok) return { status: 401, reason: `the ${sig.header} signature ${v.reason}` };
  } else {
    const v = checkSignature(secret, request.rawBody, given);
    if (!v.ok) return { status: 401, reason: `the ${sig.header} signature ${v.reason}` };
  }
  return undefined;
}

/**
 * The delivery id that makes a redelivery a duplicate: the trigger's dedupe header; else, for a
 * Stripe-signed webhook, the event's `id` in the body (Stripe sends no delivery header; a
 * delivery it retries, or one replayed within the tolerance, carries the same event id, and the
 * signature vouches for the body, which no header is); else Idempotency-Key. A signed id comes
 * before the unsigned header: a replayed delivery with a fresh Idempotency-Key is still a
 * duplicate. `body` is the parsed body (`webhookContext`).
 */
export function deliveryIdOf(
  trigger: CompiledTrigger,
  request: WebhookRequest,
  body?: unknown,
): string | undefined {
  const dedupe = trigger.webhook?.dedupeHeader;
  const configured = dedupe ? header(request.headers, dedupe) : undefined;
  if (configured !== undefined) return configured;
  const key = header(request.headers, 'idempotency-key');
  if (trigger.webhook?.signature?.scheme !== 'stripe') return key;
  return signedEventId(body) ?? key;
}

function signedEventId(body: unknown): string | undefined {
  let event = body;
  if (typeof event === 'string') {
    try {
      event = JSON.parse(event);
    } catch {
      return undefined;
    }
  }
  const id = (event as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/** The `trigger` a webhook's templates see: the body (parsed when JSON), headers in lower case, query. */
export function webhookContext(
  name: string,
  request: WebhookRequest,
  now: number,
  deliveryId: string | undefined,
): TriggerContext {
  const text = request.rawBody.toString('utf8');
  let body: unknown = text;
  const type = header(request.headers, 'content-type') ?? '';
  if (/json/i.test(type) && text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers))
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  const ctx: TriggerContext = {
    name,
    kind: 'webhook',
    time: iso(now),
    timestamp: now,
    body,
    headers,
    query: request.query ?? {},
  };
  if (deliveryId !== undefined) ctx.deliveryId = deliveryId;
  return ctx;
}
