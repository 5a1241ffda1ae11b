// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
// The document model of flow control: a trigger's, and that of POST /workflows/execute (policies.flow).
import { z } from 'zod';
import { PositiveDuration } from './document-primitives.js';

export const TRIGGER_TEMPLATE_HELP =
  'Strings may contain templates over what fired the trigger: ${trigger.name}, ${trigger.kind}, ' +
  '${trigger.time} (ISO-8601 fire time of a schedule, or receipt time), ${trigger.timestamp} (epoch ms), ' +
  '${trigger.body.<path>}, ${trigger.headers.<lower-case name>}, ${trigger.query.<name>}, ${trigger.deliveryId} ' +
  '(webhooks), ${trigger.event.name|id|data.<path>} (events), ${trigger.batch} (the batched firings), and ' +
  '${variables.<path>}; each may end with "?? <JSON literal>".';

export const FlowControlSchema = z
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
        limit: z.number().int().min(1).meta({
          description: 'Firings admitted (started, or queued to start) per window and key, at most.',
        }),
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
export const ExecuteFlowSchema = z
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
        limit: z.number().int().min(1).meta({
          description: 'Firings admitted (started, or queued to start) per window and key, at most.',
        }),
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
