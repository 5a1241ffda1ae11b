// @ts-check
/**
 * The JSONata half of `@orchestr8/transform`, run in a worker process of the isolation pool
 * (plain JavaScript for the reason given in isolation-worker.js). Errors come back as data;
 * transform-agent.ts turns them into orchestr8 errors.
 */
import jsonata from 'jsonata';
import { failure, started } from './isolation-worker.js';

/** Compiled expressions of this worker, least recently used first. */
const compiled = new Map();
const MAX_COMPILED = 500;

/**
 * @param {{ id: number, expression: string, data: unknown, bindings: Record<string, unknown>,
 *   timeoutMs: number, maxDepth: number }} task
 */
export async function transform(task) {
  started(task.id);
  let expr;
  try {
    expr = compile(task.expression, task.timeoutMs, task.maxDepth);
  } catch (e) {
    return { ok: false, error: jsonataError(e) };
  }
  let value;
  try {
    value = await expr.evaluate(task.data, task.bindings);
  } catch (e) {
    return { ok: false, error: jsonataError(e) };
  }
  try {
    return { ok: true, json: toJson(value) };
  } catch (e) {
    return { ok: false, error: { ...failure(e), unrepresentable: true } };
  }
}

/**
 * The bounds are options of the compiled expression (checked between evaluation steps), so
 * they are part of the cache key. A compiled expression keeps no state between evaluations.
 * @param {string} expression
 * @param {number} timeoutMs
 * @param {number} maxDepth
 */
function compile(expression, timeoutMs, maxDepth) {
  const key = `${timeoutMs}:${maxDepth}:${expression}`;
  let expr = compiled.get(key);
  if (expr !== undefined) {
    compiled.delete(key);
  } else {
    expr = jsonata(expression, { timeout: timeoutMs, stack: maxDepth });
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value);
  }
  compiled.set(key, expr);
  return expr;
}

/**
 * JSONata throws plain objects ({code, message, position, token}); a JavaScript error (a stack
 * overflow, an invalid string length) keeps its name and message.
 * @param {unknown} e
 */
function jsonataError(e) {
  const err = /** @type {Record<string, unknown>} */ (typeof e === 'object' && e !== null ? e : {});
  return {
    ...failure(e),
    ...(typeof err.position === 'number' ? { position: err.position } : {}),
    ...(typeof err.token === 'string' ? { token: err.token } : {}),
  };
}

/** @param {unknown} v */
function isLambda(v) {
  if (typeof v === 'function') return true;
  if (typeof v !== 'object' || v === null) return false;
  const flags = /** @type {{ _jsonata_lambda?: unknown, _jsonata_function?: unknown }} */ (v);
  return flags._jsonata_lambda === true || flags._jsonata_function === true;
}

/**
 * JSONata sequences are arrays with extra flags, and results may hold functions: send plain
 * JSON text, which the host parses once (cheaper than cloning, then normalising).
 * @param {unknown} value
 */
function toJson(value) {
  if (value === undefined || isLambda(value)) return 'null';
  return JSON.stringify(value, (_key, v) => (isLambda(v) ? undefined : v)) ?? 'null';
}
