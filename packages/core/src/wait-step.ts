import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { type CompiledWait, renderValue } from '@orchestr8/schema';
import { EventType } from './events.js';
import type { RunHost, StepRun } from './run-host.js';
import { complete, evaluateCondition, fail } from './step-runner.js';
import { ATTR, endSpan, startChildSpan } from './tracing.js';
import { correlationOf } from './wait-correlation.js';
import {
  DEFAULT_EVENT_LOOK_BACK_MS,
  eventView,
  matchScopeOf,
  offerRecentEvents,
  receiveEvent,
  type WaitOutcome,
  type WaitRecord,
  waitId,
} from './waits.js';

/**
 * A `wait` step: registers its wait in the store (or finds the outcome a wake left there),
 * then either completes at once (the outcome is known: a late timer, an event already in the
 * inbox) or becomes `waiting`, giving back its concurrency slot. The run leaves memory once
 * every unfinished step waits (RunHost.stepWaiting).
 */
export function runWaitStep(run: RunHost, sr: StepRun): void {
  const c = sr.compiled;
  const rec = sr.record;
  if (c.condition !== undefined) {
    let skip: string | undefined;
    try {
      skip = evaluateCondition(c, run.scope);
    } catch (e) {
      rec.startedAt = run.rt.clock.now();
      fail(run, sr, asError(e));
      run.stepDone(sr);
      return;
    }
    if (skip !== undefined) {
      run.skip(sr, skip);
      run.stepDone(sr);
      return;
    }
  }
  const resumed = rec.attempts > 0;
  rec.status = 'running';
  rec.startedAt ??= run.rt.clock.now();
  rec.attempts = 1;
  sr.startMono = run.rt.clock.monotonic();
  if (!resumed) run.log(EventType.stepStarted, c.id, 1, { wait: c.wait!.kind });
  run.saveStep(sr);
  registerWait(run, sr).then(
    (parked) => {
      if (parked) run.stepWaiting(sr);
      else run.stepDone(sr);
    },
    (e) => {
      if (!run.isAbandoned(sr)) fail(run, sr, asError(e));
      run.stepDone(sr);
    },
  );
}

/** True when the step now waits; false when it reached a terminal state. */
async function registerWait(run: RunHost, sr: StepRun): Promise<boolean> {
  const c = sr.compiled;
  const wait = c.wait!;
  const ws = run.rt.store.waits;
  if (ws === undefined) {
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      `step "${c.id}" waits, but the ${run.rt.store.kind} store does not support waits yet (use the SQLite or memory store)`,
      { retryable: false },
    );
  }
  const now = run.rt.clock.now();
  const id = waitId(run.record.id, c.id);
  let w = await ws.getWait(id);
  if (w === undefined) {
    w = newWait(run, sr, wait, id, now);
    if (w.events !== undefined) w = await lookBack(run, w, now);
    if (w.state === 'pending' && (wait.kind === 'timer' || wait.kind === 'until') && w.dueAt! <= now) {
      w = { ...w, state: 'woken', outcome: { kind: 'fired', at: now } };
    }
    if (w.state === 'woken') {
      if (run.isAbandoned(sr)) return false;
      applyOutcome(run, sr, w, wait);
      return false;
    }
    await ws.putWait(w);
    // An event delivered after the look above and before the wait was registered found no
    // wait to wake: look again now that it is registered (claims are versioned, so whoever
    // offers an event first, the wait takes it once).
    if (w.events !== undefined) w = (await recheck(run, w, now)) ?? w;
  }
  if (w.state === 'woken') {
    if (run.isAbandoned(sr)) return false;
    applyOutcome(run, sr, w, wait);
    // The wait goes once the step's outcome is committed; a crash before leaves it to apply again.
    run.rt.batcher.barrier().then(
      () => ws.deleteWait(id),
      () => {},
    );
    return false;
  }
  if (run.isAbandoned(sr)) return false;
  sr.record.status = 'waiting';
  const data: Record<string, unknown> = { kind: w.kind };
  if (w.dueAt !== undefined) data.dueAt = new Date(w.dueAt).toISOString();
  if (w.events !== undefined) data.events = w.events;
  if (w.approval !== undefined) data.title = w.approval.title;
  run.log(EventType.stepWaiting, c.id, 1, data);
  run.saveStep(sr);
  run.rt.waitRegistered?.(w);
  return true;
}

function newWait(run: RunHost, sr: StepRun, wait: CompiledWait, id: string, now: number): WaitRecord {
  const w: WaitRecord = {
    id,
    executionId: run.record.id,
    stepId: sr.compiled.id,
    workflowId: run.record.workflowId,
    kind: wait.kind,
    state: 'pending',
    version: 0,
    createdAt: now,
  };
  if (run.workflow.globalTimeoutMs === undefined) w.deadline = false;
  switch (wait.kind) {
    case 'timer':
      w.dueAt = now + wait.delayMs!;
      break;
    case 'until':
      w.dueAt = parseUntil(renderValue(wait.until!, run.scope), sr.compiled.id);
      break;
    case 'approval': {
      const a = wait.approval!;
      w.approval = { title: String(renderValue(a.title, run.scope)) };
      if (a.description !== undefined) w.approval.description = String(renderValue(a.description, run.scope));
      if (a.form !== undefined) w.approval.form = a.form;
      if (a.approvers !== undefined) w.approval.approvers = a.approvers;
      break;
    }
    default: {
      const specs = wait.events!;
      w.events = specs.map((e) => e.name);
      if (specs.some((e) => e.match !== undefined)) {
        w.matches = specs.map((e) => e.match?.source ?? null);
        w.matchScope = matchScopeOf(specs, run.scope);
        const keys = specs.map((e) =>
          e.match === undefined ? null : (correlationOf(e.match.source, run.scope) ?? null),
        );
        if (keys.some((k) => k !== null)) w.correlations = keys;
      }
    }
  }
  if (wait.timeoutMs !== undefined) w.dueAt = now + wait.timeoutMs;
  return w;
}

/** Events already in the inbox (within the look-back window) that this new wait matches. */
async function lookBack(run: RunHost, w: WaitRecord, now: number): Promise<WaitRecord> {
  const ws = run.rt.store.waits!;
  const since = now - (run.rt.eventLookBackMs ?? DEFAULT_EVENT_LOOK_BACK_MS);
  const names = [...new Set(w.events)];
  const seen = (await Promise.all(names.map((n) => ws.recentEvents(n, since))))
    .flat()
    .sort((a, b) => a.receivedAt - b.receivedAt);
  let cur = w;
  for (const e of seen) {
    const next = receiveEvent(cur, e, now);
    if (next === undefined) continue;
    cur = { ...next, version: 0 };
    if (cur.state === 'woken') break;
  }
  return cur;
}

/**
 * Offers the inbox's events of the look-back window to a just-registered wait, each through a
 * versioned claim; returns the wait as it now stands (woken by this or by anyone else), or
 * undefined when it is gone.
 */
async function recheck(run: RunHost, w: WaitRecord, now: number): Promise<WaitRecord | undefined> {
  const ws = run.rt.store.waits!;
  const since = now - (run.rt.eventLookBackMs ?? DEFAULT_EVENT_LOOK_BACK_MS);
  const cur = await offerRecentEvents(ws, w, since, () => run.rt.clock.now());
  // Read last: a wake claimed after this read finds the step already `waiting` (what follows
  // the read is synchronous), so the live run takes it; one claimed before is seen here.
  return cur?.state === 'pending' ? ((await ws.getWait(w.id)) ?? cur) : cur;
}

function parseUntil(v: unknown, stepId: string): number {
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t))
    throw new Orchestr8Error(
      ErrorCode.EXPRESSION,
      `step "${stepId}": wait.until rendered ${JSON.stringify(v)}, which is not an ISO-8601 date-time or epoch ms`,
      { retryable: false },
    );
  return t;
}

/** The step takes the outcome a wake recorded: output, TIMEOUT, REJECTED or the onTimeout output. */
function applyOutcome(run: RunHost, sr: StepRun, w: WaitRecord, wait: CompiledWait): void {
  const o = w.outcome as WaitOutcome;
  const id = sr.compiled.id;
  // When the wake happened; the entry's own time is when the step took it (wake latency).
  const wokenAt = new Date(o.at).toISOString();
  traceWait(run, sr, w, o);
  switch (o.kind) {
    case 'fired':
      run.log(EventType.stepWoken, id, 1, { kind: w.kind, wokenAt });
      complete(run, sr, {
        dueAt: new Date(w.dueAt!).toISOString(),
        firedAt: new Date(o.at).toISOString(),
      });
      return;
    case 'event': {
      const events = o.events!.map(eventView);
      run.log(EventType.stepWoken, id, 1, {
        kind: w.kind,
        events: events.map((e) => ({ name: e.name, id: e.id })),
        wokenAt,
      });
      complete(run, sr, w.kind === 'all' ? events : events[0]);
      return;
    }
    case 'timedOut':
      run.log(EventType.waitTimedOut, id, 1, {
        kind: w.kind,
        onTimeout: wait.onTimeoutOutput === undefined ? 'fail' : 'output',
        wokenAt,
      });
      if (wait.onTimeoutOutput !== undefined) complete(run, sr, renderValue(wait.onTimeoutOutput, run.scope));
      else
        fail(
          run,
          sr,
          new Orchestr8Error(ErrorCode.TIMEOUT, `step "${id}" waited for ${describe(w)} and timed out`, {
            retryable: false,
          }),
        );
      return;
    case 'approved':
    case 'rejected': {
      const data: Record<string, unknown> = { decision: o.kind, by: o.by, data: o.data, wokenAt };
      if (o.comment !== undefined) data.comment = o.comment;
      run.log(EventType.approvalDecided, id, 1, data);
      if (o.kind === 'approved') {
        const out: Record<string, unknown> = { approved: true, by: o.by, data: o.data ?? {} };
        if (o.comment !== undefined) out.comment = o.comment;
        complete(run, sr, out);
      } else {
        fail(
          run,
          sr,
          new Orchestr8Error(
            ErrorCode.REJECTED,
            `step "${id}" was rejected by ${o.by ?? 'someone'}${o.comment ? `: ${o.comment}` : ''}`,
            { retryable: false, details: { by: o.by, data: o.data } },
          ),
        );
      }
      return;
    }
  }
}

/**
 * A span for the wait itself, from when the step began waiting to now, on the execution span
 * of the run that took the outcome (the wait may have outlived several processes).
 */
function traceWait(run: RunHost, sr: StepRun, w: WaitRecord, o: WaitOutcome): void {
  if (run.span === undefined) return;
  const span = startChildSpan(
    run.rt.tracer,
    run.span,
    `wait ${sr.compiled.id}`,
    {
      [ATTR.stepId]: sr.compiled.id,
      [ATTR.executionId]: run.record.id,
      'orchestr8.wait.kind': w.kind,
      'orchestr8.wait.woken_at': new Date(o.at).toISOString(),
    },
    sr.record.startedAt,
  );
  endSpan(span, o.kind === 'timedOut' ? 'timed_out' : o.kind);
}

function describe(w: WaitRecord): string {
  return w.kind === 'approval' ? 'a decision' : `event ${w.events!.join(', ')}`;
}

function asError(e: unknown): Orchestr8Error {
  return e instanceof Orchestr8Error
    ? e
    : new Orchestr8Error(ErrorCode.INTERNAL, 'internal error in a wait step', { cause: e });
}
