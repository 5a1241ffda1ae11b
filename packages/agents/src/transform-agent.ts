import { defineAgent } from '@orchestr8/agent-base';
import { ErrorCode, isOrchestr8Error, Orchestr8Error, ValidationError } from '@orchestr8/common';
import jsonata from 'jsonata';
import { abortError, isRecord } from './http-util.js';

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
  required: ['expression'],
  additionalProperties: false,
  properties: {
    expression: { type: 'string', minLength: 1 },
    data: {},
    bindings: { type: 'object' },
    timeoutMs: { type: 'number', exclusiveMinimum: 0, maximum: MAX_TIMEOUT_MS },
    maxDepth: { type: 'integer', minimum: 1, maximum: MAX_DEPTH },
  },
} as const;

const outputSchema = { type: 'object', required: ['result'], properties: { result: {} } } as const;

interface JsonataError {
  code?: unknown;
  message?: unknown;
  position?: unknown;
  token?: unknown;
}

/**
 * Reshapes data with a JSONata expression. Evaluation is bounded: it fails with TIMEOUT past
 * `timeoutMs` (default 1 s) and with EXPRESSION past `maxDepth` nested evaluations (runaway
 * recursion). A bad expression is an EXPRESSION error; neither is retried.
 */
export const transformAgent = defineAgent<TransformInput, TransformOutput>({
  id: '@orchestr8/transform',
  version: '1.0.0',
  description: 'Reshapes data with a JSONata expression, bounded in time and depth.',
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
    let expr: jsonata.Expression;
    try {
      expr = jsonata(input.expression, { timeout: timeoutMs, stack: maxDepth });
    } catch (e) {
      throw expressionError(e, input.expression);
    }
    // Evaluation only awaits microtasks, so an abort event cannot interleave; checking the
    // flag at each node still stops promptly when the step was cancelled before or during.
    const signal = ctx.signal;
    expr.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, () => {
      if (signal.aborted) throw abortError(signal);
    });
    const bindings: Record<string, unknown> = {};
    if (input.bindings !== undefined) {
      if (!isRecord(input.bindings)) throw new ValidationError('transform: bindings must be an object');
      for (const [name, value] of Object.entries(input.bindings)) {
        if (!BINDING_NAME.test(name)) throw new ValidationError(`transform: invalid binding name "${name}"`);
        bindings[name] = value;
      }
    }
    let value: unknown;
    try {
      value = await expr.evaluate(input.data, bindings);
    } catch (e) {
      if (isOrchestr8Error(e)) throw e;
      throw expressionError(e, input.expression, timeoutMs, maxDepth);
    }
    return { result: toJson(value) };
  },
});

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

function isLambda(v: unknown): boolean {
  return (
    typeof v === 'function' ||
    (typeof v === 'object' &&
      v !== null &&
      ((v as Record<string, unknown>)._jsonata_lambda === true ||
        (v as Record<string, unknown>)._jsonata_function === true))
  );
}

/** JSONata sequences are arrays with extra flags, and results may hold functions: keep plain JSON. */
function toJson(value: unknown): unknown {
  if (value === undefined || isLambda(value)) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (isLambda(v) ? undefined : v));
  } catch (e) {
    throw new Orchestr8Error(ErrorCode.EXPRESSION, 'transform: the result cannot be represented as JSON', {
      retryable: false,
      cause: e,
    });
  }
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

function expressionError(
  e: unknown,
  expression: string,
  timeoutMs?: number,
  maxDepth?: number,
): Orchestr8Error {
  const err = (e ?? {}) as JsonataError;
  const code = typeof err.code === 'string' ? err.code : undefined;
  const message = typeof err.message === 'string' ? err.message : String(e);
  const details = {
    expression,
    ...(code ? { jsonataCode: code } : {}),
    ...(typeof err.position === 'number' ? { position: err.position } : {}),
    ...(typeof err.token === 'string' ? { token: err.token } : {}),
  };
  if (code === 'D1012') {
    // The same expression on the same data would time out again: not retryable.
    return new Orchestr8Error(ErrorCode.TIMEOUT, `transform: evaluation took longer than ${timeoutMs} ms`, {
      retryable: false,
      details,
    });
  }
  if (code === 'D1011') {
    return new Orchestr8Error(
      ErrorCode.EXPRESSION,
      `transform: evaluation nested deeper than ${maxDepth} levels (runaway recursion?)`,
      { retryable: false, details },
    );
  }
  const at = typeof err.position === 'number' ? ` at position ${err.position}` : '';
  return new Orchestr8Error(ErrorCode.EXPRESSION, `transform: ${message}${at}`, {
    retryable: false,
    details,
    // JSONata throws plain objects; only a real Error is worth keeping as the cause.
    ...(e instanceof Error ? { cause: e } : {}),
  });
}
