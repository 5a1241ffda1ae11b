// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
// The document model of a trigger: a schedule, a webhook or an event that starts the workflow on its own.
import { z } from 'zod';
import { FlowControlSchema, TRIGGER_TEMPLATE_HELP } from './document-flow-control.js';
import { EXPRESSION_HELP, PositiveDuration } from './document-primitives.js';
import { ENV_NAME_PATTERN, STEP_ID_PATTERN } from './patterns.js';

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
