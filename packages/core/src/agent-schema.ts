import { createRequire } from 'node:module';
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import type addFormatsModule from 'ajv-formats';

type Check = (value: unknown) => string | undefined;

let instance: Ajv2020 | undefined;

/**
 * The ajv instance for agents' JSON Schemas, made on the first one: a program whose agents
 * declare no schema (or zod ones) never loads ajv's full format set. ajv is CommonJS, so it
 * loads synchronously.
 */
function ajv(): Ajv2020 {
  if (!instance) {
    const require = createRequire(import.meta.url);
    const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020 };
    const addFormats = (require('ajv-formats') as { default: typeof addFormatsModule.default }).default;
    instance = new Ajv({ allErrors: false, strict: false, useDefaults: false });
    addFormats(instance);
  }
  return instance;
}

const cache = new WeakMap<object, Check>();

interface ZodLike {
  safeParse(v: unknown): {
    success: boolean;
    error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] };
  };
}

function compile(schema: object): Check {
  if (typeof (schema as ZodLike).safeParse === 'function') {
    const z = schema as ZodLike;
    return (value) => {
      const r = z.safeParse(value);
      if (r.success) return undefined;
      const issue = r.error?.issues[0];
      return issue ? `${formatPath(issue.path)}: ${issue.message}` : 'invalid';
    };
  }
  let fn: ValidateFunction;
  try {
    fn = ajv().compile(schema);
    // ajv's own cache holds schemas strongly; ours is a WeakMap, so drop theirs.
    ajv().removeSchema(schema);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return () => `the schema itself is invalid: ${message}`;
  }
  return (value) => {
    if (fn(value)) return undefined;
    const err = fn.errors?.[0];
    return err ? `${err.instancePath || '/'} ${err.message ?? 'is invalid'}` : 'invalid';
  };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '/' : `/${path.map(String).join('/')}`;
}

/**
 * Validates a value against a zod schema or a JSON Schema; throws a VALIDATION error
 * naming the path of the violation. Compiled schemas are cached per schema object.
 */
export function checkAgainstSchema(schema: unknown, value: unknown, what: string): void {
  if (schema === undefined || schema === null || typeof schema !== 'object') return;
  let check = cache.get(schema);
  if (check === undefined) {
    check = compile(schema);
    cache.set(schema, check);
  }
  const problem = check(value);
  if (problem !== undefined) {
    throw new Orchestr8Error(ErrorCode.VALIDATION, `${what} is invalid at ${problem}`, { retryable: false });
  }
}
