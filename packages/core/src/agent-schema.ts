import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = (addFormatsModule as unknown as { default: typeof addFormatsModule.default }).default;

type Check = (value: unknown) => string | undefined;

const ajv = new Ajv2020({ allErrors: false, strict: false, useDefaults: false });
addFormats(ajv);
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
    fn = ajv.compile(schema);
    // ajv's own cache holds schemas strongly; ours is a WeakMap, so drop theirs.
    ajv.removeSchema(schema);
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
