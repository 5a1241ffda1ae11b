// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
import { z } from 'zod';
import { COMPOSITIONS, DEFAULTS } from './defaults.js';
import { DURATION_PATTERN, POSITIVE_DURATION_PATTERN } from './duration.js';
import {
  AGENT_ID_PATTERN,
  ENV_NAME_PATTERN,
  QUEUE_PATTERN,
  SEMVER_PATTERN,
  STEP_ID_PATTERN,
  WORKFLOW_ID_PATTERN,
} from './patterns.js';

/**
 * The workflow document model in zod. This is the single source of the TypeScript types
 * and of the published JSON Schema (`schema/workflow.schema.json` is generated from it by
 * `scripts/generate-json-schema.ts`). Defaults are annotations here (`meta.default`), not
 * zod `.default()`s: a document keeps exactly what its author wrote, and compileWorkflow
 * applies the same DEFAULTS.
 */

export {
  AGENT_ID_PATTERN,
  ENV_NAME_PATTERN,
  QUEUE_PATTERN,
  SEMVER_PATTERN,
  STEP_ID_PATTERN,
  WORKFLOW_ID_PATTERN,
} from './patterns.js';

const TEMPLATE_HELP =
  'Strings may contain templates: ${steps.<id>.output.<path>}, ${steps.<id>.status}, ${steps.<id>.error.code}, ' +
  '${inputs.<path>}, ${variables.<path>}, ${env.<NAME>} (names on context.environment only), ${secrets.<NAME>} ' +
  '(names in context.secretRefs), and inside a forEach step ${item}, ${item.<path>} and ${index}. Each may end ' +
  'with a "?? <JSON literal>" default used when the value is missing or null. A string that is exactly one ' +
  'template yields the value with its type; a template inside a longer string is stringified (objects as ' +
  'JSON). Paths index arrays as items[0] or items.0. "$${" writes a literal "${".';

const EXPRESSION_HELP =
  'A filtrex expression (https://github.com/cshaa/filtrex), optionally wrapped as ${ ... }. Names are dotted ' +
  'paths into steps.<id>.output|status|error, inputs, variables, env, secrets; a missing name is undefined. ' +
  'Operators: == != < <= > >= and or not in "not in" + - * / mod, if..then..else, exists(x), empty(x). ' +
  'Strings are double-quoted; single quotes name a path with unusual characters, e.g. ' +
  "'steps.fetch-a.output.count' > 0. and/or/not need booleans: use exists(x) or comparisons.";

const Duration = z.union([z.number().min(0), z.string().regex(DURATION_PATTERN)]).meta({
  id: 'Duration',
  description:
    'A duration: a number of milliseconds, or a string with a unit: "500ms", "30s", "5m", "1h", "3d" (a day is 24 hours).',
  examples: [500, '30s', '5m'],
});

const PositiveDuration = z.union([z.number().gt(0), z.string().regex(POSITIVE_DURATION_PATTERN)]).meta({
  id: 'PositiveDuration',
  description:
    'A duration greater than zero: a number of milliseconds, or a string with a unit: "500ms", "30s", "5m", "1h", "3d" (a day is 24 hours).',
  examples: [5000, '30s', '5m'],
});

const JsonSchemaObject = z.record(z.string(), z.unknown());

export const RetryPolicySchema = z
  .strictObject({
    maxAttempts: z.number().int().min(1).optional().meta({
      description: 'Attempts in total, including the first. 1 disables retrying.',
      default: DEFAULTS.retry.maxAttempts,
    }),
    baseDelayMs: Duration.optional().meta({
      description: 'Delay before the first retry; later delays grow by `multiplier`.',
      default: DEFAULTS.retry.baseDelayMs,
    }),
    maxDelayMs: Duration.optional().meta({
      description: 'Upper bound of any single delay between attempts.',
      default: DEFAULTS.retry.maxDelayMs,
    }),
    multiplier: z.number().min(1).optional().meta({
      description:
        'Exponential backoff factor: delay n = baseDelayMs * multiplier^(n-1), capped at maxDelayMs.',
      default: DEFAULTS.retry.multiplier,
    }),
    jitter: z.enum(['full', 'none']).optional().meta({
      description:
        '"full": each delay is random between 0 and the computed delay; "none": exactly the computed delay.',
      default: DEFAULTS.retry.jitter,
    }),
    retryOn: z
      .array(z.string().min(1))
      .optional()
      .meta({
        description:
          'Error codes that are retried. Any other code (VALIDATION, CIRCUIT_OPEN, TERMINAL, ...) fails at once.',
        default: [...DEFAULTS.retry.retryOn],
        examples: [['TIMEOUT', 'NETWORK', 'HTTP_5XX']],
      }),
  })
  .meta({
    id: 'RetryPolicy',
    description:
      'Retry with exponential backoff. Fields left out take the workflow value, then the default. Always active (with the defaults) unless maxAttempts is 1.',
  });

export const CircuitBreakerPolicySchema = z
  .strictObject({
    failureThreshold: z.number().int().min(1).optional().meta({
      description: 'Consecutive failures that open the circuit.',
      default: DEFAULTS.circuitBreaker.failureThreshold,
    }),
    resetTimeoutMs: PositiveDuration.optional().meta({
      description: 'How long the circuit stays open before one trial call is let through (half-open).',
      default: DEFAULTS.circuitBreaker.resetTimeoutMs,
    }),
  })
  .meta({
    id: 'CircuitBreakerPolicy',
    description:
      'Stop calling an agent that keeps failing. Circuits are keyed by agent and target at run time. Only active when `circuitBreaker` appears in the workflow or step policies (an empty object enables it with the defaults).',
  });

const AgentRef = z.union([
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

const StepPoliciesSchema = z
  .strictObject({
    timeout: PositiveDuration.optional().meta({
      description:
        'Time limit of one attempt of this step. Overrides policies.timeout.perStep of the workflow. No default: no limit.',
    }),
    retry: RetryPolicySchema.optional().meta({
      description: "Overrides the workflow's resilience.retry field by field.",
    }),
    circuitBreaker: CircuitBreakerPolicySchema.optional().meta({
      description:
        "Overrides the workflow's resilience.circuitBreaker field by field; enables circuit breaking for this step.",
    }),
    idempotencyKey: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: `A template whose rendered value identifies this step's effect, passed to the agent so that a retried or replayed call is not applied twice. ${TEMPLATE_HELP}`,
        examples: ['order-${inputs.orderId}-${item.sku}'],
      }),
  })
  .meta({ description: "This step's policies; each field overrides the workflow's." });

const WaitEventSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .meta({
        description: 'The event name, as sent with POST /events or `orchestr8 send-event`.',
        examples: ['payment.received'],
      }),
    match: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: `Which events of that name wake this step: an expression over event.* (the event's payload as event.payload, its id as event.id) and the execution's data, e.g. "event.payload.orderId == inputs.orderId". Absent: any event of that name. ${EXPRESSION_HELP}`,
        examples: ['event.payload.orderId == inputs.orderId'],
      }),
  })
  .meta({
    id: 'WaitEvent',
    description: 'A named event, and the condition correlating it with this execution.',
  });

const WaitSchema = z
  .strictObject({
    timer: PositiveDuration.optional().meta({
      description: 'Wait this long after the step starts, e.g. "5m", "3d".',
      examples: ['5m', '3d'],
    }),
    until: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: `Wait until this time: an ISO-8601 date-time, or a template yielding one (or epoch ms). A time in the past continues at once. ${TEMPLATE_HELP}`,
        examples: ['2030-01-01T09:00:00Z', '${steps.order.output.shipBy}'],
      }),
    event: WaitEventSchema.optional().meta({
      description: 'Wait for one event; the step output is the event {name, id, payload, receivedAt}.',
    }),
    any: z.array(WaitEventSchema).min(1).optional().meta({
      description: 'Wait for the first of several events; the step output is that event.',
    }),
    all: z.array(WaitEventSchema).min(1).optional().meta({
      description:
        'Wait until every one of these events has arrived; the step output is the array of events, in the order listed.',
    }),
    approval: z
      .strictObject({
        title: z
          .string()
          .min(1)
          .meta({ description: `What the person is asked to decide. ${TEMPLATE_HELP}` }),
        description: z
          .string()
          .optional()
          .meta({ description: `Details for the person deciding. ${TEMPLATE_HELP}` }),
        form: JsonSchemaObject.optional().meta({
          description:
            'A JSON Schema (2020-12) of the form the person fills in; a decision whose data does not satisfy it is refused (422 naming the field). The step output is {approved, by, data}.',
          examples: [{ type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } }],
        }),
        approvers: z.array(z.string().min(1)).optional().meta({
          description:
            'Who may decide (matched against the `by` of a decision). Absent: anyone allowed to call the API.',
        }),
      })
      .optional()
      .meta({
        description:
          'A human task: approve continues with {approved: true, by, data}; reject fails the step with code REJECTED (onError: continue lets dependents branch on steps.<id>.error.code).',
      }),
    timeout: PositiveDuration.optional().meta({
      description:
        'How long to wait at most for an event or approval (a timer has its own time). Absent: no limit.',
    }),
    onTimeout: z
      .union([
        z.literal('fail'),
        z.strictObject({
          output: z
            .unknown()
            .meta({ description: `The step output used when the wait times out. ${TEMPLATE_HELP}` }),
        }),
      ])
      .optional()
      .meta({
        description:
          'What a timeout does: "fail" fails the step with code TIMEOUT; {output} completes it with that output.',
        default: 'fail',
      }),
  })
  .meta({
    id: 'Wait',
    description:
      'The step waits instead of calling an agent: exactly one of timer, until, event, any, all or approval. A waiting execution is held in the store only (status "waiting"), and resumes when the wait ends.',
  });

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

const TRIGGER_TEMPLATE_HELP =
  'Strings may contain templates over what fired the trigger: ${trigger.name}, ${trigger.kind}, ' +
  '${trigger.time} (ISO-8601 fire time of a schedule, or receipt time), ${trigger.timestamp} (epoch ms), ' +
  '${trigger.body.<path>}, ${trigger.headers.<lower-case name>}, ${trigger.query.<name>}, ${trigger.deliveryId} ' +
  '(webhooks), ${trigger.event.name|id|data.<path>} (events), ${trigger.batch} (the batched firings), and ' +
  '${variables.<path>}; each may end with "?? <JSON literal>".';

const FlowControlSchema = z
  .strictObject({
    concurrency: z
      .strictObject({
        limit: z.number().int().min(1).meta({
          description:
            'Executions of this trigger running at once per key, at most; later firings wait in a queue.',
        }),
        key: z
          .string()
          .min(1)
          .optional()
          .meta({
            description: `A template naming the key the limit applies to (absent: one key for the trigger). It may read \${inputs.<path>} (the rendered inputs) besides the trigger. ${TRIGGER_TEMPLATE_HELP}`,
            examples: ['${inputs.customerId}'],
          }),
        maxQueue: z.number().int().min(0).optional().meta({
          description: 'Firings waiting per key, at most; a firing beyond it is dropped.',
          default: 1000,
        }),
      })
      .optional()
      .meta({ description: 'A concurrency limit per key, with queueing.' }),
    debounce: PositiveDuration.optional().meta({
      description:
        'Start once after firings stop for this long, with the last firing (per key when concurrency.key or rateLimit.key is set, else per trigger).',
    }),
    batch: z
      .strictObject({
        maxMs: PositiveDuration.meta({
          description: 'Collect firings for at most this long after the first one, then start one execution.',
        }),
        maxEvents: z.number().int().min(1).optional().meta({
          description: 'Start as soon as this many firings are collected.',
          default: 100,
        }),
      })
      .optional()
      .meta({
        description:
          'Collect firings and start one execution with all of them (${trigger.batch}); its other trigger fields are those of the last firing.',
      }),
    rateLimit: z
      .strictObject({
        limit: z
          .number()
          .int()
          .min(1)
          .meta({ description: 'Executions started per window and key, at most.' }),
        per: PositiveDuration.meta({ description: 'The window, e.g. "1m".', examples: ['1m'] }),
        key: z
          .string()
          .min(1)
          .optional()
          .meta({ description: `A template naming the key (absent: one key). ${TRIGGER_TEMPLATE_HELP}` }),
      })
      .optional()
      .meta({ description: 'A rate limit per key: firings over the limit are dropped (and counted).' }),
  })
  .meta({
    id: 'FlowControl',
    description:
      'Flow control of a trigger, applied in this order: debounce or batch, rate limit, then the concurrency limit.',
  });

/** `policies.flow`: the parts of a trigger's flow control that make sense for a request answered with its execution. */
const ExecuteFlowSchema = z
  .strictObject({
    concurrency: z
      .strictObject({
        limit: z.number().int().min(1).meta({
          description:
            'Executions started by POST /workflows/execute running at once per key, at most; a request over it waits in a queue.',
        }),
        key: z
          .string()
          .min(1)
          .optional()
          .meta({
            description:
              'A template naming the key the limit applies to (absent: one key for the workflow): ${inputs.<path>}, ${variables.<path>}, each may end with "?? <JSON literal>".',
            examples: ['${inputs.customerId}'],
          }),
        maxQueue: z.number().int().min(0).optional().meta({
          description: 'Requests waiting per key, at most; a request beyond it gets 429.',
          default: 1000,
        }),
      })
      .optional()
      .meta({ description: 'A concurrency limit per key, with queueing.' }),
    rateLimit: z
      .strictObject({
        limit: z
          .number()
          .int()
          .min(1)
          .meta({ description: 'Executions started per window and key, at most.' }),
        per: PositiveDuration.meta({ description: 'The window, e.g. "1m".', examples: ['1m'] }),
        key: z.string().min(1).optional().meta({
          description: 'A template naming the key (absent: one key): ${inputs.<path>}, ${variables.<path>}.',
        }),
      })
      .optional()
      .meta({ description: 'A rate limit per key: a request over it gets 429 with Retry-After.' }),
  })
  .meta({
    id: 'ExecuteFlowControl',
    description:
      'Flow control of POST /workflows/execute: the rate limit, then the concurrency limit (a request over it waits, in arrival order per key, and is answered when its execution starts). Debounce and batch are for triggers only: a request is answered with its own execution.',
  });

const WorkflowPoliciesSchema = z
  .strictObject({
    timeout: z
      .strictObject({
        global: PositiveDuration.optional().meta({
          description: 'Time limit of the whole execution. No default: no limit.',
        }),
        perStep: PositiveDuration.optional().meta({
          description: 'Default time limit of one attempt of each step. No default: no limit.',
        }),
      })
      .optional()
      .meta({ description: 'Time limits. Absent means no limit.' }),
    resilience: z
      .strictObject({
        retry: RetryPolicySchema.optional().meta({
          description: 'Retry policy of every step; a step may override it field by field.',
        }),
        circuitBreaker: CircuitBreakerPolicySchema.optional().meta({
          description:
            'Circuit breaking for every step; a step may override it field by field. Absent: no circuit breaking (unless a step sets one).',
        }),
        composition: z
          .enum(COMPOSITIONS as [string, ...string[]])
          .optional()
          .meta({
            description:
              'How the policies wrap each attempt, outermost first. With the default, every retry attempt goes through the circuit breaker and has its own timeout.',
            default: DEFAULTS.composition,
          }),
      })
      .optional()
      .meta({ description: 'Retry and circuit-breaker policies for every step (steps may override them).' }),
    concurrency: z
      .strictObject({
        maxConcurrentSteps: z.number().int().min(1).optional().meta({
          description:
            'Steps running at the same time, at most (a forEach step counts once; its items are bounded by forEach.concurrency).',
          default: DEFAULTS.maxConcurrentSteps,
        }),
      })
      .optional()
      .meta({ description: 'Limits on parallelism.' }),
    flow: ExecuteFlowSchema.optional().meta({
      description:
        "Flow control of the executions POST /workflows/execute starts (and orchestr8 run through a server): a concurrency limit per key with a queue, and a rate limit per key, written as in a trigger's flow. Keys may read ${inputs.<path>} and ${variables.<path>}. Triggers have their own flow.",
    }),
    cancellation: z
      .strictObject({
        gracePeriodMs: Duration.optional().meta({
          description: 'After a cancellation, how long running agents get to stop before they are abandoned.',
          default: DEFAULTS.gracePeriodMs,
        }),
      })
      .optional()
      .meta({ description: 'What happens when an execution is cancelled.' }),
  })
  .meta({ description: 'Execution policies for the whole workflow.' });

export const TriggerDocumentSchema = z
  .strictObject({
    name: z
      .string()
      .regex(STEP_ID_PATTERN)
      .meta({
        description:
          'Unique trigger name: letters, digits, "_" and "-". Webhooks are served at /hooks/<workflow id>/<name>.',
        examples: ['nightly'],
      }),
    description: z.string().optional().meta({ description: 'What the trigger is for.' }),
    schedule: z
      .strictObject({
        cron: z
          .string()
          .min(1)
          .optional()
          .meta({
            description:
              'A cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first; L, W, # and names (MON, JAN) are accepted. Exactly one of cron and every.',
            examples: ['0 2 * * *', '*/30 * * * * *'],
          }),
        every: PositiveDuration.optional().meta({
          description:
            'An interval instead of a cron expression; fire times are multiples of it since 1970-01-01T00:00:00Z, so every instance and restart agrees on them.',
          examples: ['15m'],
        }),
        timezone: z
          .string()
          .min(1)
          .optional()
          .meta({
            description:
              'The IANA timezone the cron expression is read in. In a DST gap a time that does not exist is skipped; a time that occurs twice runs once.',
            default: 'UTC',
            examples: ['Europe/Berlin'],
          }),
        overlap: z.enum(['skip', 'bufferOne', 'allowAll', 'cancelRunning']).optional().meta({
          description:
            'When the previous run is still going: "skip" this occurrence; "bufferOne": run it when the previous one ends (one at most waits; later ones are skipped); "allowAll": run it alongside; "cancelRunning": cancel the running one, then run.',
          default: 'skip',
        }),
        catchUp: z
          .strictObject({
            policy: z.enum(['none', 'last', 'all']).meta({
              description:
                'Occurrences missed while no scheduler ran (seen more than the tolerance late): "none" drops them, "last" runs the latest one, "all" runs each, oldest first.',
            }),
            window: PositiveDuration.optional().meta({
              description: 'Only occurrences missed less than this long ago are caught up.',
              default: '24h',
            }),
            max: z.number().int().min(1).optional().meta({
              description: 'With "all": at most this many (the most recent) are run.',
              default: 100,
            }),
          })
          .optional()
          .meta({
            description: 'What happens to occurrences missed while the server was down.',
            default: { policy: 'none' },
          }),
      })
      .optional()
      .meta({ description: 'Start an execution on a calendar (cron) or at a fixed interval.' }),
    webhook: z
      .strictObject({
        signature: z
          .strictObject({
            secret: z
              .string()
              .regex(ENV_NAME_PATTERN)
              .meta({
                description:
                  'The name of an entry of context.secretRefs holding the signing secret (the operator must grant its variable); never the secret itself.',
                examples: ['githubSecret'],
              }),
            scheme: z.enum(['github', 'stripe']).optional().meta({
              description:
                '"github": the header holds the hex HMAC-SHA256 of the raw body, optionally prefixed "sha256=" (GitHub, and most providers). "stripe": the header is "t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>[,v1=...]" (Stripe), and t must be within tolerance of now.',
              default: 'github',
            }),
            header: z
              .string()
              .min(1)
              .optional()
              .meta({
                description:
                  'The header carrying the signature. Default: X-Hub-Signature-256 with "github", Stripe-Signature with "stripe".',
                examples: ['X-Signature'],
              }),
            tolerance: PositiveDuration.optional().meta({
              description:
                'With "stripe": how far the signed timestamp may be from now; an older (replayed) or future one gets 401.',
              default: '5m',
            }),
          })
          .optional()
          .meta({
            description:
              'Verify an HMAC-SHA256 signature (as GitHub and Stripe send): a request without a valid one gets 401 and starts nothing.',
          }),
        dedupeHeader: z
          .string()
          .min(1)
          .optional()
          .meta({
            description:
              'A header whose value identifies a delivery; a delivery seen before starts nothing new. Idempotency-Key is always honoured.',
            examples: ['X-GitHub-Delivery'],
          }),
      })
      .optional()
      .meta({ description: 'Start an execution for each POST /hooks/<workflow id>/<name>.' }),
    event: z
      .strictObject({
        name: z
          .string()
          .min(1)
          .meta({ description: 'The event name to react to (POST /events).', examples: ['order.created'] }),
        condition: z
          .string()
          .min(1)
          .optional()
          .meta({
            description: `Start only when true. ${EXPRESSION_HELP} Here names are trigger.* (e.g. trigger.event.data.amount > 100) and variables.*.`,
          }),
      })
      .optional()
      .meta({
        description: 'Start an execution for each event of a name (POST /events) matching a condition.',
      }),
    inputs: z
      .unknown()
      .optional()
      .meta({
        description: `The execution's inputs. Absent: the webhook body, the event data, or {} for a schedule. ${TRIGGER_TEMPLATE_HELP}`,
        examples: [{ day: '${trigger.time}', repo: '${trigger.body.repository.full_name ?? "unknown"}' }],
      }),
    flow: FlowControlSchema.optional().meta({
      description: 'Debounce, batching, rate and concurrency limits.',
    }),
  })
  .meta({
    id: 'Trigger',
    description: 'Something that starts this workflow on its own: exactly one of schedule, webhook or event.',
  });

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
