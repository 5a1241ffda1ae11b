// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" in strings is orchestr8 template syntax, not a JS template
// The document model of a step's `wait`: a timer, a time, events or a human approval, instead of an agent.
import { z } from 'zod';
import { EXPRESSION_HELP, JsonSchemaObject, PositiveDuration, TEMPLATE_HELP } from './document-primitives.js';

export const WaitEventSchema = z
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

export const WaitSchema = z
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
