/**
 * Routes the server serves only when its host mounts another package's router
 * (`createServer({ routers })`; `orchestr8 serve` always mounts @orchestr8/triggers', and
 * @orchestr8/mcp's). Each operation says so with `x-orchestr8-router`, so the server's own
 * route test tells them apart, and each package's test checks that its router serves exactly
 * these. A router that passes its own contracts (`ExtraRouter.contracts`) replaces these.
 */
import { z } from 'zod';
import { defineRoute, forbidden, json, problem, shared } from './contract.js';

const triggerTags = ['Triggers'];
const router = 'triggers';
const TriggerParams = z.object({ workflow: z.string(), name: z.string().describe('The trigger name') });

const Outcome = z
  .object({
    status: z.enum(['started', 'queued', 'debounced', 'batched', 'dropped', 'failed']),
    executionId: z.string().optional(),
    created: z.boolean().optional(),
    reason: z.enum(['rate_limited', 'queue_full', 'skipped']).optional(),
    error: z.string().optional(),
    code: z
      .string()
      .optional()
      .describe('With `failed`: the error code, when the error carries one (e.g. EXPRESSION)'),
  })
  .describe(
    'What a firing led to: `started` (an execution; `created: false` when its idempotency key matched an earlier one), ' +
      '`queued` (per-key concurrency limit reached), `debounced`, `batched`, `dropped` (`reason`: rate_limited, ' +
      'queue_full, skipped by the overlap policy) or `failed` (inputs or keys could not be rendered, or the start failed).',
  );

const notFound = { '404': problem('No active trigger of that name on that workflow (NOT_FOUND)') };

export const deliverWebhook = defineRoute({
  method: 'post',
  path: '/hooks/:workflow/:name',
  operationId: 'deliverWebhook',
  summary: 'Deliver a webhook: starts the workflow with the request as input',
  tags: triggerTags,
  router,
  description:
    'Served before API-key auth and rate limiting: a signed webhook (`signature` in the trigger) authenticates by ' +
    'its HMAC-SHA256 signature of the raw body, hex, optionally `sha256=`-prefixed, in the configured header ' +
    '(default `X-Hub-Signature-256`, as GitHub sends); an unsigned one needs an API key when the server has keys. ' +
    'The body (JSON when the content type says so, else text), headers and query are `${trigger.body}`, ' +
    '`${trigger.headers}` and `${trigger.query}`; without an input mapping the body is the inputs. A delivery id ' +
    '(the `dedupeHeader`, else for the `stripe` scheme the event `id` in the signed body, else `Idempotency-Key`) is ' +
    'remembered for 7 days: a replay answers 200 and starts nothing; a replay while the first is still being ' +
    'processed answers 409 (retry it); a delivery answered 429 or 422 is not remembered. ' +
    'Executions carry the correlation id `trigger:<name>#<delivery id>` (or `@<arrival time>` without one).',
  security: [{}, { bearer: [] }, { apiKey: [] }],
  params: TriggerParams,
  // Any body, in any media type: the raw bytes are what the signature covers.
  body: { schema: z.unknown(), json: false, mediaTypes: ['*/*'] },
  responses: {
    '200': json(
      'A delivery id seen before: nothing started',
      z.object({ duplicate: z.literal(true).optional(), deliveryId: z.string().optional() }),
    ),
    '202': json(
      'Accepted: the outcome of the firing',
      z.intersection(Outcome, z.object({ deliveryId: z.string().optional() })),
    ),
    '401': problem(
      'SIGNATURE_INVALID: the signature does not match the body; or UNAUTHORIZED: an unsigned webhook without an API key',
    ),
    '404': problem('No webhook trigger of that name on that workflow (NOT_FOUND)'),
    '409': problem(
      'CONFLICT: the same delivery is still being processed; retry it (Retry-After), as it may yet be refused',
    ),
    '413': shared('PayloadTooLarge'),
    '422': problem('The firing failed (its inputs could not be rendered, or the start failed)'),
    '429': problem('The firing was dropped by its rate limit or a full queue'),
    '503': problem(
      'TRIGGER_UNAVAILABLE: the trigger is paused, or its signing secret is not granted (--allow-env) or not set',
    ),
  },
});

export const listTriggers = defineRoute({
  method: 'get',
  path: '/triggers',
  operationId: 'listTriggers',
  summary: 'The active triggers',
  tags: triggerTags,
  router,
  description:
    'The triggers of the newest registered version of each workflow: kind, schedule (cron or interval, ' +
    'timezone, overlap and catch-up policies), next and last fire time (epoch ms), paused, and in-process ' +
    'flow-control counts. `orchestr8 triggers list` prints it.',
  responses: {
    '200': json(
      'The triggers',
      z.object({
        items: z.array(
          z.object({
            workflowId: z.string(),
            workflowVersion: z.string(),
            name: z.string(),
            kind: z.enum(['schedule', 'webhook', 'event']),
            paused: z.boolean(),
            schedule: z
              .object({
                cron: z.string().optional(),
                everyMs: z.number().int().optional(),
                timezone: z.string().optional(),
                overlap: z.enum(['skip', 'bufferOne', 'allowAll', 'cancelRunning']).optional(),
                catchUp: z.enum(['none', 'last', 'all']).optional(),
              })
              .optional(),
            nextFireAt: z.number().int().optional().describe('Epoch ms; absent when paused'),
            lastFireAt: z.number().int().optional().describe('Epoch ms of the newest occurrence handled'),
            event: z.string().optional(),
            signed: z.boolean().optional(),
            running: z.number().int().optional(),
            queued: z.number().int().optional(),
            dropped: z.number().int().optional(),
            failed: z
              .number()
              .int()
              .optional()
              .describe(
                'Firings that started nothing because of an error (inputs or keys not rendered, the start failed), in this process',
              ),
          }),
        ),
      }),
    ),
  },
});

const ok = z.object({ ok: z.literal(true).optional() });

export const pauseTrigger = defineRoute({
  method: 'post',
  path: '/triggers/:workflow/:name/pause',
  operationId: 'pauseTrigger',
  summary: 'Pause a trigger',
  tags: triggerTags,
  router,
  description:
    'Paused schedules skip their occurrences, paused webhooks answer 503 and paused event triggers ignore events. ' +
    'Stored with the trigger state, so it outlives a restart.',
  params: TriggerParams,
  responses: { ...notFound, '200': json('Paused', ok) },
});

export const resumeTrigger = defineRoute({
  method: 'post',
  path: '/triggers/:workflow/:name/resume',
  operationId: 'resumeTrigger',
  summary: 'Resume a trigger',
  tags: triggerTags,
  router,
  description: 'Occurrences that fell due while the trigger was paused are not caught up.',
  params: TriggerParams,
  responses: { ...notFound, '200': json('Resumed', ok) },
});

export const runTrigger = defineRoute({
  method: 'post',
  path: '/triggers/:workflow/:name/run',
  operationId: 'runTrigger',
  summary: 'Fire a trigger now',
  tags: triggerTags,
  router,
  description:
    "As if it had fired now: the trigger's flow control applies; a schedule's overlap policy does not. The " +
    'execution carries the correlation id `trigger:<name>@<now>`.',
  params: TriggerParams,
  responses: { ...notFound, '200': json('The outcome of the firing', Outcome) },
});

export const backfillTrigger = defineRoute({
  method: 'post',
  path: '/triggers/:workflow/:name/backfill',
  operationId: 'backfillTrigger',
  summary: 'Fire the occurrences of a schedule in a range',
  tags: triggerTags,
  router,
  description:
    'Fires each occurrence of the schedule in [from, to], oldest first, with its overlap policy applied. An occurrence ' +
    'that already ran (same idempotency key `trigger:<workflow>:<name>:<epoch ms>`) is not started again.',
  params: TriggerParams,
  body: { schema: z.object({ from: z.iso.datetime(), to: z.iso.datetime() }), required: true },
  responses: {
    ...notFound,
    '200': json(
      'Each occurrence with its outcome',
      z.object({
        occurrences: z.array(z.intersection(Outcome, z.object({ time: z.iso.datetime().optional() }))),
      }),
    ),
    '422': problem('Not a schedule, or `from`/`to` missing, not ISO-8601, or from > to (VALIDATION)'),
  },
});

export const triggerContracts = [
  deliverWebhook,
  listTriggers,
  pauseTrigger,
  resumeTrigger,
  runTrigger,
  backfillTrigger,
];

const mcpTags = ['MCP'];

export const mcp = defineRoute({
  method: 'post',
  path: '/mcp',
  operationId: 'mcp',
  summary: 'MCP over streamable HTTP (stateless)',
  tags: mcpTags,
  router: 'mcp',
  description:
    'The Model Context Protocol (JSON-RPC 2.0): tools for the exposed workflows (`orchestr8 serve --mcp-expose`) and ' +
    'generic tools to start, follow, list and cancel executions, read journals, validate documents and decide ' +
    'approvals; resources for workflow documents and journals. Stateless: no session is kept between requests. ' +
    'Send `Accept: application/json, text/event-stream`.',
  body: { schema: z.looseObject({}).describe('A JSON-RPC request or notification'), required: true },
  responses: {
    '200': json('The JSON-RPC response', z.looseObject({})),
    '202': { description: 'A notification was accepted' },
  },
});

export const ask = defineRoute({
  method: 'post',
  path: '/ask',
  operationId: 'ask',
  summary: 'Plan a workflow from a sentence',
  tags: mcpTags,
  router: 'mcp',
  description:
    "Served with `orchestr8 serve --ask`. Plans a workflow document from `request` with the server's LLM provider and " +
    'agents, validates it (validation errors go back to the LLM for up to 2 repairs) and checks it against the ' +
    "operator's capabilities; with `run: true`, starts it with `inputs`.",
  body: {
    schema: z.strictObject({
      request: z.string().min(1).max(4000),
      run: z.boolean().default(false),
      inputs: z.looseObject({}).optional(),
    }),
    required: true,
  },
  responses: {
    '200': json(
      'The plan',
      z.object({
        plan: z.looseObject({}).describe('The workflow document'),
        repairs: z.number().int(),
        text: z.string().describe('Its steps and graph, as text'),
      }),
    ),
    '202': json(
      'The plan, and the execution it started (`run: true`)',
      z.object({
        plan: z.looseObject({}).optional(),
        repairs: z.number().int().optional(),
        text: z.string().optional(),
        execution: z
          .object({
            executionId: z.string().optional(),
            status: z.string().optional(),
            location: z.string().optional(),
          })
          .optional(),
      }),
    ),
    '403': forbidden(
      'CAPABILITY_DENIED: the plan asks for more than the operator grants (`problems` lists each ask)',
    ),
    '400': problem('INVALID_JSON: the body is not JSON'),
    '413': shared('PayloadTooLarge'),
    '422': problem('A bad body, or no valid plan after the repairs (VALIDATION, with errors)'),
    '502': problem(
      "PLANNER_FAILED: the LLM could not be asked (no provider or key, or its endpoint failed); `cause.code` is the error's own code",
    ),
  },
});

export const mcpContracts = [mcp, ask];

// @orchestr8/streams (`orchestr8 serve --stream`): events in, actions out as SSE, status.
const streamTags = ['Streams'];
const StreamParams = z.object({ id: z.string().describe('The stream id') });
const StreamEvent = z.object({
  id: z.string().describe('1 to 128 letters, digits, "_", ".", ":" or "-"; a repeated id is a duplicate'),
  ts: z
    .union([z.number().int(), z.string()])
    .describe('Epoch milliseconds or an ISO-8601 time: decides the slice'),
  kind: z.string().describe("One of the stream's event kinds; the payload is checked against its schema"),
  stream: z.string().optional().describe('The stream id (default: the one in the path)'),
  payload: z.unknown().optional(),
});
const StreamStatus = z
  .looseObject({
    stream: z.string(),
    committedSlice: z.number().int(),
    closedSlice: z.number().int(),
    backlog: z.number().int(),
    lagMs: z.number(),
    processors: z.array(z.looseObject({ processor: z.string(), state: z.string(), stale: z.boolean() })),
  })
  .describe('The processor: slices, counts, per-crew timings, and the heartbeats of its processors');

export const postStreamEvents = defineRoute({
  method: 'post',
  path: '/streams/:id/events',
  operationId: 'postStreamEvents',
  summary: 'Append events to a stream',
  tags: streamTags,
  router: 'streams',
  description:
    'NDJSON (`application/x-ndjson`, one event per line) or JSON (an event or an array), at most 1,000 events. Every event ' +
    'is checked before any is logged: an invalid one or a line that is not JSON refuses the request (422, `errors` with ' +
    '`index`, `line` and `pointer`). An event whose slice is already closed is late: left out, counted and reported. ' +
    'Idempotent by event id.',
  params: StreamParams,
  body: {
    schema: z.union([StreamEvent, z.array(StreamEvent)]),
    required: true,
    mediaTypes: ['application/x-ndjson'],
  },
  responses: {
    '202': json(
      'Logged: how many events, how many were duplicates of accepted ids, how many were late (and which)',
      z.object({
        accepted: z.number().int(),
        duplicates: z.number().int(),
        late: z.number().int(),
        lateIds: z.array(z.string()).optional(),
      }),
    ),
    '404': problem('No stream of that id is served here (NOT_FOUND)'),
    '413': shared('PayloadTooLarge'),
    '415': shared('UnsupportedMediaType'),
    '422': problem(
      'An event is invalid or more than the allowed skew in the future; nothing was accepted (VALIDATION, with errors)',
    ),
    '503': problem(
      'The stream could not log an event (its transport failed); the events before it were accepted, retry the request ' +
        '(RETRYABLE, with Retry-After)',
    ),
  },
});

export const streamActions = defineRoute({
  method: 'get',
  path: '/streams/:id/actions',
  operationId: 'streamActions',
  summary: "Server-Sent Events of a stream's actions",
  tags: streamTags,
  router: 'streams',
  description:
    'Each action as `event: action`, `id` the action id, `data` the action. With Last-Event-ID, first the actions published ' +
    'after that one that the server still keeps (the last 10,000, unexpired). Keep-alive comments every 15 s.',
  params: StreamParams,
  query: z.object({ lastEventId: z.string().optional() }),
  responses: {
    '200': {
      description: 'The action stream',
      content: {
        'text/event-stream': z.string().describe('SSE frames: `id`, `event: action`, `data` (the action)'),
      },
    },
    '404': problem('No stream of that id is served here (NOT_FOUND)'),
  },
});

export const listStreams = defineRoute({
  method: 'get',
  path: '/streams',
  operationId: 'listStreams',
  summary: 'The streams served here, with their status',
  tags: streamTags,
  router: 'streams',
  responses: { '200': json('The streams', z.object({ items: z.array(StreamStatus) })) },
});

export const getStream = defineRoute({
  method: 'get',
  path: '/streams/:id',
  operationId: 'getStream',
  summary: "A stream's status and processors",
  tags: streamTags,
  router: 'streams',
  params: StreamParams,
  responses: {
    '200': json('The status', StreamStatus),
    '404': problem('No stream of that id is served here (NOT_FOUND)'),
  },
});

export const streamContracts = [postStreamEvents, streamActions, listStreams, getStream];
