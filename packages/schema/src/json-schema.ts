import { createRequire } from 'node:module';

/** The stable `$id` of the published schema (major version 1 of the format). */
export const WORKFLOW_SCHEMA_ID = 'https://orchestr8.dev/schema/workflow/v1.json';

let cached: object | undefined;

/**
 * The published JSON Schema object: the package's copy of `schema/workflow.schema.json`,
 * which is generated from the zod model (tests fail when either copy is stale). Read on first
 * use rather than built from the model, so validating a document never loads zod. Do not
 * mutate it.
 */
export function getWorkflowJsonSchema(): object {
  // A JSON require: synchronous, and no warning (JSON modules are experimental in Node 20).
  cached ??= deepFreeze(createRequire(import.meta.url)('../workflow.schema.json') as object);
  return cached;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
