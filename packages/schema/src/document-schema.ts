// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { z } from 'zod';
import type { FlowControlSchema } from './document-flow-control.js';
import {
  type CircuitBreakerPolicySchema,
  type RetryPolicySchema,
  type StepPoliciesSchema,
  WorkflowPoliciesSchema,
} from './document-policies.js';
import { type Duration, JsonSchemaObject, TEMPLATE_HELP } from './document-primitives.js';
import { type AgentRef, StepDocumentSchema } from './document-step.js';
import { TriggerDocumentSchema } from './document-trigger.js';
import type { WaitEventSchema, WaitSchema } from './document-wait.js';
import { ENV_NAME_PATTERN, SEMVER_PATTERN, WORKFLOW_ID_PATTERN } from './patterns.js';

/**
 * The workflow document model in zod. This is the single source of the TypeScript types
 * and of the published JSON Schema (`schema/workflow.schema.json` is generated from it by
 * `scripts/generate-json-schema.ts`). Defaults are annotations here (`meta.default`), not
 * zod `.default()`s: a document keeps exactly what its author wrote, and compileWorkflow
 * applies the same DEFAULTS.
 *
 * This file holds the workflow document itself and the types of every part; the parts are
 * in document-step.ts, document-wait.ts, document-policies.ts, document-flow-control.ts,
 * document-trigger.ts and document-primitives.ts.
 */

export { CircuitBreakerPolicySchema, RetryPolicySchema } from './document-policies.js';
export { StepDocumentSchema } from './document-step.js';
export { TriggerDocumentSchema } from './document-trigger.js';
export {
  AGENT_ID_PATTERN,
  ENV_NAME_PATTERN,
  QUEUE_PATTERN,
  SEMVER_PATTERN,
  STEP_ID_PATTERN,
  WORKFLOW_ID_PATTERN,
} from './patterns.js';

export const WorkflowDocumentSchema = z
  .strictObject({
    $schema: z
      .string()
      .optional()
      .meta({
        description: 'The JSON Schema this document follows, for editors. Ignored by the engine.',
        examples: ['https://orchestr8.dev/schema/workflow/v1.json'],
      }),
    version: z
      .string()
      .regex(SEMVER_PATTERN)
      .meta({
        description: 'Version of the workflow format, semver. Major version 1 is supported.',
        examples: ['1.0.0'],
      }),
    metadata: z
      .strictObject({
        id: z
          .string()
          .regex(WORKFLOW_ID_PATTERN)
          .meta({
            description: 'Stable workflow id: letters, digits, "_", "." and "-".',
            examples: ['hello-world'],
          }),
        name: z.string().optional().meta({ description: 'A human-readable name.' }),
        description: z.string().optional().meta({ description: 'What the workflow does.' }),
        tags: z
          .array(z.string())
          .optional()
          .meta({ description: 'Free-form labels.', default: [], examples: [['demo']] }),
      })
      .meta({ description: 'Identity of the workflow.' }),
    inputs: JsonSchemaObject.optional().meta({
      description:
        "A JSON Schema (2020-12) the execution's inputs must satisfy; its defaults are applied to the inputs.",
      examples: [{ type: 'object', properties: { name: { type: 'string', default: 'world' } } }],
    }),
    context: z
      .strictObject({
        variables: z.record(z.string(), z.unknown()).optional().meta({
          description: 'Constants readable as ${variables.<path>}. Not interpolated.',
          default: {},
        }),
        environment: z
          .array(z.string().regex(ENV_NAME_PATTERN))
          .optional()
          .meta({
            description:
              'Environment variables the workflow may read as ${env.<NAME>}; any other name is refused.',
            default: [],
            examples: [['LOG_LEVEL']],
          }),
        secretRefs: z
          .record(
            z.string().regex(ENV_NAME_PATTERN),
            z.strictObject({
              env: z.string().regex(ENV_NAME_PATTERN).meta({
                description: 'The environment variable holding the secret value.',
              }),
            }),
          )
          .optional()
          .meta({
            description:
              'Secrets by name, readable as ${secrets.<name>}. Each names the environment variable that holds it; the engine redacts these values from journals, logs and events.',
            default: {},
            examples: [{ apiKey: { env: 'OPENAI_API_KEY' } }],
          }),
      })
      .optional()
      .meta({ description: 'What the workflow may read besides inputs and step outputs.' }),
    steps: z.array(StepDocumentSchema).min(1).meta({
      description: 'The steps, at least one. They run as their dependencies allow, not in this order.',
    }),
    outputs: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({
        description: `The workflow's result: a map of names to values rendered when every step has finished. Any step may be read. ${TEMPLATE_HELP}`,
        examples: [{ greeting: '${steps.greet.output.result}' }],
      }),
    policies: WorkflowPoliciesSchema.optional().meta({
      description: 'Timeouts, resilience, concurrency and cancellation for the whole workflow.',
    }),
    triggers: z.array(TriggerDocumentSchema).optional().meta({
      description:
        "Schedules, webhooks and events that start this workflow on their own, once it is registered with a server (PUT /workflows/{id}); the newest version's triggers are active.",
      default: [],
    }),
  })
  .meta({ title: 'orchestr8 workflow', description: 'A declarative orchestr8 workflow document.' });

export type WorkflowDocument = z.infer<typeof WorkflowDocumentSchema>;
export type StepDocument = z.infer<typeof StepDocumentSchema>;
export type RetryPolicyDocument = z.infer<typeof RetryPolicySchema>;
export type CircuitBreakerPolicyDocument = z.infer<typeof CircuitBreakerPolicySchema>;
export type StepPoliciesDocument = z.infer<typeof StepPoliciesSchema>;
export type WorkflowPoliciesDocument = z.infer<typeof WorkflowPoliciesSchema>;
export type AgentRefDocument = z.infer<typeof AgentRef>;
export type DurationDocument = z.infer<typeof Duration>;
export type TriggerDocument = z.infer<typeof TriggerDocumentSchema>;
export type FlowControlDocument = z.infer<typeof FlowControlSchema>;
export type WaitDocument = z.infer<typeof WaitSchema>;
export type WaitEventDocument = z.infer<typeof WaitEventSchema>;
