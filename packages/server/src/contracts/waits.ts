/** Waits and events: send an event, signal an execution, list and decide approvals, follow events. */
import { z } from 'zod';
import { ExecutionIdParams, IdempotencyKey, idempotentReplayed, LastEventId } from './common.js';
import {
  component,
  defineRoute,
  forbidden,
  header,
  json,
  problem,
  queryInt,
  queryString,
  shared,
} from './contract.js';

const tags = ['Waits and events'];
const nonEmpty = 'must be a non-empty string';
const text = () => z.string({ error: nonEmpty }).min(1, nonEmpty);

export const EventDelivery = component(
  'EventDelivery',
  z.object({
    id: z.string().describe('The delivery id (given, or assigned)'),
    accepted: z.boolean().describe('False when this name and id were delivered before: nothing happened'),
    woken: z.number().int().describe('Waits this event ended (or, for `all`, advanced)'),
    triggers: z
      .array(z.looseObject({}))
      .optional()
      .describe('With @orchestr8/triggers: the event triggers it matched'),
  }),
);

export const ApprovalList = component(
  'ApprovalList',
  z.object({
    items: z.array(
      z.object({
        executionId: z.string(),
        stepId: z.string(),
        workflowId: z.string(),
        title: z.string(),
        description: z.string().optional(),
        form: z.looseObject({}).optional().describe('The JSON Schema of the form'),
        approvers: z.array(z.string()).optional(),
        dueAt: z.iso.datetime().optional().describe('When the wait times out'),
        createdAt: z.iso.datetime(),
      }),
    ),
    nextCursor: z
      .string()
      .optional()
      .describe('Pass as `cursor` for the next page; absent on the last page.'),
  }),
);

export const DecisionRequest = component(
  'DecisionRequest',
  z.object({
    by: text().optional().describe('Who decides (checked against the approvers)'),
    data: z.unknown().optional().describe('The form data (approve)'),
    comment: text().optional(),
  }),
);

export const DecisionAccepted = component(
  'DecisionAccepted',
  z
    .object({
      executionId: z.string(),
      stepId: z.string(),
      decision: z.enum(['approved', 'rejected']),
      by: z.string().optional(),
      decidedAt: z.iso.datetime(),
    })
    .describe('What the decision did; a repeat with the same Idempotency-Key gets this same answer.'),
);

export const emitEvent = defineRoute({
  method: 'post',
  path: '/events',
  operationId: 'emitEvent',
  summary: 'Send an event: wakes the waits it matches, and starts event triggers',
  tags,
  description:
    'Delivers the event to every waiting step whose `wait` listens for its `name` and whose `match` holds, and keeps it ' +
    'in the inbox for the look-back window (default 5 minutes), so a wait that registers just after it still takes it. ' +
    'The `id` (else the Idempotency-Key header, else one the server assigns) makes delivery idempotent: the same name and ' +
    'id again is `accepted: false` and wakes nothing. With an Idempotency-Key, the same key and request again get the ' +
    "first delivery's answer (`Idempotent-Replayed: true`, remembered as long as execute keys), and the key reused " +
    'for a different request is 422 IDEMPOTENCY_KEY_REUSED. When the host mounts @orchestr8/triggers, the event also starts each ' +
    'active `event` trigger whose `name` matches and whose `condition` holds (`triggers` in the response); the `payload` ' +
    '(or `data`) is what the trigger sees as its data.',
  headers: [IdempotencyKey],
  body: {
    schema: z.object({
      name: text(),
      id: text().optional(),
      payload: z.unknown().optional().describe('What waits read as event.payload'),
      data: z
        .unknown()
        .optional()
        .describe('The payload under the name event triggers use (when payload is absent)'),
    }),
    required: true,
    missing: 'an event needs a "name"',
  },
  responses: {
    '202': json('What the event did (a repeat of an Idempotency-Key: the first answer)', EventDelivery, {
      'Idempotent-Replayed': idempotentReplayed,
    }),
    '400': problem('The body is not a JSON object, or has no `name`'),
    '413': shared('PayloadTooLarge'),
    '422': problem('The Idempotency-Key was used for a different event (IDEMPOTENCY_KEY_REUSED)'),
  },
});

export const signalExecution = defineRoute({
  method: 'post',
  path: '/executions/:id/signals/:name',
  operationId: 'signalExecution',
  summary: 'Signal one execution',
  tags,
  description:
    'An event for this execution only: its steps waiting for an event of this name (and whose match holds) take it. ' +
    'Kept in the inbox for the look-back window like any event. The same `id` (or Idempotency-Key) again does ' +
    'nothing and gets the first answer (remembered as long as execute keys); with another payload it is 422 ' +
    'IDEMPOTENCY_KEY_REUSED.',
  params: z.object({ id: z.string(), name: z.string() }),
  headers: [IdempotencyKey],
  body: { schema: z.object({ id: text().optional(), payload: z.unknown().optional() }) },
  responses: {
    '202': json('What the signal did (a repeat of an id: the first answer)', EventDelivery),
    '400': problem('Malformed body'),
    '404': problem('No such execution'),
    '422': problem('The id or Idempotency-Key was used for a different signal (IDEMPOTENCY_KEY_REUSED)'),
  },
});

export const listApprovals = defineRoute({
  method: 'get',
  path: '/approvals',
  operationId: 'listApprovals',
  summary: 'Pending approvals',
  tags,
  description:
    'Steps waiting for a decision (`wait.approval`), oldest first, with their rendered title and form schema: one ' +
    'page of at most `limit` (default 50). When there are more, the body has `nextCursor` and a `Link` header ' +
    'names the next page (`rel="next"`); the cursor is a position (keyset), so an approval decided meanwhile ' +
    'shifts nothing: each one still pending is listed once.',
  query: z.object({
    limit: queryInt(1, 1000).default(50),
    cursor: queryString().optional().describe('nextCursor of the previous page'),
  }),
  responses: {
    '200': json('A page of pending approvals', ApprovalList, {
      Link: header('rel="next" when there are more'),
    }),
    '400': problem('Bad limit or cursor (the problem names it)'),
  },
});

const StepParams = z.object({ id: z.string(), step: z.string() });
const decisionResponses = (conflict422: string) => ({
  '202': json('Decided', DecisionAccepted),
  '400': problem('Malformed body'),
  '403': forbidden('CAPABILITY_DENIED: `by` is not among the step approvers'),
  '404': problem('The step is not waiting for a decision'),
  '409': problem('Already decided, or the step no longer waits: the detail names its status (CONFLICT)'),
  '422': problem(conflict422),
});

export const approveStep = defineRoute({
  method: 'post',
  path: '/executions/:id/steps/:step/approve',
  operationId: 'approveStep',
  summary: 'Approve an approval step',
  tags,
  description:
    "The form data is validated against the step's form schema: 422 naming the field when it does not satisfy it. " +
    'The step completes with `{approved: true, by, data}` and the execution continues. A step already decided is 409. ' +
    'With an Idempotency-Key, a repeat gets the first answer (also once the step has moved on); the key used for ' +
    'another decision is 422 IDEMPOTENCY_KEY_REUSED.',
  params: StepParams,
  headers: [IdempotencyKey],
  body: { schema: DecisionRequest },
  responses: decisionResponses(
    'The form data does not satisfy the form (VALIDATION; `errors` points at the field), or the Idempotency-Key ' +
      'was used for another decision (IDEMPOTENCY_KEY_REUSED)',
  ),
});

export const rejectStep = defineRoute({
  method: 'post',
  path: '/executions/:id/steps/:step/reject',
  operationId: 'rejectStep',
  summary: 'Reject an approval step',
  tags,
  description:
    'The step fails with code REJECTED (its onError decides what follows: `continue` lets dependents branch on ' +
    '`steps.<id>.error.code`). A step already decided is 409. With an Idempotency-Key, a repeat gets the first ' +
    'answer; the key used for another decision is 422 IDEMPOTENCY_KEY_REUSED.',
  params: StepParams,
  headers: [IdempotencyKey],
  body: { schema: DecisionRequest },
  responses: decisionResponses('The Idempotency-Key was used for another decision (IDEMPOTENCY_KEY_REUSED)'),
});

const sse = (description: string) => ({
  description,
  content: {
    'text/event-stream': z
      .string()
      .describe('SSE frames: `id`, `event` (the event type) and `data` (a JournalEntry as JSON).'),
  },
});

export const executionEvents = defineRoute({
  method: 'get',
  path: '/executions/:id/events',
  operationId: 'executionEvents',
  summary: 'Server-Sent Events of one execution',
  tags,
  description:
    'Replays the journal after Last-Event-ID (a journal seq), then streams live events; each event `id` is its seq, so a reconnect ' +
    'with Last-Event-ID loses and repeats nothing. Ends after the terminal event. Keep-alive comments every 15 s.',
  params: ExecutionIdParams,
  query: z.object({ lastEventId: queryString().optional() }),
  headers: [LastEventId],
  responses: {
    '200': sse('The event stream'),
    '400': problem('Last-Event-ID is not a sequence number'),
    '404': problem('No such execution'),
  },
});

export const allEvents = defineRoute({
  method: 'get',
  path: '/events',
  operationId: 'allEvents',
  summary: 'Server-Sent Events of every execution',
  tags,
  description:
    'Live events of all executions. Event ids are `<bootId>-<n>`, a counter local to the server process; a reconnect with ' +
    'Last-Event-ID replays what the server still buffers (the last 10,000 events by default). When it cannot (another process, ' +
    'or too old), an event `gap` (without id) says so first. Never ends on its own.',
  query: z.object({ lastEventId: queryString().optional(), workflowId: queryString().optional() }),
  headers: [LastEventId],
  responses: { '200': sse('The event stream') },
});

export const waitContracts = [emitEvent, signalExecution, listApprovals, approveStep, rejectStep];
export const eventContracts = [executionEvents, allEvents];
