/** Webhook signatures: a plain HMAC-SHA256 of the body, and Stripe's timestamped scheme. */
import { createHmac, timingSafeEqual } from 'node:crypto';

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/** A request header's first value (`headers` keyed in lower case, as node gives them). */
export function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Whether `signature` (hex, optionally "sha256=") is the HMAC-SHA256 of the body with the secret. */
export function verifySignature(secret: string, body: Buffer, signature: string | undefined): boolean {
  return checkSignature(secret, body, signature).ok;
}

/** `verifySignature` with why, when not valid (as `verifyStripeSignature` says it). */
export function checkSignature(
  secret: string,
  body: Buffer,
  signature: string | undefined,
): { ok: true } | { ok: false; reason: string } {
  if (!signature) return { ok: false, reason: 'is missing' };
  const hex = signature.startsWith('sha256=') ? signature.slice(7) : signature;
  if (!HEX_SHA256.test(hex)) return { ok: false, reason: 'is not of the form [sha256=]<64 hex digits>' };
  return sameHmac(createHmac('sha256', secret).update(body).digest(), hex)
    ? { ok: true }
    : { ok: false, reason: 'does not match the body' };
}

function sameHmac(expected: Buffer, hex: string): boolean {
  if (!HEX_SHA256.test(hex)) return false;
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}

/**
 * Stripe's scheme: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, each v1 the HMAC-SHA256 of
 * `<t>.<body>`; valid when one v1 matches and t is within `toleranceMs` of `now` (a replay of
 * an old delivery is refused even with its genuine signature). Why, when not valid.
 */
export function verifyStripeSignature(
  secret: string,
  body: Buffer,
  header: string | undefined,
  now: number,
  toleranceMs: number,
): { ok: true } | { ok: false; reason: string } {
  if (!header) return { ok: false, reason: 'is missing' };
  let t: string | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') t = v;
    else if (k === 'v1') v1.push(v);
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || v1.length === 0)
    return { ok: false, reason: 'is not of the form t=<timestamp>,v1=<signature>' };
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  if (!v1.some((sig) => sameHmac(expected, sig))) return { ok: false, reason: 'does not match the body' };
  if (Math.abs(now - Number(t) * 1000) > toleranceMs)
    return { ok: false, reason: `has a timestamp more than ${Math.round(toleranceMs / 1000)} s from now` };
  return { ok: true };
}
