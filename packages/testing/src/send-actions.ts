import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { Engine, Store, WaitRecord } from '@orchestr8/core';
import { parseDuration } from '@orchestr8/schema';

/**
 * What a test sends to an execution that waits (`send:` in a `*.test.yaml`, `send` of
 * `TestEngine.run`), in order. Each is sent once its target waits: an event once some step
 * waits for an event of that name, a signal once a step of this execution does, a decision
 * once its step waits for one. Until then fake time moves on (timers fire), so an event meant
 * to come after a timeout is written after an `advance`.
 */
export type SendAction =
  | { event: { name: string; id?: string; payload?: unknown } }
  | { signal: { name: string; id?: string; payload?: unknown } }
  | { approve: { step: string; by?: string; data?: unknown; comment?: string } }
  | { reject: { step: string; by?: string; comment?: string } }
  /** Moves the fake clock by a duration (`90s`, `2h`) or ms, before what follows. */
  | { advance: string | number };

const KINDS = ['event', 'signal', 'approve', 'reject', 'advance'] as const;
const FIELDS: Record<(typeof KINDS)[number], readonly string[]> = {
  event: ['name', 'id', 'payload'],
  signal: ['name', 'id', 'payload'],
  approve: ['step', 'by', 'data', 'comment'],
  reject: ['step', 'by', 'comment'],
  advance: [],
};

/** Problems of a `send` list as written in a test file, each naming where it is. */
export function sendProblems(v: unknown, where: string): string[] {
  if (!Array.isArray(v))
    return [`${where} must be a list like [{event: {name: paid}}, {approve: {step: ok}}]`];
  const problems: string[] = [];
  v.forEach((a, i) => {
    const at = `${where}[${i}]`;
    const keys = typeof a === 'object' && a !== null && !Array.isArray(a) ? Object.keys(a) : [];
    const kind = keys[0] as (typeof KINDS)[number];
    if (keys.length !== 1 || !KINDS.includes(kind)) {
      problems.push(`${at} must have exactly one of ${KINDS.join(', ')}`);
      return;
    }
    const body = (a as Record<string, unknown>)[kind];
    if (kind === 'advance') {
      if (!((typeof body === 'number' && body >= 0) || typeof body === 'string'))
        problems.push(`${at}.advance must be a duration like 90s or 2h, or milliseconds`);
      else if (typeof body === 'string') {
        try {
          parseDuration(body);
        } catch {
          problems.push(`${at}.advance: "${body}" is not a duration (like 500ms, 90s, 5m, 2h)`);
        }
      }
      return;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      problems.push(`${at}.${kind} must be an object`);
      return;
    }
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (!FIELDS[kind].includes(k))
        problems.push(`${at}.${kind}: unknown field "${k}" (expected ${FIELDS[kind].join(', ')})`);
    const required = kind === 'event' || kind === 'signal' ? 'name' : 'step';
    if (typeof b[required] !== 'string' || b[required] === '')
      problems.push(`${at}.${kind}.${required} must be a non-empty string`);
    for (const k of ['id', 'by', 'comment'])
      if (b[k] !== undefined && typeof b[k] !== 'string')
        problems.push(`${at}.${kind}.${k} must be a string`);
  });
  return problems;
}

export function describeSend(a: SendAction): string {
  if ('event' in a) return `event ${a.event.name}`;
  if ('signal' in a) return `signal ${a.signal.name}`;
  if ('approve' in a) return `approve ${a.approve.step}`;
  if ('reject' in a) return `reject ${a.reject.step}`;
  return `advance ${a.advance}`;
}

/** Whether the action's target waits now. */
export async function canSend(store: Store, executionId: string, a: SendAction): Promise<boolean> {
  const ws = store.waits;
  if ('advance' in a) return true;
  if (ws === undefined) return false;
  if ('event' in a) return (await ws.waitsForEvent(a.event.name)).length > 0;
  if ('signal' in a)
    return (await ws.listWaits({ executionId, state: 'pending' })).some((w) =>
      w.events?.includes(a.signal.name),
    );
  const step = 'approve' in a ? a.approve.step : a.reject.step;
  const w = await ws.getWait(`${executionId}/${step}`);
  return w?.kind === 'approval' && w.state === 'pending';
}

export async function send(
  engine: Engine,
  executionId: string,
  a: SendAction,
  advance: (ms: number) => Promise<void>,
): Promise<void> {
  if ('advance' in a) return advance(typeof a.advance === 'number' ? a.advance : parseDuration(a.advance));
  if ('event' in a) {
    await engine.sendEvent(a.event);
    return;
  }
  if ('signal' in a) {
    await engine.signal(executionId, a.signal.name, a.signal.payload, a.signal.id);
    return;
  }
  const [decision, d] = 'approve' in a ? (['approve', a.approve] as const) : (['reject', a.reject] as const);
  await engine.decide(executionId, d.step, {
    decision,
    ...(d.by !== undefined ? { by: d.by } : {}),
    ...('data' in d && d.data !== undefined ? { data: d.data } : {}),
    ...(d.comment !== undefined ? { comment: d.comment } : {}),
  });
}

/** What the execution (or any execution) waits for, for the message of a test that is stuck. */
export async function describeWaiting(store: Store, executionId: string): Promise<string> {
  const waits: WaitRecord[] = (await store.waits?.listWaits({ state: 'pending' })) ?? [];
  const mine = waits.filter((w) => w.executionId === executionId && !w.stepId.startsWith('#'));
  const shown = (mine.length > 0 ? mine : waits).map((w) =>
    w.kind === 'approval'
      ? `step ${w.stepId} waits for a decision (send approve or reject)`
      : `step ${w.stepId} waits for ${w.kind === 'all' ? 'all of ' : ''}event ${(w.events ?? []).join(', ')}`,
  );
  return shown.length > 0 ? shown.join('; ') : 'nothing it can be sent';
}

export function stuck(message: string): Orchestr8Error {
  return new Orchestr8Error(ErrorCode.TIMEOUT, message, { retryable: false });
}
