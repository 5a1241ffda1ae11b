/**
 * Events in and actions out: validated, capped and normalised. An event's slice comes
 * from its own timestamp and the stream's epoch, never from when it arrived, so the same
 * events always fall into the same slices.
 */
import type { CompiledStream } from './load-stream.js';
import { EVENT_ID_PATTERN, KIND_PATTERN, STREAM_ID_PATTERN } from './stream-schema.js';

export interface StreamEvent {
  id: string;
  /** Epoch milliseconds (an ISO-8601 string is accepted on input). */
  ts: number;
  kind: string;
  stream: string;
  payload: unknown;
}

export interface StreamAction {
  /** `<stream>:<slice>:<crew>:<n>`: the same in a replay. */
  id: string;
  /** The end of the slice that produced it. */
  ts: number;
  kind: string;
  stream: string;
  payload: unknown;
  ttlMs: number;
  slice: number;
  crew: string;
}

/** Why an event was refused, with the field at fault. */
export interface EventProblem {
  pointer: string;
  message: string;
}

const EVENT_FIELDS = new Set(['id', 'ts', 'kind', 'stream', 'payload']);

/**
 * How deep objects and arrays may nest in an event, the event object itself counting as one
 * level. Deeper events are refused before anything walks them recursively: serialising a
 * value ~5,000 levels deep overflows the stack, well under `maxEventBytes`.
 */
export const MAX_EVENT_DEPTH = 64;

/** Bytes of a value as JSON (UTF-8). Recursive: check `jsonDepth` first on untrusted values. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/**
 * How deep objects and arrays nest in a value (a scalar: 0, `[]` and `{}`: 1, `[[]]`: 2),
 * walked without recursion. Stops once past `limit`, returning `limit + 1` and the pointer of
 * a value that deep.
 */
export function jsonDepth(
  value: unknown,
  limit = Number.POSITIVE_INFINITY,
): { depth: number; pointer: string } {
  let deepest = { depth: 0, pointer: '' };
  const stack: { value: unknown; depth: number; pointer: string }[] = [{ value, depth: 1, pointer: '' }];
  while (stack.length > 0) {
    const at = stack.pop()!;
    if (typeof at.value !== 'object' || at.value === null) continue;
    if (at.depth > deepest.depth) deepest = { depth: at.depth, pointer: at.pointer };
    if (at.depth > limit) return deepest;
    const entries = Array.isArray(at.value) ? at.value.entries() : Object.entries(at.value);
    for (const [k, v] of entries)
      if (typeof v === 'object' && v !== null)
        stack.push({ value: v, depth: at.depth + 1, pointer: `${at.pointer}/${escapePointer(String(k))}` });
  }
  return deepest;
}

const escapePointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** The slice an instant falls in: floor((ts - epoch) / slice). */
export function sliceIndex(ts: number, stream: Pick<CompiledStream, 'epochMs' | 'sliceMs'>): number {
  return Math.floor((ts - stream.epochMs) / stream.sliceMs);
}

/** Start (inclusive) and end (exclusive) of a slice, in epoch milliseconds. */
export function sliceBounds(index: number, stream: Pick<CompiledStream, 'epochMs' | 'sliceMs'>) {
  const start = stream.epochMs + index * stream.sliceMs;
  return { start, end: start + stream.sliceMs };
}

/**
 * Checks one incoming event against the stream: shape, nesting depth, patterns, its kind's
 * payload schema and the size cap. Returns the normalised event or the problems. `bytes`:
 * the event's size as received, when the caller has it (else it is measured as JSON).
 */
export function checkEvent(
  value: unknown,
  stream: CompiledStream,
  options: { bytes?: number } = {},
): { event: StreamEvent; problems?: undefined } | { event?: undefined; problems: EventProblem[] } {
  const problems: EventProblem[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return {
      problems: [{ pointer: '', message: 'an event must be an object {id, ts, kind, stream, payload}' }],
    };
  const e = value as Record<string, unknown>;
  // First: the payload schema check and the size measure below walk the value recursively.
  const nesting = jsonDepth(value, MAX_EVENT_DEPTH);
  const tooDeep = nesting.depth > MAX_EVENT_DEPTH;
  if (tooDeep)
    problems.push({
      pointer: nesting.pointer,
      message: `the event nests objects and arrays more than ${MAX_EVENT_DEPTH} levels deep (itself one level); the limit is ${MAX_EVENT_DEPTH}`,
    });
  for (const k of Object.keys(e))
    if (!EVENT_FIELDS.has(k)) problems.push({ pointer: `/${k}`, message: `unknown field "${k}"` });
  if (e.id === undefined) problems.push({ pointer: '/id', message: 'id is required' });
  else if (typeof e.id !== 'string' || !EVENT_ID_PATTERN.test(e.id))
    problems.push({ pointer: '/id', message: 'id must be 1 to 128 letters, digits, "_", ".", ":" or "-"' });
  let ts = Number.NaN;
  if (typeof e.ts === 'number' && Number.isSafeInteger(e.ts)) ts = e.ts;
  else if (typeof e.ts === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(e.ts)) ts = Date.parse(e.ts);
  if (!Number.isFinite(ts))
    problems.push({ pointer: '/ts', message: 'ts must be epoch milliseconds or an ISO-8601 time' });
  else if (ts < stream.epochMs)
    problems.push({
      pointer: '/ts',
      message: `ts is before the stream's epoch (${new Date(stream.epochMs).toISOString()})`,
    });
  if (typeof e.stream !== 'string' || !STREAM_ID_PATTERN.test(e.stream))
    problems.push({ pointer: '/stream', message: 'stream must be a stream id' });
  else if (e.stream !== stream.id)
    problems.push({ pointer: '/stream', message: `event for stream "${e.stream}", not "${stream.id}"` });
  if (typeof e.kind !== 'string' || !KIND_PATTERN.test(e.kind))
    problems.push({
      pointer: '/kind',
      message: 'kind must be letters, digits, "_", "." and "-", starting with a letter',
    });
  else if (!stream.kinds.has(e.kind))
    problems.push({ pointer: '/kind', message: `unknown event kind "${e.kind}"` });
  else if (!tooDeep) {
    const check = stream.kinds.get(e.kind);
    if (check)
      for (const p of check(e.payload))
        problems.push({ pointer: p.pointer, message: `payload ${p.message}` });
  }
  const bytes = options.bytes ?? (tooDeep ? 0 : jsonBytes(value));
  if (bytes > stream.limits.maxEventBytes)
    problems.push({
      pointer: '',
      message: `event is ${bytes} bytes; the limit is ${stream.limits.maxEventBytes}`,
    });
  if (problems.length > 0) return { problems };
  return {
    event: { id: e.id as string, ts, kind: e.kind as string, stream: stream.id, payload: e.payload ?? null },
  };
}

/** Deterministic order inside a slice: by timestamp, then id (arrival order does not matter). */
export function compareEvents(a: StreamEvent, b: StreamEvent): number {
  return a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** What a crew's result may hold for one action. */
export function checkActionOutput(value: unknown, at: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `${at} must be an object {kind, payload, ttlMs?}`;
  const a = value as Record<string, unknown>;
  for (const k of Object.keys(a))
    if (!['kind', 'payload', 'ttlMs'].includes(k)) return `${at} has an unknown field "${k}"`;
  if (typeof a.kind !== 'string' || !KIND_PATTERN.test(a.kind))
    return `${at}.kind must be letters, digits, "_", "." and "-", starting with a letter`;
  if (
    a.ttlMs !== undefined &&
    (typeof a.ttlMs !== 'number' || !Number.isSafeInteger(a.ttlMs) || a.ttlMs <= 0)
  )
    return `${at}.ttlMs must be a positive integer`;
  return undefined;
}

/** Whether an action's time to live has run out at `now`. */
export function isExpired(action: Pick<StreamAction, 'ts' | 'ttlMs'>, now: number): boolean {
  return now >= action.ts + action.ttlMs;
}
