/**
 * What every NATS part of a stream shares: its names on NATS (streams, subjects, KV bucket),
 * what it keeps in its KV bucket (the committed context, the claim, heartbeats), and NATS
 * failures as retryable `NETWORK` errors.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { ProcessorHeartbeat } from './heartbeat.js';
import type { ContextState, StreamClaim } from './transport.js';

/** A NATS failure as a retryable `NETWORK` error (the server unreachable, a request timed out), naming what failed. */
export function natsFailure(what: string, e: unknown): Orchestr8Error {
  if (e instanceof Orchestr8Error) return e;
  return new Orchestr8Error(
    ErrorCode.NETWORK,
    `NATS: ${what} failed: ${(e as Error)?.message ?? String(e)}`,
    {
      cause: e,
    },
  );
}

/** Sends a message that may be lost (it is sent again, or its loss is recovered from). */
export function quietly(send: () => void): void {
  try {
    send();
  } catch {
    // the connection is closed
  }
}

/** Runs a NATS call, its failure as a `NETWORK` error. */
export async function nats<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw natsFailure(what, e);
  }
}

/** Subjects and names a stream uses on NATS. */
export function natsNames(streamId: string) {
  const base = `o8s_${streamId}`;
  return {
    events: { stream: `${base}_events`, subject: `o8s.${streamId}.events` },
    actions: { stream: `${base}_actions`, subject: `o8s.${streamId}.actions` },
    slices: { stream: `${base}_slices`, subject: `o8s.${streamId}.slices` },
    errors: { stream: `${base}_errors`, subject: `o8s.${streamId}.errors` },
    bucket: base,
  };
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();
export const CONTEXT_KEY = 'context';
export const CLAIM_KEY = 'claim';
/** Stored as the context by a processor that takes a stream over before any slice was committed. */
export const NO_CONTEXT: ContextState = { slice: -1, values: {} };
export const HEARTBEAT_PREFIX = 'heartbeat.';
/** A processor id as a KV key token (keys allow letters, digits, "-", "_", "=", "/"). */
export const heartbeatKey = (processor: string) =>
  `${HEARTBEAT_PREFIX}${Buffer.from(processor).toString('base64url')}`;

/** Another writer changed the key since it was read (a compare-and-set lost). */
export function lostRace(e: unknown): boolean {
  return (
    e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
      e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * The stream's claim in its KV bucket, set by revision: of two claimants, one write wins.
 * A write lost to a concurrent one is read again: lost to the same owner (two renewals at
 * once), the claim is still this owner's.
 */
export async function claimIn(kv: KV, { owner, until, now }: StreamClaim): Promise<boolean> {
  const value = encoder.encode(JSON.stringify({ owner, until }));
  const entry = await kv.get(CLAIM_KEY);
  try {
    if (entry?.operation !== 'PUT' || entry.length === 0) await kv.create(CLAIM_KEY, value);
    else {
      const held = entry.json<{ owner: string; until: number }>();
      if (held.owner !== owner && held.until > now) return false;
      await kv.update(CLAIM_KEY, value, entry.revision);
    }
    return true;
  } catch (e) {
    if (!lostRace(e)) throw e;
    const entry = await kv.get(CLAIM_KEY);
    if (entry?.operation !== 'PUT' || entry.length === 0) return false;
    const held = entry.json<{ owner: string; until: number }>();
    // Lost to this owner's own write with the same effect (held, or released): done.
    return held.owner === owner && held.until > now === until > now;
  }
}

/** The committed context in a KV entry (none: no entry, or a takeover's marker before any commit). */
export function readContext(entry: KvEntry | null): ContextState | undefined {
  if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
  const state = entry.json<ContextState>();
  return state.slice < 0 ? undefined : state;
}

export async function readBeats(kv: KV): Promise<ProcessorHeartbeat[]> {
  const beats: ProcessorHeartbeat[] = [];
  for await (const key of await kv.keys(`${HEARTBEAT_PREFIX}>`)) {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT' && entry.length > 0) beats.push(entry.json<ProcessorHeartbeat>());
  }
  return beats;
}
