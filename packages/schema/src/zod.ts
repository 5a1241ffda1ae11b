/**
 * @module @orchestr8/schema/zod
 * The workflow document model as zod schemas, and the JSON Schema built from it. A separate
 * entry so that loading, validating and compiling documents (`@orchestr8/schema`) never loads
 * zod (~14 MB of memory): the validator reads the generated JSON Schema instead.
 *
 * @example
 * import { WorkflowDocumentSchema } from '@orchestr8/schema/zod';
 *
 * const r = WorkflowDocumentSchema.safeParse(JSON.parse(text));
 */
export {
  CircuitBreakerPolicySchema,
  RetryPolicySchema,
  StepDocumentSchema,
  TriggerDocumentSchema,
  WorkflowDocumentSchema,
} from './document-schema.js';
export { buildWorkflowJsonSchema } from './json-schema-build.js';
