// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
// The document model's policies: retry, circuit breaker, a step's policies and the workflow's.
import { z } from 'zod';
import { COMPOSITIONS, DEFAULTS } from './defaults.js';
import { ExecuteFlowSchema } from './document-flow-control.js';
import { Duration, PositiveDuration, TEMPLATE_HELP } from './document-primitives.js';

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
export const StepPoliciesSchema = z
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

export const WorkflowPoliciesSchema = z
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
