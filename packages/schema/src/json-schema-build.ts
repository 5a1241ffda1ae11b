import { z } from 'zod';
import { WorkflowDocumentSchema } from './document-schema.js';
import { WORKFLOW_SCHEMA_ID } from './json-schema.js';

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
