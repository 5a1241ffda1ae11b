/**
 * Server-Sent Events.
 *
 * `GET /executions/:id/events`: the journal of one execution, then its live events; the
 * event `id` is the journal `seq`. On connect the route subscribes to the engine first,
 * then replays the journal after `Last-Event-ID` from the store, then delivers the live
 * events it buffered meanwhile, dropping those it already replayed: nothing is lost and
 * nothing is sent twice. A gap in the live sequence (a subscriber that fell behind, or an
 * entry not yet committed) is filled from the store. While idle, the store is re-read now
 * and then, which also follows executions run by another process on the same store. The
 * stream ends after the execution's terminal event (the last one: a retried execution has
 * one per run).
 *
 * `GET /events`: every execution's live events; see `EventFeed` for the ids.
 *
 * Secrets: what the engine publishes is the journal entry itself, built redacted (nothing
 * is published before redaction), so both streams carry redacted data.
 */
import { type EngineEvent, EventType, type JournalEntry, TERMINAL_EXECUTION_STATUSES } from '@orchestr8/core';
import type { Request, Response } from 'express';
import type { RouteDef, ServerContext } from '../context.js';
import { route } from '../contracts/route.js';
import {
  allEvents as allEventsContract,
  executionEvents as executionEventsContract,
} from '../contracts/waits.js';
import type { FeedEvent } from '../event-feed.js';
import { HttpProblem, ProblemCode } from '../problem.js';
import { redactorForExecution } from '../redacted-views.js';
import { lastEventId, openSse, type SseStream } from '../sse.js';

const TERMINAL_TYPES: ReadonlySet<string> = new Set([
  EventType.executionCompleted,
  EventType.executionFailed,
  EventType.executionCancelled,
]);
const PAGE = 500;
/** Live events held per stream while the client is slow; beyond it the oldest go (and are re-read from the store). */
const MAX_PENDING = 10_000;
const GAP_RETRIES = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function eventRoutes(ctx: ServerContext): RouteDef[] {
  return [
    route(executionEventsContract, (_input, req, res) => executionEvents(ctx, req, res)),
    route(allEventsContract, ({ query }, req, res) => allEvents(ctx, query.workflowId, req, res)),
  ];
}

function parseSeq(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d{1,15}$/.test(value)) {
    throw new HttpProblem(
      400,
      ProblemCode.BAD_REQUEST,
      'Last-Event-ID must be a journal sequence number (a non-negative integer)',
    );
  }
  return Number(value);
}

async function executionEvents(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  const after = parseSeq(lastEventId(req));
  const { engine, store } = ctx;
  const current = await engine.getResult(id);
  if (!current) throw new HttpProblem(404, ProblemCode.NOT_FOUND, `no execution "${id}"`);
  const workflowId = current.workflowId;
  // Live events are redacted by the engine; entries read back from the store are redacted
  // again, for rows written by older versions (see the journal route).
  const redactor = await redactorForExecution(ctx, id);

  // Subscribe before reading the journal, so that nothing falls between the two.
  let pending: EngineEvent[] = [];
  let wake: (() => void) | undefined;
  const sub = engine.events.subscribe(
    (e) => {
      pending.push(e);
      if (pending.length > MAX_PENDING) pending = pending.slice(pending.length - MAX_PENDING);
      wake?.();
    },
    { executionId: id, capacity: MAX_PENDING },
  );
  const stream = openSse(req, res, ctx.lifecycle, ctx.keepAliveMs);
  void stream.done.then(() => wake?.());

  let last = after;
  let finished = false;
  const emit = async (entry: JournalEntry) => {
    if (entry.seq <= last || finished) return;
    last = entry.seq;
    // A retry runs the execution again after its terminal entry: then the stream goes on.
    if (TERMINAL_TYPES.has(entry.type))
      finished = (await store.readJournal(id, { afterSeq: entry.seq, limit: 1 })).length === 0;
    const data = { executionId: id, workflowId, ...entry };
    await stream.send(String(entry.seq), entry.type, redactor.redact(data));
  };
  /** Emits committed entries after `last` (up to `before`, exclusive); false when none was found. */
  const fromStore = async (before = Number.POSITIVE_INFINITY): Promise<boolean> => {
    let found = false;
    while (!finished && !stream.closed && last + 1 < before) {
      const limit = Number.isFinite(before) ? Math.min(PAGE, before - last - 1) : PAGE;
      const page = await store.readJournal(id, { afterSeq: last, limit });
      for (const e of page) {
        // Past the gap (entries before it were trimmed from the journal): nothing more to fill.
        if (e.seq >= before) return found;
        found = true;
        await emit(e);
      }
      if (page.length < limit) break;
    }
    return found;
  };
  /** Everything is delivered once the execution is terminal in the store and its journal is read. */
  const settledInStore = async (): Promise<boolean> => {
    if (engine.isRunning(id)) return false;
    const rec = await store.getExecution(id);
    if (!rec || !TERMINAL_EXECUTION_STATUSES.has(rec.status)) return false;
    await fromStore();
    return true;
  };

  try {
    await fromStore();
    if (!finished && (await settledInStore())) finished = true;
    const idleMs = Math.min(1000, ctx.keepAliveMs);
    while (!finished && !stream.closed) {
      if (pending.length === 0) {
        const woke = await new Promise<boolean>((r) => {
          const timer = setTimeout(() => r(false), idleMs);
          wake = () => {
            clearTimeout(timer);
            r(true);
          };
        });
        wake = undefined;
        if (!woke && !stream.closed) {
          await fromStore();
          if (!finished && (await settledInStore())) finished = true;
        }
        continue;
      }
      const batch = pending;
      pending = [];
      for (const e of batch) {
        if (finished || stream.closed) break;
        if (e.seq <= last) continue;
        for (let tries = 0; e.seq > last + 1 && tries < GAP_RETRIES && !stream.closed; tries++) {
          if (!(await fromStore(e.seq)) && e.seq > last + 1) await sleep(10);
        }
        await emit(e);
      }
    }
  } finally {
    sub.unsubscribe();
    stream.end();
  }
}

async function allEvents(
  ctx: ServerContext,
  workflowFilter: string | undefined,
  req: Request,
  res: Response,
): Promise<void> {
  const since = lastEventId(req);
  const feed = ctx.feed;
  let pending: FeedEvent[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  // Listen first, then read the buffer: both happen in this tick, so none falls between.
  const unlisten = feed.listen((fe) => {
    pending.push(fe);
    if (pending.length > MAX_PENDING) {
      pending = pending.slice(pending.length - MAX_PENDING);
      overflowed = true;
    }
    wake?.();
  });
  const resume = since === undefined ? undefined : feed.since(since);
  const stream: SseStream = openSse(req, res, ctx.lifecycle, ctx.keepAliveMs);
  void stream.done.then(() => wake?.());
  let lastN = 0;
  const emit = async (fe: FeedEvent) => {
    if (fe.n <= lastN) return;
    lastN = fe.n;
    if (workflowFilter !== undefined && fe.event.workflowId !== workflowFilter) return;
    await stream.send(feed.idOf(fe), fe.event.type, fe.event);
  };
  // A gap event has no id: a client's Last-Event-ID stays the last event it really got.
  const gap = (reason: string) => stream.send(undefined, 'gap', { reason });
  try {
    if (resume && !resume.ok) await gap(resume.reason);
    if (resume?.ok) for (const fe of resume.events) await emit(fe);
    while (!stream.closed) {
      if (pending.length === 0) {
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
        continue;
      }
      if (overflowed) {
        overflowed = false;
        await gap('the client fell behind; some events were dropped');
      }
      const batch = pending;
      pending = [];
      for (const fe of batch) {
        if (stream.closed) break;
        await emit(fe);
      }
    }
  } finally {
    unlisten();
    stream.end();
  }
}
