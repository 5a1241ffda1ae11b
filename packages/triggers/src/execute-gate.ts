import { type Clock, ErrorCode, Orchestr8Error, systemClock } from '@orchestr8/common';
import type { ExecutionHandle } from '@orchestr8/core';
import { type CompiledValue, type CompiledWorkflow, renderValue } from '@orchestr8/schema';
import { FlowControl, type TriggerContext } from './flow-control.js';

/**
 * Flow control of plain `POST /workflows/execute`, declared by a document's `policies.flow`
 * (a concurrency limit per key with a queue, a rate limit per key: the syntax of a trigger's
 * flow). The server calls the gate around each start (`createServer({ executeGate })`); the
 * gate starts at once, holds the request until a slot of its key frees, or refuses it.
 * In memory and per process, like the flow control of triggers.
 */

export interface ExecuteRequest {
  workflow: CompiledWorkflow;
  inputs: unknown;
  /** Aborted when the client goes away: a request still waiting then starts nothing. */
  signal?: AbortSignal;
}

/** Why a request was not started; the server answers 429 with `Retry-After`. */
export interface ExecuteRefusal {
  /** `abandoned`: the client left while the request waited (nobody reads the answer). */
  refused: 'rate_limited' | 'queue_full' | 'abandoned';
  detail: string;
  retryAfterMs?: number;
}

export type ExecuteGate = (
  request: ExecuteRequest,
  start: () => Promise<ExecutionHandle>,
) => Promise<ExecutionHandle | ExecuteRefusal>;

/** The gate, and what it holds now (across workflows). */
export interface ExecuteFlowGate extends ExecuteGate {
  stats(): { running: number; queued: number };
}

export interface ExecuteGateOptions {
  clock?: Clock;
}

/** What one request carries through FlowControl (which knows only trigger contexts). */
interface Pending {
  request: ExecuteRequest;
  start: () => Promise<ExecutionHandle>;
  handle?: ExecutionHandle;
  error?: unknown;
  settle: () => void;
}

type GateContext = TriggerContext & { pending: Pending };

const ABANDONED = 'the request was abandoned while it waited';

export function createExecuteGate(options: ExecuteGateOptions = {}): ExecuteFlowGate {
  const clock = options.clock ?? systemClock;
  /** One per workflow id: a new version's limits apply to what its earlier versions run. */
  const flows = new Map<string, { hash: string; flow: FlowControl }>();

  const flowOf = (w: CompiledWorkflow): FlowControl => {
    const known = flows.get(w.id);
    if (known) {
      if (known.hash !== w.hash) {
        known.flow.update(w.executeFlow);
        known.hash = w.hash;
      }
      return known.flow;
    }
    const flow = new FlowControl({
      flow: w.executeFlow,
      clock,
      prepare: (ctx) => {
        const { request } = (ctx as GateContext).pending;
        const f = request.workflow.executeFlow;
        const scope = { steps: {}, inputs: request.inputs, variables: request.workflow.variables, env: {} };
        const key = (v: { key?: CompiledValue } | undefined) =>
          v?.key === undefined ? '' : String(renderValue(v.key, scope) ?? '');
        return { inputs: request.inputs, concurrencyKey: key(f?.concurrency), rateKey: key(f?.rateLimit) };
      },
      start: async (ctx) => {
        const p = (ctx as GateContext).pending;
        if (p.request.signal?.aborted) throw new Error(ABANDONED);
        try {
          p.handle = await p.start();
        } catch (e) {
          p.error = e;
          throw e;
        } finally {
          p.settle();
        }
        const h = p.handle;
        // A replayed idempotency key starts nothing new: its slot is given back at once.
        const done = h.created ? h.result.then(noop, noop) : Promise.resolve();
        return { executionId: h.id, created: h.created, done };
      },
    });
    flows.set(w.id, { hash: w.hash, flow });
    return flow;
  };

  const gate: ExecuteGate = async (request, start) => {
    if (!request.workflow.executeFlow && !flows.has(request.workflow.id)) return start();
    let settle!: () => void;
    const settled = new Promise<void>((r) => {
      settle = r;
    });
    const pending: Pending = { request, start, settle };
    const now = clock.now();
    const ctx: GateContext = {
      name: 'execute',
      kind: 'manual',
      time: new Date(now).toISOString(),
      timestamp: now,
      pending,
    };
    const flow = flowOf(request.workflow);
    const outcome = await flow.submit(ctx);
    if (outcome.status === 'dropped') {
      const workflow = request.workflow.id;
      return outcome.reason === 'rate_limited'
        ? {
            refused: 'rate_limited',
            detail: `workflow "${workflow}" is over the rate limit of its policies.flow; try again later`,
            ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
          }
        : {
            refused: 'queue_full',
            detail: `workflow "${workflow}" has as many requests waiting as its policies.flow.concurrency.maxQueue allows; try again later`,
          };
    }
    if (outcome.status === 'failed' && pending.error === undefined)
      // The key template could not be rendered from these inputs.
      throw new Orchestr8Error(ErrorCode.VALIDATION, `policies.flow: ${outcome.error}`, {
        details: [{ pointer: '/policies/flow', message: outcome.error }],
      });
    if (outcome.status === 'queued') {
      // Answered when the execution starts; a client that leaves first starts nothing.
      const abandoned = new Promise<void>((resolve) => {
        if (request.signal?.aborted) resolve();
        request.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      await Promise.race([settled, abandoned]);
      flow.withdraw(ctx);
      if (pending.handle === undefined && pending.error === undefined)
        return { refused: 'abandoned', detail: ABANDONED };
    }
    if (pending.error !== undefined) throw pending.error;
    return pending.handle!;
  };
  return Object.assign(gate, {
    stats() {
      let running = 0;
      let queued = 0;
      for (const { flow } of flows.values()) {
        const s = flow.stats();
        running += s.running;
        queued += s.queued;
      }
      return { running, queued };
    },
  });
}

function noop(): void {}
