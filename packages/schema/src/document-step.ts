// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
// The document model of a step: its agent reference and every field of a step.
import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { StepPoliciesSchema } from './document-policies.js';
import { EXPRESSION_HELP, JsonSchemaObject, TEMPLATE_HELP } from './document-primitives.js';
import { WaitSchema } from './document-wait.js';
import { AGENT_ID_PATTERN, QUEUE_PATTERN, STEP_ID_PATTERN } from './patterns.js';

export const AgentRef = z.union([
  z
    .string()
    .regex(AGENT_ID_PATTERN)
    .meta({
      description: 'An agent id, e.g. "@orchestr8/echo".',
      examples: ['@orchestr8/hello-world'],
    }),
  z.strictObject({
    id: z
      .string()
      .regex(AGENT_ID_PATTERN)
      .meta({
        description: 'The agent id, e.g. "@orchestr8/echo".',
        examples: ['@orchestr8/echo'],
      }),
    version: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'A semver range the agent version must satisfy.',
        examples: ['^1.0.0'],
      }),
    config: z.record(z.string(), z.unknown()).optional().meta({
      description: 'Static configuration passed to the agent. Not interpolated: templates here stay text.',
      default: {},
    }),
    url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .meta({
        description:
          'Base URL of an agent service (`orchestr8 agent serve`): the step calls POST <url>/agents/<id>/execute instead of an in-process agent. The same agent code runs either way.',
        examples: ['http://127.0.0.1:8090'],
      }),
  }),
]);

export const StepDocumentSchema = z
  .strictObject({
    id: z
      .string()
      .regex(STEP_ID_PATTERN)
      .meta({
        description:
          'Unique step id: letters, digits, "_" and "-". Other steps refer to it in dependencies and templates.',
        examples: ['fetch-user'],
      }),
    name: z.string().optional().meta({ description: 'A human-readable name.' }),
    description: z.string().optional().meta({ description: 'What the step does.' }),
    agent: AgentRef.optional().meta({
      description:
        'The agent that runs the step: its id, or {id, version, config}. Exactly one of agent and wait.',
      examples: ['@orchestr8/echo', { id: '@orchestr8/sleep', version: '^1.0.0' }],
    }),
    input: z
      .unknown()
      .optional()
      .meta({
        description: `The agent's input: any JSON; absent means {}. ${TEMPLATE_HELP}`,
        examples: [{ message: 'Hello ${inputs.name ?? "world"}' }],
      }),
    dependencies: z
      .array(z.string().regex(STEP_ID_PATTERN))
      .optional()
      .meta({
        description:
          'Ids of the steps that must finish before this one starts. A step may only read (in templates and conditions) steps that are upstream of it through dependencies.',
        default: [],
        examples: [['fetch-user']],
      }),
    condition: z
      .strictObject({
        if: z
          .string()
          .min(1)
          .optional()
          .meta({ description: `Run the step only when true. ${EXPRESSION_HELP}` }),
        unless: z
          .string()
          .min(1)
          .optional()
          .meta({ description: `Skip the step when true. ${EXPRESSION_HELP}` }),
      })
      .optional()
      .meta({
        description:
          'Evaluated once, when the dependencies have finished and before the step (and any forEach) starts. A step whose condition is not met is skipped.',
        examples: [{ if: 'steps.search.output.count > 0 and inputs.mode == "deep"' }],
      }),
    trigger: z.enum(['all_succeeded', 'all_done']).optional().meta({
      description:
        'When the step may start once its dependencies have finished. "all_succeeded": every dependency completed (a dependency that failed under onError "continue" counts); a dependency that was skipped or cancelled skips this step. "all_done": runs whatever its dependencies did, e.g. to join the branches of a condition; templates reading a dependency without output take their ?? default.',
      default: DEFAULTS.trigger,
    }),
    onError: z.enum(['fail', 'continue', 'fallback']).optional().meta({
      description:
        'What a failure (after retries) does: "fail" fails the workflow; "continue" records the failure and lets the workflow go on (dependents still run and can read steps.<id>.status and steps.<id>.error); "fallback" runs fallbackStepId instead.',
      default: DEFAULTS.onError,
    }),
    fallbackStepId: z.string().regex(STEP_ID_PATTERN).optional().meta({
      description:
        'Required when onError is "fallback": the step run in place of this one when it fails; its output is used as this step\'s output. A fallback step never runs on its own, may serve one step only, and its dependencies must be this step or upstream of it.',
    }),
    policies: StepPoliciesSchema.optional().meta({
      description:
        "This step's timeout, retry, circuitBreaker and idempotencyKey; each overrides the workflow's.",
    }),
    output: z
      .strictObject({
        capture: z
          .string()
          .min(1)
          .optional()
          .meta({
            description:
              'A path into the agent\'s output selecting the part to keep as this step\'s output, e.g. "result" or "data.items[0]". Without it the whole output is kept.',
            examples: ['result', 'data.items[0]'],
          }),
        schema: JsonSchemaObject.optional().meta({
          description: "A JSON Schema (2020-12) the step's output (after capture) must satisfy.",
          examples: [{ type: 'object', required: ['result'] }],
        }),
      })
      .optional()
      .meta({ description: 'What to keep of the agent output, and its expected shape.' }),
    forEach: z
      .strictObject({
        items: z.union([z.string().min(1), z.array(z.unknown())]).meta({
          description:
            'The array to iterate: a literal array, or one template such as "${steps.list.output.items}" or "${inputs.urls}". The step runs once per item, with ${item} and ${index} available in its input and idempotencyKey; its output is the array of the per-item outputs, in order.',
          examples: ['${steps.search.output.results}', [1, 2, 3]],
        }),
        concurrency: z.number().int().min(1).optional().meta({
          description:
            'How many items run at once. Defaults to 1: items run one after another, in order. The step as a whole takes one slot of the workflow maxConcurrentSteps; its items are bounded by this value only.',
          default: DEFAULTS.forEachConcurrency,
        }),
      })
      .optional()
      .meta({ description: 'Run the step once per item of an array.' }),
    queue: z
      .string()
      .regex(QUEUE_PATTERN)
      .optional()
      .meta({
        description: 'The queue this step is placed on; workers take steps from the queues they serve.',
        examples: ['gpu'],
      }),
    wait: WaitSchema.optional().meta({
      description:
        'Instead of an agent: wait for a time, an event or a human decision. Exactly one of agent and wait.',
    }),
  })
  .meta({ id: 'Step', description: 'One unit of work: an agent called with an input, or a wait.' });
