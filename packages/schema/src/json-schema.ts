import { z } from 'zod';
import { WorkflowDocumentSchema } from './document-schema.js';

/** The stable `$id` of the published schema (major version 1 of the format). */
export const WORKFLOW_SCHEMA_ID = 'https://orchestr8.dev/schema/workflow/v1.json';

/** Builds the JSON Schema from the zod model (what the generator script writes to disk). */
export function buildWorkflowJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(WorkflowDocumentSchema, {
    target: 'draft-2020-12',
    io: 'input',
    // zod's safe-integer bounds stay (maximum 9007199254740991 on integers): zod enforces
    // them, and the published schema must accept exactly what zod accepts.
    unrepresentable: 'throw',
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, $id: WORKFLOW_SCHEMA_ID, ...rest };
}

let cached: Record<string, unknown> | undefined;

/**
 * The published JSON Schema object: identical to `schema/workflow.schema.json` (a test
 * fails when the committed file is stale). Built once; do not mutate it.
 */
export function getWorkflowJsonSchema(): object {
  cached ??= deepFreeze(buildWorkflowJsonSchema());
  return cached;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
