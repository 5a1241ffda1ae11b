import { defineAgent } from '@orchestr8/agent-base';
import { ErrorCode, Orchestr8Error, ValidationError } from '@orchestr8/common';
import { isRecord } from './http-util.js';
import { runInPool } from './isolation-pool.js';

export interface TransformInput {
  /** A JSONata expression (https://jsonata.org), e.g. `items[price > 10].{"name": name}`. */
  expression: string;
  /** What the expression reads as `$`. */
  data?: unknown;
  /** Extra variables, readable as `$name`. */
  bindings?: Record<string, unknown>;
  timeoutMs?: number;
  maxDepth?: number;
}

export interface TransformOutput {
  /** The expression's value; `null` when it matched nothing. */
  result: unknown;
}

export const TRANSFORM_DEFAULT_TIMEOUT_MS = 1000;
export const TRANSFORM_DEFAULT_MAX_DEPTH = 300;
/** Caps the per-step settings, so an input cannot lift the bounds the host set. */
const MAX_TIMEOUT_MS = 30_000;
const MAX_DEPTH = 2000;
const BINDING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const inputSchema = {
  type: 'object',
  description:
    'The expression is evaluated in a worker process of the isolation pool, never on the event loop of the host, so a runaway expression cannot stop the host from answering or from running other steps. ' +
    'Past `timeoutMs` the step fails with `TIMEOUT`: JSONata stops itself between evaluation steps, and a worker stuck inside one step (a catastrophic regular expression) is killed. ' +
    'A worker that exceeds its memory limit (256 MB unless the host sets `ORCHESTR8_ISOLATION_MEMORY_MB`) is stopped and the step fails with `RESOURCE_EXHAUSTED`; recursion deeper than `maxDepth`, or deep enough to overflow the stack, fails with `EXPRESSION`. ' +
    'None of these is retried: the same expression on the same data fails the same way. ' +
    'Agents of your own can run CPU-bound code in the same pool with `runIsolated` from @orchestr8/agents.',
  required: ['expression'],
  additionalProperties: false,
  properties: {
    expression: { type: 'string', minLength: 1, description: 'A JSONata expression; the data is `$`.' },
    data: { description: 'What the expression reads as `$`.' },
    bindings: { type: 'object', description: 'Extra variables, readable as `$name`.' },
    timeoutMs: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: MAX_TIMEOUT_MS,
      description:
        'Evaluation time limit in ms, counted from when a worker starts it. Default 1000, or `agent.config.timeoutMs`.',
    },
    maxDepth: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_DEPTH,
      description: 'Nested evaluations at most. Default 300, or `agent.config.maxDepth`.',
    },
  },
} as const;

const outputSchema = { type: 'object', required: ['result'], properties: { result: {} } } as const;

/** A failure as transform-worker.js sends it back: JSONata's fields, or a JavaScript error's. */
interface WorkerError {
  name: string;
  message: string;
  /** JSONata's error code (`S0203`, `D1011`, ...). */
  code?: string;
  position?: number;
  token?: string;
  /** The value could not be written as JSON. */
  unrepresentable?: boolean;
}

type TransformReply = { ok: true; json: string } | { ok: false; error: WorkerError };

/** How long past `timeoutMs` a worker may run before it is killed (JSONata stops itself first). */
const TERMINATE_GRACE_MS = 100;

/**
 * Reshapes data with a JSONata expression, in a worker process of the isolation pool so that a
 * runaway expression never holds up the event loop. Evaluation is bounded: it fails with
 * TIMEOUT past `timeoutMs` (default 1 s; the worker is killed if JSONata cannot stop itself),
 * with EXPRESSION past `maxDepth` nested evaluations or on a stack overflow, and with
 * RESOURCE_EXHAUSTED past the worker's memory limit. None is retried: the same expression on
 * the same data fails the same way.
 */
export const transformAgent = defineAgent<TransformInput, TransformOutput>({
  id: '@orchestr8/transform',
  version: '1.0.0',
  description:
    'Reshapes data with a JSONata expression, in an isolated worker process bounded in time, memory and depth.',
  inputSchema,
  outputSchema,
  async execute(input, ctx) {
    const timeoutMs = Math.min(
      input.timeoutMs ?? positive(ctx.config.timeoutMs) ?? TRANSFORM_DEFAULT_TIMEOUT_MS,
      MAX_TIMEOUT_MS,
    );
    const maxDepth = Math.min(
      input.maxDepth ?? positive(ctx.config.maxDepth) ?? TRANSFORM_DEFAULT_MAX_DEPTH,
      MAX_DEPTH,
    );
    if (typeof input.expression !== 'string' || input.expression.trim() === '') {
      throw new ValidationError('transform: expression must be a non-empty string');
    }
    const bindings: Record<string, unknown> = {};
    if (input.bindings !== undefined) {
      if (!isRecord(input.bindings)) throw new ValidationError('transform: bindings must be an object');
      for (const [name, value] of Object.entries(input.bindings)) {
        if (!BINDING_NAME.test(name)) throw new ValidationError(`transform: invalid binding name "${name}"`);
        bindings[name] = value;
      }
    }
    const timedOut = () =>
      // The same expression on the same data would time out again: not retryable.
      new Orchestr8Error(ErrorCode.TIMEOUT, `transform: evaluation took longer than ${timeoutMs} ms`, {
        retryable: false,
        details: { expression: input.expression },
      });
    // JSONata checks its own timeout between evaluation steps, which stops most runaways and
    // keeps the worker; the pool's deadline, a little later, kills a worker stuck inside one
    // step (a catastrophic regular expression, a huge sort).
    const reply = await runInPool<TransformReply>(
      'transform',
      'transform',
      { expression: input.expression, data: input.data, bindings, timeoutMs, maxDepth },
      { signal: ctx.signal, timeoutMs: timeoutMs + TERMINATE_GRACE_MS, timeoutError: timedOut },
    );
    if (reply.ok) return { result: JSON.parse(reply.json) as unknown };
    if (reply.error.unrepresentable) {
      throw new Orchestr8Error(ErrorCode.EXPRESSION, 'transform: the result cannot be represented as JSON', {
        retryable: false,
        details: { expression: input.expression, reason: reply.error.message },
      });
    }
    if (reply.error.code === 'D1012') throw timedOut();
    throw expressionError(reply.error, input.expression, maxDepth);
  },
});

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

function expressionError(err: WorkerError, expression: string, maxDepth: number): Orchestr8Error {
  const details = {
    expression,
    ...(err.code ? { jsonataCode: err.code } : {}),
    ...(err.position !== undefined ? { position: err.position } : {}),
    ...(err.token !== undefined ? { token: err.token } : {}),
  };
  if (err.code === 'D1011' || (err.name === 'RangeError' && /call stack/i.test(err.message))) {
    const how = err.code === 'D1011' ? `nested deeper than ${maxDepth} levels` : 'overflowed the stack';
    return new Orchestr8Error(ErrorCode.EXPRESSION, `transform: evaluation ${how} (runaway recursion?)`, {
      retryable: false,
      details,
    });
  }
  const at = err.position !== undefined ? ` at position ${err.position}` : '';
  return new Orchestr8Error(ErrorCode.EXPRESSION, `transform: ${err.message}${at}`, {
    retryable: false,
    details,
  });
}
